// The OcspResponderPool controller against the real apiserver: what an embedded pool renders,
// certificate sources, a pod shape the apiserver refuses, and a Redis pool's scaling and
// thresholds driven by the reports its pods write (here written by the test, so every threshold
// can be crossed on a ManualClock). The pods themselves run on the real node: test/node/.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DeploymentType,
  OcspResponderPoolType,
  StatefulSetType,
  ConfigMapType,
  EndpointSliceType,
  RoleBindingType,
  RoleType,
  ServiceAccountType,
  ServiceType,
  type KubeObject,
} from '../../src/kube/types.js';
import { canonicalSerial } from '../../src/store/index.js';
import { Manager } from '../../src/runtime/manager.js';
import { LABEL_POOL } from '../../src/api/annotations.js';
import { writeReport, type ConfigMap, type Report } from '../../src/report/protocol.js';
import { PoolConditionType as T, PoolReason as R, READY_GATES } from '../../src/pool/conditions.js';
import { LABEL_SERVICE_NAME } from '../../src/pool/liveness.js';
import { SecretType } from '../../src/kube/types.js';
import { createNamespace, kubeClient, putSecret, tlsSecret, waitFor, eventsAbout } from '../support/kube.js';
import { createCa, issueLeaf, type Ca, type Issued } from '../support/pki.js';
import { createCaObjects, reconcileCount, reconciledAgain, startPoolController } from '../support/pool-harness.js';

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

/**
 * Makes the controller look at pool `name` once more, with nothing to change (a new annotation on
 * the pool), and resolves when that reconcile has finished: what a test asserts next did not
 * happen although the controller looked.
 */
async function lookAgain(name: string): Promise<void> {
  const since = reconcileCount(`${ns.name}/${name}`);
  await client.mergePatch(
    OcspResponderPoolType,
    { namespace: ns.name, name },
    { metadata: { annotations: { 'test.ocsp-operator.dev/poke': String(Date.now()) } } },
  );
  await reconciledAgain(`${ns.name}/${name}`, since);
}

