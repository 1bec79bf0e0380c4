// The OcspResponderPool controller against the real apiserver: what an embedded pool renders,
// certificate sources, a pod shape the apiserver refuses, and a Redis pool's scaling and
// thresholds driven by the reports its pods write (here written by the test, so every threshold
// can be crossed on a ManualClock). The pods themselves run on the real node: test/node/.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { OcspResponderPoolType, type KubeObject } from '../../src/kube/types.js';
import { canonicalSerial } from '../../src/store/index.js';
import { Manager } from '../../src/runtime/manager.js';
import { ConfigMapType, writeReport, type ConfigMap, type Report } from '../../src/pool/report.js';
import { DeploymentType, RoleBindingType, RoleType, ServiceAccountType, ServiceType, StatefulSetType } from '../../src/pool/workloads.js';
import { createNamespace, kubeClient, kubeconfigPath, putSecret, tlsSecret, waitFor, eventsAbout } from '../support/kube.js';
import { createCa, indexLine, issueLeaf, type Ca, type Issued } from '../support/pki.js';
import { createCaObjects, startPoolController } from '../support/pool-harness.js';

interface PoolObj extends KubeObject {
  status?: {
    conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
    certificates?: number;
    backlog?: number;
    revoked?: number;
    signers?: { desired?: number; ready?: number };
    responders?: { ready?: number; outOfRotation?: string[] };
    replication?: Array<{ replica: string; lagSeconds?: number; inRotation?: boolean }>;
  };
}

const client = kubeClient();
let ns: { name: string; remove(): Promise<void> };
let manager: Manager;
let ca: Ca;
let leaves: Issued[];

/** The parts of a rendered pod template these tests read. */
interface PodTemplate {
  spec: { containers: Array<{ name: string; args?: string[] }>; volumes?: Array<{ name: string }> };
}

const cond = (p: PoolObj | undefined, type: string) => p?.status?.conditions?.find((c) => c.type === type);
const getPool = (name: string) => client.get<PoolObj>(OcspResponderPoolType, ns.name, name);
const poolEvents = (name: string) => eventsAbout(client, ns.name, name);

beforeAll(async () => {
  ns = await createNamespace(client, 'pool');
  ca = await createCa({ keyAlg: 'P-256', name: 'CN=Pool CA' });
  leaves = [];
  for (let i = 0; i < 12; i++) leaves.push(await issueLeaf(ca, { dnsNames: [`p${i}.test`] }));
  await createCaObjects(client, ns.name, ca, leaves.slice(0, 10));
  manager = await startPoolController(client, ns.name);
});

afterAll(async () => {
  await manager?.stop();
  await ns?.remove();
});

// Its pods run on the real node in test/node/pools.node.test.ts (images, kubelet, Service, DNS).
describe('an embedded pool: what it renders', () => {
  it('renders its pod, ServiceAccount, Role, Service and certificate index, all owned by the pool', async () => {
    await client.create(OcspResponderPoolType, {
      apiVersion: 'ocsp-operator.dev/v1alpha1',
      kind: 'OcspResponderPool',
      metadata: { name: 'demo', namespace: ns.name },
      spec: { issuer: { secretName: 'ca' }, signing: { softwareKey: { secretName: 'ca' } }, delegatedResponder: { mode: 'None' }, sources: [{ opensslIndex: { configMapName: 'ca-db' } }] },
    } as KubeObject);
    const deployment = await waitFor('the pool Deployment', () => client.getOrUndefined<KubeObject & { spec?: { template?: PodTemplate } }>(DeploymentType, ns.name, 'demo'));
    const pool = await getPool('demo');
    for (const [type, name] of [[ServiceAccountType, 'demo'], [RoleType, 'demo'], [RoleBindingType, 'demo'], [ServiceType, 'demo'], [ConfigMapType, 'demo-index']] as const) {
      const o = await client.get<KubeObject>(type, ns.name, name);
      expect(o.metadata?.ownerReferences?.[0]?.uid, `${type.kind} ${name}`).toBe(pool.metadata?.uid);
    }
    expect(deployment.metadata?.ownerReferences?.[0]?.uid).toBe(pool.metadata?.uid);
    const index = await client.get<ConfigMap>(ConfigMapType, ns.name, 'demo-index');
    expect(index.data?.['index.txt']?.trim().split('\n')).toHaveLength(10);
    expect(deployment.spec?.template?.spec.containers.map((c) => c.name)).toEqual(['signer', 'responder']);
  });
});