/** An EndpointSlice as the endpointslice controller writes it for Service `service` of pool `pool` (no controller-manager runs here). */
async function putSlice(pool: string, service: string, endpoints: Array<{ pod: string; ready: boolean }>): Promise<void> {
  const slice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${service}-slice`, namespace: ns.name, labels: { [LABEL_SERVICE_NAME]: service, [LABEL_POOL]: pool } },
    addressType: 'IPv4',
    endpoints: endpoints.map((e, i) => ({
      addresses: [`10.0.0.${i + 1}`],
      conditions: { ready: e.ready, serving: e.ready, terminating: false },
      targetRef: { kind: 'Pod', name: e.pod, namespace: ns.name },
    })),
    ports: [{ name: 'ocsp', port: 8080, protocol: 'TCP' }],
  };
  await client.apply(EndpointSliceType, slice, 'endpointslice-controller-stand-in');
}

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

// Its pods run on the real node in test/node/pools.node.test.ts and embedded-restart.node.test.ts.
describe('an embedded pool: what it renders', () => {
  it('renders its pod, ServiceAccount, Role, Service and certificate index, all owned by the pool', async () => {
    await client.create(OcspResponderPoolType, {
      apiVersion: 'ocsp-operator.dev/v1alpha1',
      kind: 'OcspResponderPool',
      metadata: { name: 'demo', namespace: ns.name },
      spec: {
        issuer: { secretName: 'ca' },
        signing: { softwareKey: { secretName: 'ca' } },
        delegatedResponder: { mode: 'None' },
        sources: [{ opensslIndex: { configMapName: 'ca-db' } }],
      },
    } as KubeObject);
    const statefulSet = await waitFor('the pool StatefulSet', () =>
      client.getOrUndefined<
        KubeObject & {
          spec?: {
            template?: PodTemplate;
            volumeClaimTemplates?: Array<{ metadata: { name: string }; spec: { resources: { requests: { storage: string } } } }>;
          };
        }
      >(StatefulSetType, ns.name, 'demo'),
    );
    const pool = await getPool('demo');
    for (const [type, name] of [
      [ServiceAccountType, 'demo'],
      [RoleType, 'demo'],
      [RoleBindingType, 'demo'],
      [ServiceType, 'demo'],
      [ConfigMapType, 'demo-index'],
    ] as const) {
      const o = await client.get<KubeObject>(type, ns.name, name);
      expect(o.metadata?.ownerReferences?.[0]?.uid, `${type.kind} ${name}`).toBe(pool.metadata?.uid);
    }
    expect(statefulSet.metadata?.ownerReferences?.[0]?.uid).toBe(pool.metadata?.uid);
    const index = await client.get<ConfigMap>(ConfigMapType, ns.name, 'demo-index');
    expect(index.data?.['index.txt']?.trim().split('\n')).toHaveLength(10);
    expect(statefulSet.spec?.template?.spec.containers.map((c) => c.name)).toEqual(['signer', 'responder']);
    // The store's log on a claim of its own, made from the template: it outlives the pod.
    expect(statefulSet.spec?.volumeClaimTemplates?.map((t) => [t.metadata.name, t.spec.resources.requests.storage])).toEqual([
      ['data', '1Gi'],
    ]);
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
    const index = await waitFor(
      'the generated index',
      async () => (await client.getOrUndefined<ConfigMap>(ConfigMapType, ns.name, 'fromsecrets-index'))?.data?.['index.txt'],
    );
    const serials = index
      .trim()
      .split('\n')
      .map((l) => canonicalSerial(l.split('\t')[3] ?? ''));
    expect(serials).toContain(canonicalSerial(mine.serial));
    expect(serials).not.toContain(canonicalSerial(theirs.serial));
    expect(serials).not.toContain(canonicalSerial(ca.cert.serialNumber)); // the CA's own Secret is in scope too
    const p = await waitFor('SourcesReadable', async () => {
      const x = await getPool('fromsecrets');
      return cond(x, 'SourcesReadable') ? x : undefined;
    });
    expect(cond(p, 'SourcesReadable')).toMatchObject({ status: 'False', reason: 'SourceProblem' });
    expect(cond(p, 'SourcesReadable')?.message).toContain('DEADBEEF');
    // a source problem gates Ready, with its own reason
    expect(cond(p, T.Ready)).toMatchObject({ status: 'False', reason: R.SourceProblem });
    expect(cond(p, T.Ready)?.message).toContain('SourcesReadable: ');
  });
});

describe('a postgres source, read by the signers themselves', () => {
  it('the index carries the declared revocations for the signers; their reports count the certificates, and a lagging replica makes SourcesReadable and Ready False', async () => {
    const name = 'fromdb';
    const source = `${ns.name}/${name} sources[0].postgres`;
    await client.create(OcspResponderPoolType, {
      apiVersion: 'ocsp-operator.dev/v1alpha1',
      kind: 'OcspResponderPool',
      metadata: { name, namespace: ns.name },
      spec: {
        issuer: { secretName: 'ca' },
        signing: { softwareKey: { secretName: 'ca' } },
        sources: [{ postgres: { urlSecretRef: { name: 'ca-db-url' } } }],
        revocations: [{ serial: 'DEADBEEF', time: '2026-01-01T00:00:00Z', reason: 'superseded' }],
      },
    } as KubeObject);
    const declared = await waitFor(
      'the declared revocations in the index',
      async () => (await client.getOrUndefined<ConfigMap>(ConfigMapType, ns.name, `${name}-index`))?.data?.['revocations.json'],
    );
    expect(JSON.parse(declared)).toEqual([{ serial: 'deadbeef', time: Date.parse('2026-01-01T00:00:00Z'), reason: 'superseded' }]);
    const signer = (sources: NonNullable<Extract<Report, { kind: 'signer' }>['sources']>): Report => ({
      kind: 'signer',
      pod: `${name}-0`,
      time: Date.now(),
      certificates: 1234,
      due: 0,
      missing: 0,
      revoked: 7,
      oldestThisUpdate: Date.now() - 60_000,
      rate: 100,
      outlivingTheirSigner: 0,
      issuerNotAfter: Date.now() + 365 * 86_400_000,
      sources,
    });
    await writeReport(client, {
      namespace: ns.name,
      pool: name,
      report: signer([{ name: source, state: 'read', lagMs: 0, maxLagMs: 30_000, certificates: 1234 }]),
    });
    const read = await waitFor('the figures of the signers', async () => {
      const p = await getPool(name);
      return p.status?.certificates === 1234 && cond(p, 'SourcesReadable')?.status === 'True' ? p : undefined;
    });
    // the serial the index cannot see is not called unknown: the database may have it
    expect(read.status?.revoked).toBe(7);
    const message = `${source}: the database server lags its primary by 45s, more than maxReplicationLag 30s; nothing signed from it until it catches up`;
    await writeReport(client, {
      namespace: ns.name,
      pool: name,
      report: signer([{ name: source, state: 'lagging', lagMs: 45_000, maxLagMs: 30_000, message }]),
    });
    const lagging = await waitFor('SourcesReadable=False SourceReplicaLagging', async () => {
      const p = await getPool(name);
      return cond(p, 'SourcesReadable')?.reason === R.SourceReplicaLagging ? p : undefined;
    });
    expect(cond(lagging, 'SourcesReadable')).toMatchObject({ status: 'False', message });
    expect(cond(lagging, T.Ready)).toMatchObject({ status: 'False', reason: R.SourceReplicaLagging });
    await waitFor('a Warning Event', async () =>
      (await poolEvents(name)).some((e) => e.reason === R.SourceReplicaLagging && e.type === 'Warning'),
    );
  });
});

describe('a pod shape the apiserver refuses', () => {
  it('a volume with two sources (the CRD keeps volume sources as Kubernetes has them): Ready=False WorkloadRejected names the workload and the field; fixed, the pool goes on', async () => {
    const spec = {
      issuer: { secretName: 'ca' },
      signing: { softwareKey: { secretName: 'ca' } },
      delegatedResponder: { mode: 'None' },
      sources: [{ opensslIndex: { configMapName: 'ca-db' } }],
    };
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
    expect(refused?.message).toContain(`StatefulSet ${ns.name}/shaped`);
    expect(refused?.message).toMatch(/spec\.template\.spec\.volumes\[\d+\]/);
    expect(await client.getOrUndefined(StatefulSetType, ns.name, 'shaped'), `no StatefulSet ${ns.name}/shaped`).toBeUndefined();

    await client.mergePatch(
      OcspResponderPoolType,
      { namespace: ns.name, name: 'shaped' },
      { spec: { responder: { pod: { volumes: [{ name: 'broken', emptyDir: {} }] } } } },
    );
    const d = await waitFor(`StatefulSet ${ns.name}/shaped`, () =>
      client.getOrUndefined<KubeObject & { spec?: { template?: PodTemplate } }>(StatefulSetType, ns.name, 'shaped'),
    );
    expect(d.spec?.template?.spec.volumes?.map((v) => v.name)).toContain('broken');
    await waitFor(
      `${ns.name}/shaped no longer WorkloadRejected`,
      async () => cond(await getPool('shaped'), 'Ready')?.reason !== 'WorkloadRejected',
    );
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
  const replicas = async () =>
    (await client.getOrUndefined<KubeObject & { spec?: { replicas?: number } }>(StatefulSetType, ns.name, 'big-signer'))?.spec?.replicas;

  beforeAll(async () => {
    await client.create(OcspResponderPoolType, {
      apiVersion: 'ocsp-operator.dev/v1alpha1',
      kind: 'OcspResponderPool',
      metadata: { name, namespace: ns.name },
      spec: {
        issuer: { secretName: 'ca' },
        signing: { softwareKey: { secretName: 'ca' } },
        sources: [{ opensslIndex: { configMapName: 'ca-db' } }],
        store: {
          type: 'Redis',
          redis: { primaryURL: 'redis://127.0.0.1:6390', replicaURLs: ['redis://127.0.0.1:6391', 'redis://127.0.0.1:6392'] },
        },
        signers: { minReplicas: 1, maxReplicas: 10, stabilizationWindow: '4s', targetDrainTime: '10s' },
      },
    } as KubeObject);
    await report(signerReport());
  });

  it('renders a signer StatefulSet and one responder Deployment per Redis replica', async () => {
    expect(await waitFor('the signer StatefulSet', replicas)).toBe(1);
    for (const i of [0, 1]) {
      // Applied after the StatefulSet (in the same reconcile, or its retry): waited for too.
      const d = await waitFor(`responder Deployment ${i}`, () =>
        client.getOrUndefined<KubeObject & { spec?: { template?: PodTemplate } }>(DeploymentType, ns.name, `big-responder-${i}`),
      );
      expect(d.spec?.template?.spec.containers[0]?.args).toContain(`redis://127.0.0.1:${6391 + i}`);
    }
  });

  it('scales the signers up on a backlog at once, and down only after the stabilization window', async () => {
    await report(signerReport({ due: 20_000, missing: 20_000 }));
    await waitFor('signers scaled to 10', async () => (await replicas()) === 10, 20_000);
    // the status follows the workloads in the same reconcile (or its retry after a write conflict)
    await waitFor(
      'status with the backlog',
      async () => {
        const s = (await getPool(name)).status;
        return s?.backlog === 20_000 && s.signers?.desired === 10;
      },
      10_000,
    );
    const drainedAt = Date.now();
    await report(signerReport({ due: 0 }));
    await waitFor('signers back to 1', async () => (await replicas()) === 1, 40_000);
    expect(Date.now() - drainedAt).toBeGreaterThanOrEqual(4_000 - 500);
  });

  it('freshness over all responses: Warning at the warning age, then critical, one Event each', async () => {
    await report(signerReport({ oldestThisUpdate: Date.now() - 100 * 3_600_000 }));
    await waitFor('ResponsesStale', async () => cond(await getPool(name), 'Fresh')?.reason === 'ResponsesStale', 20_000);
    await report(signerReport({ oldestThisUpdate: Date.now() - 150 * 3_600_000 }));
    const p = await waitFor(
      'ResponsesCritical',
      async () => {
        const x = await getPool(name);
        return cond(x, 'Fresh')?.reason === 'ResponsesCritical' ? x : undefined;
      },
      20_000,
    );
    expect(cond(p, 'Ready')?.status).toBe('False');
    expect(cond(p, 'BaselineRequirements')?.status).toBe('False'); // older than 96 h
    await lookAgain(name); // one more reconcile with the same conditions: no more Events
    const evs = await poolEvents(name);
    expect(evs.filter((e) => e.reason === 'ResponsesStale')).toHaveLength(1);
    expect(evs.filter((e) => e.reason === 'ResponsesCritical')).toHaveLength(1);
    expect(evs.find((e) => e.reason === 'ResponsesCritical')?.type).toBe('Warning');
  });

  it('a delegated responder certificate near its end, and a lagging replica, each named', async () => {
    await report(signerReport({ signer: { serial: 'abc123', subject: 'CN=Pool OCSP Responder', notAfter: Date.now() + 3_600_000 } }));
    await report({ kind: 'responder', pod: 'big-responder-0-x1', time: Date.now(), ready: true, lagMs: 200, detached: false });
    await report({ kind: 'responder', pod: 'big-responder-1-y2', time: Date.now(), ready: false, lagMs: 60_000, detached: false });
    const p = await waitFor(
      'conditions',
      async () => {
        const x = await getPool(name);
        return cond(x, 'Replicated')?.status === 'False' && cond(x, 'SignerCertificateExpiring')?.status === 'True' ? x : undefined;
      },
      20_000,
    );
    expect(cond(p, 'SignerCertificateExpiring')?.message).toContain('CN=Pool OCSP Responder');
    expect(cond(p, 'Replicated')?.message).toContain('big-responder-1-y2');
    expect(cond(p, 'Replicated')?.message).not.toContain('big-responder-0-x1');
    expect(p.status?.responders?.outOfRotation).toEqual(['big-responder-1-y2']);
    expect(p.status?.replication?.find((r) => r.replica === 'big-responder-1-y2')).toMatchObject({ lagSeconds: 60, inRotation: false });
    await waitFor('SignerExpiresSoon event', async () =>
      (await poolEvents(name)).some((e) => e.reason === 'SignerExpiresSoon' && e.type === 'Warning'),
    );
  });

  it("responders as the kubelet sees them: readiness from the Service's EndpointSlices, reports of pods that are no endpoint do not count", async () => {
    await report({ kind: 'responder', pod: 'big-responder-0-gone', time: Date.now(), ready: true, lagMs: 0, detached: false });
    await putSlice(name, name, [
      { pod: 'big-responder-0-x1', ready: true },
      { pod: 'big-responder-1-y2', ready: false },
    ]);
    const p = await waitFor(
      'responders from the EndpointSlice',
      async () => {
        const x = await getPool(name);
        return x.status?.replication?.length === 2 ? x : undefined;
      },
      20_000,
    );
    expect(p.status?.responders).toEqual({ ready: 1, outOfRotation: ['big-responder-1-y2'] });
    expect(p.status?.replication?.map((r) => r.replica)).toEqual(['big-responder-0-x1', 'big-responder-1-y2']);
    // the kubelet takes the last ready one out: no responder is ready, whatever the pods say
    await putSlice(name, name, [
      { pod: 'big-responder-0-x1', ready: false },
      { pod: 'big-responder-1-y2', ready: false },
    ]);
    const q = await waitFor(
      'no responder ready',
      async () => {
        const x = await getPool(name);
        return x.status?.responders?.ready === 0 ? x : undefined;
      },
      20_000,
    );
    expect(q.status?.responders?.outOfRotation).toEqual(['big-responder-0-x1', 'big-responder-1-y2']);
  });

  it('signers that stop being ready: the last figures stand, nothing scales down, Ready says reports are missing', async () => {
    // The signer pod as the kubelet sees it, in the StatefulSet's headless Service.
    await putSlice(name, 'big-signer', [{ pod: 'big-signer-0', ready: true }]);
    await report(signerReport({ due: 20_000, missing: 20_000, oldestThisUpdate: Date.now() - 150 * 3_600_000 }));
    await waitFor('signers up again', async () => (await replicas()) === 10, 20_000);
    // its rounds stop: its readiness fails (src/cmd/signer.ts readyz); its report stays as it was
    const silentAt = Date.now();
    await putSlice(name, 'big-signer', [{ pod: 'big-signer-0', ready: false }]);
    const p = await waitFor(
      'SignerReportsMissing',
      async () => {
        const x = await getPool(name);
        return cond(x, T.Ready)?.message.includes('no signer pod is ready to report') ? x : undefined;
      },
      20_000,
    );
    expect(cond(p, 'Fresh')?.reason).toBe('ResponsesCritical'); // still critical: the responses keep aging
    expect(p.status?.backlog).toBe(20_000);
    expect(p.status?.signers?.ready).toBe(0);
    // past the 4 s stabilization window, and looked at since: still 10
    await waitFor('the stabilization window to pass', () => Date.now() - silentAt > 4_500 || undefined, 10_000);
    await lookAgain(name);
    expect(await replicas()).toBe(10);
  });
});

describe('conditions a reconcile can no longer judge', () => {
  const name = 'judged';
  const issuer = 'judged-ca';
  const b64 = (x: string) => Buffer.from(x).toString('base64');
  const putIssuer = () =>
    client.create(SecretType, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: issuer, namespace: ns.name },
      data: { 'tls.crt': b64(ca.certPem) },
    } as KubeObject);

  it('issuer Secret deleted: Ready=False IssuerNotFound and every other condition Unknown NotEvaluated (none left standing); restored: judged again', async () => {
    await putIssuer();
    await client.create(OcspResponderPoolType, {
      apiVersion: 'ocsp-operator.dev/v1alpha1',
      kind: 'OcspResponderPool',
      metadata: { name, namespace: ns.name },
      spec: {
        issuer: { secretName: issuer },
        signing: { softwareKey: { secretName: 'ca' } },
        delegatedResponder: { mode: 'None' },
        sources: [{ opensslIndex: { configMapName: 'ca-db' } }],
      },
    } as KubeObject);
    const judged = await waitFor('conditions', async () => {
      const x = await getPool(name);
      return cond(x, T.Fresh) && cond(x, T.SourcesReadable) ? x : undefined;
    });
    expect(cond(judged, T.Fresh)?.reason).not.toBe(R.NotEvaluated);

    await client.delete(SecretType, ns.name, issuer);
    const gone = await waitFor('IssuerNotFound', async () => {
      const x = await getPool(name);
      return cond(x, T.Ready)?.reason === R.IssuerNotFound ? x : undefined;
    });
    for (const g of READY_GATES) {
      expect(cond(gone, g.type), g.type).toMatchObject({ status: 'Unknown', reason: R.NotEvaluated });
      expect(cond(gone, g.type)?.message).toContain(`issuer Secret ${ns.name}/${issuer} does not exist`);
    }
    expect(gone.status?.conditions?.map((c) => c.type).sort()).toEqual([T.Ready, ...READY_GATES.map((g) => g.type)].sort());

    await putIssuer();
    const back = await waitFor('judged again', async () => {
      const x = await getPool(name);
      return cond(x, T.Ready)?.reason !== R.IssuerNotFound ? x : undefined;
    });
    for (const g of READY_GATES) expect(cond(back, g.type)?.reason, g.type).not.toBe(R.NotEvaluated);
  });
});