describe('certificate sources', () => {
  it('cluster Secrets that chain to the issuer, and only those, join the index; a revocation of an unknown serial is said', async () => {
    const other = await createCa({ keyAlg: 'P-256', name: 'CN=Someone Else CA' });
    const mine = await issueLeaf(ca, { dnsNames: ['mine.test'] });
    const theirs = await issueLeaf(other, { dnsNames: ['theirs.test'] });
    await putSecret(client, tlsSecret(ns.name, 'mine-tls', { certPem: mine.chainPem, keyPem: mine.keyPem }));
    await putSecret(client, tlsSecret(ns.name, 'theirs-tls', { certPem: theirs.chainPem, keyPem: theirs.keyPem }));
    await client.create(OcspResponderPoolType, {
      apiVersion: 'ocsp-operator.dev/v1alpha1',
      kind: 'OcspResponderPool',
      metadata: { name: 'fromsecrets', namespace: ns.name },
      spec: {
        issuer: { secretName: 'ca' },
        signing: { softwareKey: { secretName: 'ca' } },
        sources: [{ clusterSecrets: { namespaces: [ns.name] } }],
        revocations: [{ serial: 'DEADBEEF', time: '2026-01-01T00:00:00Z', reason: 'superseded' }],
      },
    } as KubeObject);
    const index = await waitFor('the generated index', async () => (await client.getOrUndefined<ConfigMap>(ConfigMapType, ns.name, 'fromsecrets-index'))?.data?.['index.txt']);
    const serials = index.trim().split('\n').map((l) => canonicalSerial(l.split('\t')[3] ?? ''));
    expect(serials).toContain(canonicalSerial(mine.serial));
    expect(serials).not.toContain(canonicalSerial(theirs.serial));
    expect(serials).not.toContain(canonicalSerial(ca.cert.serialNumber)); // the CA's own Secret is in scope too
    const p = await waitFor('SourcesReadable', async () => {
      const x = await getPool('fromsecrets');
      return cond(x, 'SourcesReadable') ? x : undefined;
    });
    expect(cond(p, 'SourcesReadable')).toMatchObject({ status: 'False', reason: 'SourceProblem' });
    expect(cond(p, 'SourcesReadable')?.message).toContain('DEADBEEF');
  });
});

describe('a pod shape the apiserver refuses', () => {
  it('a volume with two sources (the CRD keeps volume sources as Kubernetes has them): Ready=False WorkloadRejected names the workload and the field; fixed, the pool goes on', async () => {
    const spec = { issuer: { secretName: 'ca' }, signing: { softwareKey: { secretName: 'ca' } }, delegatedResponder: { mode: 'None' }, sources: [{ opensslIndex: { configMapName: 'ca-db' } }] };
    await client.create(OcspResponderPoolType, {
      apiVersion: 'ocsp-operator.dev/v1alpha1',
      kind: 'OcspResponderPool',
      metadata: { name: 'shaped', namespace: ns.name },
      spec: { ...spec, responder: { pod: { volumes: [{ name: 'broken', emptyDir: {}, secret: { secretName: 'ca' } }] } } },
    } as KubeObject);
    const refused = await waitFor(`${ns.name}/shaped Ready=False WorkloadRejected`, async () => {
      const p = await getPool('shaped');
      return cond(p, 'Ready')?.reason === 'WorkloadRejected' ? cond(p, 'Ready') : undefined;
    });
    expect(refused?.status).toBe('False');
    expect(refused?.message).toContain(`Deployment ${ns.name}/shaped`);
    expect(refused?.message).toMatch(/spec\.template\.spec\.volumes\[\d+\]/);
    expect(await client.getOrUndefined(DeploymentType, ns.name, 'shaped'), `no Deployment ${ns.name}/shaped`).toBeUndefined();

    await client.mergePatch(OcspResponderPoolType, { namespace: ns.name, name: 'shaped' }, { spec: { responder: { pod: { volumes: [{ name: 'broken', emptyDir: {} }] } } } });
    const d = await waitFor(`Deployment ${ns.name}/shaped`, () => client.getOrUndefined<KubeObject & { spec?: { template?: PodTemplate } }>(DeploymentType, ns.name, 'shaped'));
    expect(d.spec?.template?.spec.volumes?.map((v) => v.name)).toContain('broken');
    await waitFor(`${ns.name}/shaped no longer WorkloadRejected`, async () => cond(await getPool('shaped'), 'Ready')?.reason !== 'WorkloadRejected');
  });
});

describe('a Redis pool: scaling and thresholds from its pods’ reports', () => {
  const name = 'big';
  const signerReport = (over: Partial<Extract<Report, { kind: 'signer' }>> = {}): Report => ({
    kind: 'signer',
    pod: 'big-signer-0',
    time: Date.now(),
    certificates: 20_000,
    due: 0,
    missing: 0,
    revoked: 0,
    oldestThisUpdate: Date.now() - 3_600_000,
    rate: 200,
    outlivingTheirSigner: 0,
    issuerNotAfter: Date.now() + 365 * 86_400_000,
    ...over,
  });
  const report = (r: Report) => writeReport(client, { namespace: ns.name, pool: name, report: r });
  const replicas = async () => (await client.getOrUndefined<KubeObject & { spec?: { replicas?: number } }>(StatefulSetType, ns.name, 'big-signer'))?.spec?.replicas;

  beforeAll(async () => {
    await client.create(OcspResponderPoolType, {
      apiVersion: 'ocsp-operator.dev/v1alpha1',
      kind: 'OcspResponderPool',
      metadata: { name, namespace: ns.name },
      spec: {
        issuer: { secretName: 'ca' },
        signing: { softwareKey: { secretName: 'ca' } },
        sources: [{ opensslIndex: { configMapName: 'ca-db' } }],
        store: { type: 'Redis', redis: { primaryURL: 'redis://127.0.0.1:6390', replicaURLs: ['redis://127.0.0.1:6391', 'redis://127.0.0.1:6392'] } },
        signers: { minReplicas: 1, maxReplicas: 10, stabilizationWindow: '4s', targetDrainTime: '10s' },
      },
    } as KubeObject);
    await report(signerReport());
  });

  it('renders a signer StatefulSet and one responder Deployment per Redis replica', async () => {
    expect(await waitFor('the signer StatefulSet', replicas)).toBe(1);
    for (const i of [0, 1]) {
      const d = await client.get<KubeObject & { spec?: { template?: PodTemplate } }>(DeploymentType, ns.name, `big-responder-${i}`);
      expect(d.spec?.template?.spec.containers[0]?.args).toContain(`redis://127.0.0.1:${6391 + i}`);
    }
  });

  it('scales the signers up on a backlog at once, and down only after the stabilization window', async () => {
    await report(signerReport({ due: 20_000, missing: 20_000 }));
    await waitFor('signers scaled to 10', async () => (await replicas()) === 10, 20_000);
    // the status follows the workloads in the same reconcile (or its retry after a write conflict)
    await waitFor('status with the backlog', async () => {
      const s = (await getPool(name)).status;
      return s?.backlog === 20_000 && s.signers?.desired === 10;
    }, 10_000);
    const drainedAt = Date.now();
    await report(signerReport({ due: 0 }));
    await waitFor('signers back to 1', async () => (await replicas()) === 1, 40_000);
    expect(Date.now() - drainedAt).toBeGreaterThanOrEqual(4_000 - 500);
  });

  it('freshness over all responses: Warning at the warning age, then critical, one Event each', async () => {
    await report(signerReport({ oldestThisUpdate: Date.now() - 100 * 3_600_000 }));
    await waitFor('ResponsesStale', async () => cond(await getPool(name), 'Fresh')?.reason === 'ResponsesStale', 20_000);
    await report(signerReport({ oldestThisUpdate: Date.now() - 150 * 3_600_000 }));
    const p = await waitFor('ResponsesCritical', async () => {
      const x = await getPool(name);
      return cond(x, 'Fresh')?.reason === 'ResponsesCritical' ? x : undefined;
    }, 20_000);
    expect(cond(p, 'Ready')?.status).toBe('False');
    expect(cond(p, 'BaselineRequirements')?.status).toBe('False'); // older than 96 h
    await new Promise((r) => setTimeout(r, 1_500)); // more reconciles: no more Events
    const evs = await poolEvents(name);
    expect(evs.filter((e) => e.reason === 'ResponsesStale')).toHaveLength(1);
    expect(evs.filter((e) => e.reason === 'ResponsesCritical')).toHaveLength(1);
    expect(evs.find((e) => e.reason === 'ResponsesCritical')?.type).toBe('Warning');
  });

  it('a delegated responder certificate near its end, and a lagging replica, each named', async () => {
    await report(signerReport({ signer: { serial: 'abc123', subject: 'CN=Pool OCSP Responder', notAfter: Date.now() + 3_600_000 } }));
    await report({ kind: 'responder', pod: 'big-responder-0-x1', time: Date.now(), ready: true, lagMs: 200, detached: false });
    await report({ kind: 'responder', pod: 'big-responder-1-y2', time: Date.now(), ready: false, lagMs: 60_000, detached: false });
    const p = await waitFor('conditions', async () => {
      const x = await getPool(name);
      return cond(x, 'Replicated')?.status === 'False' && cond(x, 'SignerCertificateExpiring')?.status === 'True' ? x : undefined;
    }, 20_000);
    expect(cond(p, 'SignerCertificateExpiring')?.message).toContain('CN=Pool OCSP Responder');
    expect(cond(p, 'Replicated')?.message).toContain('big-responder-1-y2');
    expect(cond(p, 'Replicated')?.message).not.toContain('big-responder-0-x1');
    expect(p.status?.responders?.outOfRotation).toEqual(['big-responder-1-y2']);
    expect(p.status?.replication?.find((r) => r.replica === 'big-responder-1-y2')).toMatchObject({ lagSeconds: 60, inRotation: false });
    await waitFor('SignerExpiresSoon event', async () => (await poolEvents(name)).some((e) => e.reason === 'SignerExpiresSoon' && e.type === 'Warning'));
  });

  it('signers that stop reporting: the last figures stand, nothing scales down, Ready says reports are missing', async () => {
    await report(signerReport({ due: 20_000, missing: 20_000, oldestThisUpdate: Date.now() - 150 * 3_600_000 }));
    await waitFor('signers up again', async () => (await replicas()) === 10, 20_000);
    // the signer pod dies: its report ages past two minutes
    await report(signerReport({ time: Date.now() - 3 * 60_000, due: 20_000, oldestThisUpdate: Date.now() - 150 * 3_600_000 }));
    const p = await waitFor('SignerReportsMissing', async () => {
      const x = await getPool(name);
      return cond(x, 'Ready')?.message.includes('no signer has reported') ? x : undefined;
    }, 20_000);
    expect(cond(p, 'Fresh')?.reason).toBe('ResponsesCritical'); // still critical: the responses keep aging
    expect(p.status?.backlog).toBe(20_000);
    await new Promise((r) => setTimeout(r, 5_000)); // past the 4 s stabilization window
    expect(await replicas()).toBe(10);
  });
});
