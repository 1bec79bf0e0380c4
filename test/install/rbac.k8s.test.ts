// RBAC proven, not assumed: the chart's ServiceAccount, (Cluster)Roles and bindings are created for
// real in the RBAC-enabled apiserver, a token is minted for that ServiceAccount (TokenRequest), and
// the operator runs out of cluster with nothing but that token, with the arguments the chart's
// Deployment gives it. In both modes it does its whole job (staple, status, Events, Lease,
// automatic staples, cert-manager reissue); in namespaced mode it is denied Secrets elsewhere.
// Then the PrometheusRule's metric names are checked against what the running processes export.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeApiError, KubeClient } from '../../src/kube/client.js';
import { loadKubeConfig } from '../../src/kube/config.js';
import {
  DeploymentType,
  CrdType,
  EventType,
  LeaseType,
  OcspResponderPoolType,
  OcspStapleType,
  SecretType,
  CertificateType,
  HorizontalPodAutoscalerType,
  IngressType,
  PodDisruptionBudgetType,
  type KubeObject,
  type Lease,
  type Secret,
} from '../../src/kube/types.js';
import { buildOcspRequest } from '../../src/ocsp/index.js';
import { startResponder } from '../../src/responder/index.js';
import { STAPLE_KEY } from '../../src/staple/staple-secret.js';
import { EmbeddedStore } from '../../src/store/index.js';
import {
  createNamespace,
  kubeClient,
  kubectl,
  metricValue,
  putSecret,
  replaceSpec,
  startOperator,
  tlsSecret,
  waitFor,
  serviceAccountKubeconfig,
  type OperatorProcess,
  type EventObject,
} from '../support/kube.js';
import { freePort, repoRoot } from '../../src/devenv/control-plane.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startOpensslResponder, type ResponderHandle } from '../support/openssl.js';
import { createCa, indexTxt, issueLeaf, type Ca, type Issued } from '../support/pki.js';
import { condition, createStaple, getSecret, getStaple, lockstepOf, waitForReason } from '../support/staple-harness.js';
import { createCaObjects } from '../support/pool-harness.js';
import { deploymentOf, helmBinary, helmTemplate, ofKind, parseManifests, type RenderedObject } from './helm.js';
import { renderPool, MINIMAL_REDIS_POOL_SPEC } from '../support/pool-render.js';

const admin = kubeClient();

interface CertificateObj extends KubeObject {
  spec?: { privateKey?: { rotationPolicy?: string } };
  status?: { conditions?: Array<{ type: string; status: string; reason?: string }> };
}

/** The status code of a request made with `client`, 2xx included. */
async function statusOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    if (err instanceof KubeApiError) return err.status;
    throw err;
  }
}

async function ensureCertificateCrd(): Promise<void> {
  const crd = parse(await readFile(new URL('../fixtures/cert-manager-certificate-crd.yaml', import.meta.url), 'utf8')) as KubeObject;
  // on a cluster with the real cert-manager, its CRD is used as it is
  if (!(await admin.getOrUndefined(CrdType, undefined, 'certificates.cert-manager.io'))) await admin.create(CrdType, crd);
  await waitFor('Certificate CRD established', async () => {
    const c = await admin.get<KubeObject & { status?: { conditions?: Array<{ type: string; status: string }> } }>(
      CrdType,
      undefined,
      'certificates.cert-manager.io',
    );
    return c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True');
  });
}

/** What kubectl or the operator log when RBAC says no. */
const RBAC_DENIAL = /cannot (get|list|watch|create|update|patch|delete) resource/;

let ca: Ca;
let leaf: Record<'web' | 'auto' | 'rev' | 'elsewhere', Issued>;
let ocsp: ResponderHandle;
let proxy: FaultProxy;
/** Scraped from the cluster-wide operator once it has stapled, for the PrometheusRule check. */
let operatorMetrics = '';

beforeAll(async () => {
  await helmBinary();
  await ensureCertificateCrd();
  ca = await createCa({ keyAlg: 'P-256', name: 'CN=RBAC Test CA' });
  // The CA's OCSP URL is a proxy on 127.0.0.1 (the certificates must name it before the
  // responder that knows them can start); it passes every request to `openssl ocsp`.
  proxy = await startFaultProxy();
  const url = proxy.url;
  leaf = {
    web: await issueLeaf(ca, { ocspUrl: url, dnsNames: ['web.test'] }),
    auto: await issueLeaf(ca, { ocspUrl: url, dnsNames: ['auto.test'] }),
    rev: await issueLeaf(ca, { ocspUrl: url, dnsNames: ['rev.test'] }),
    elsewhere: await issueLeaf(ca, { ocspUrl: url, dnsNames: ['elsewhere.test'] }),
  };
  ocsp = await startOpensslResponder({
    ca,
    indexEntries: [
      { cert: leaf.web.cert, status: 'V' },
      { cert: leaf.auto.cert, status: 'V' },
      { cert: leaf.elsewhere.cert, status: 'V' },
      { cert: leaf.rev.cert, status: 'R', revokedAt: new Date(Date.now() - 3600_000), reason: 'keyCompromise' },
    ],
    nmin: 60,
    probeRequest: buildOcspRequest({ cert: leaf.web.cert, issuer: ca.cert }).der,
  });
  proxy.upstream = ocsp.url;
}, 15 * 60_000);

afterAll(async () => {
  await proxy?.close();
  await ocsp?.stop();
});

describe.each(['cluster-wide', 'namespaced'] as const)("the operator with only the chart's RBAC, %s mode", (mode) => {
  let dir: string;
  let release: { name: string; remove(): Promise<void> };
  let apps: { name: string; remove(): Promise<void> };
  let other: { name: string; remove(): Promise<void> };
  let rbacFile: string;
  let sa: KubeClient;
  let saKubeconfig = '';
  let op: OperatorProcess;
  let leaseName: string;
  const releaseName = `rbac-${mode === 'namespaced' ? 'ns' : 'cl'}-${Math.random().toString(36).slice(2, 7)}`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ocsp-rbac-'));
    release = await createNamespace(admin, 'ops');
    apps = await createNamespace(admin, 'apps');
    other = await createNamespace(admin, 'other');
    const objs = parseManifests(
      await helmTemplate(releaseName, release.name, mode === 'namespaced' ? { json: { watchNamespaces: [apps.name] } } : {}),
    );
    // Only identity and RBAC go in for real: the Deployment's pods could not run here, its
    // arguments are what the operator is started with below.
    const rbac: RenderedObject[] = objs.filter((o) =>
      ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(o.kind ?? ''),
    );
    rbacFile = join(dir, 'rbac.yaml');
    await writeFile(rbacFile, rbac.map((o) => JSON.stringify(o)).join('\n---\n'));
    const applied = await kubectl(['apply', '-f', rbacFile]);
    expect(applied.code, applied.stderr).toBe(0);

    const { spec, container } = deploymentOf(objs);
    const saName = spec.template.spec.serviceAccountName ?? '';
    saKubeconfig = await serviceAccountKubeconfig(admin, release.name, saName, dir);
    const kubeconfig = saKubeconfig;
    sa = new KubeClient(loadKubeConfig(kubeconfig));
    const who = await kubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], kubeconfig);
    expect(who.stdout).toBe(`system:serviceaccount:${release.name}:${saName}`);

    const args = (container.args ?? []).filter((a) => a !== 'controller' && !a.startsWith('--health-addr'));
    leaseName = (args.find((a) => a.startsWith('--lease-name=')) ?? '').split('=')[1] ?? '';
    expect(leaseName).toBeTruthy();
    op = await startOperator([...args, '--resync=60000'], { POD_NAME: `${releaseName}-pod` }, kubeconfig);
    await waitFor(
      "operator ready (caches synced with the ServiceAccount's rights)",
      async () => (await fetch(`${op.healthUrl}/readyz`)).status === 200,
      30_000,
    );
  });

  afterAll(async () => {
    const logs = op?.logs() ?? '';
    await op?.stop();
    if (rbacFile) await kubectl(['delete', '--ignore-not-found', '-f', rbacFile]);
    await Promise.all([release, apps, other].map((n) => n?.remove()));
    if (dir) await rm(dir, { recursive: true, force: true });
    if (RBAC_DENIAL.test(logs))
      process.stderr.write(
        `operator log (${mode}) had RBAC denials:\n${logs
          .split('\n')
          .filter((l) => RBAC_DENIAL.test(l))
          .slice(0, 5)
          .join('\n')}\n`,
      );
  });

  it('holds the leader Lease in the release namespace', async () => {
    const lease = await waitFor('the Lease held', async () => {
      const l = await admin.getOrUndefined<Lease>(LeaseType, release.name, leaseName);
      return l?.spec?.holderIdentity ? l : undefined;
    });
    expect(lease.spec?.holderIdentity).toBe(`${releaseName}-pod_${op.proc.pid}`);
    expect(metricValue(await (await fetch(`${op.healthUrl}/metrics`)).text(), 'ocsp_operator_leader')).toBe(1);
  });

  it('staples a certificate: staple Secret in lockstep, status written, Event recorded', async () => {
    await putSecret(admin, tlsSecret(apps.name, 'web-tls', { certPem: leaf.web.chainPem, keyPem: leaf.web.keyPem }));
    await createStaple(admin, apps.name, 'web', { secretName: 'web-tls' });
    const s = await waitForReason(admin, apps.name, 'web', 'Stapled', 30_000);
    expect(s.status?.staple?.certStatus).toBe('good');
    expect(condition(s, 'Ready')?.observedGeneration).toBe(s.metadata?.generation);
    const secret = (await getSecret(admin, apps.name, 'web-tls-ocsp'))!;
    expect(secret.data?.[STAPLE_KEY]).toBeTruthy();
    const ls = lockstepOf(secret);
    expect(ls.verdict?.ok).toBe(true);
    expect(ls.stapleSerial).toBe(ls.certSerial);
    const ev = await waitFor('a Stapled Event', async () => {
      const list = await admin.list<EventObject>(EventType, { namespace: apps.name });
      return list.items.find((e) => e.regarding?.name === 'web' && e.reason === 'Stapled');
    });
    expect(ev.type).toBe('Normal');
    if (mode === 'cluster-wide') {
      const text = await (await fetch(`${op.healthUrl}/metrics`)).text();
      expect(metricValue(text, 'ocsp_operator_staple_expiry_seconds', { namespace: apps.name, name: 'web' })).toBeGreaterThan(0);
      operatorMetrics = text;
    }
  });

  it('makes an automatic OcspStaple for an opted-in cert-manager Secret and removes it when the opt-in goes', async () => {
    const annotations = { 'cert-manager.io/certificate-name': 'auto', 'ocsp-operator.dev/staple': 'true' };
    await putSecret(admin, tlsSecret(apps.name, 'auto-tls', { certPem: leaf.auto.chainPem, keyPem: leaf.auto.keyPem }, annotations));
    const made = await waitFor('the automatic OcspStaple', () => admin.getOrUndefined<KubeObject>(OcspStapleType, apps.name, 'auto-tls'));
    expect(made.metadata?.labels?.['ocsp-operator.dev/auto']).toBe('true');
    await waitForReason(admin, apps.name, 'auto-tls', 'Stapled', 30_000);
    await waitFor('AutoStapleCreated Event on the Secret', async () => {
      const list = await admin.list<EventObject>(EventType, { namespace: apps.name });
      return list.items.some((e) => e.regarding?.kind === 'Secret' && e.regarding.name === 'auto-tls' && e.reason === 'AutoStapleCreated');
    });
    await admin.mergePatch(
      SecretType,
      { namespace: apps.name, name: 'auto-tls' },
      { metadata: { annotations: { 'ocsp-operator.dev/staple': null } } },
    );
    await waitFor('the automatic OcspStaple deleted', async () => !(await admin.getOrUndefined(OcspStapleType, apps.name, 'auto-tls')));
  });

  it('asks cert-manager to reissue a revoked certificate (Certificate spec and status patched)', async () => {
    await admin.create(CertificateType, {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name: 'rev', namespace: apps.name },
      spec: { secretName: 'rev-tls', dnsNames: ['rev.test'], issuerRef: { name: 'ca' } },
    } as KubeObject);
    await putSecret(
      admin,
      tlsSecret(
        apps.name,
        'rev-tls',
        { certPem: leaf.rev.chainPem, keyPem: leaf.rev.keyPem },
        { 'cert-manager.io/certificate-name': 'rev' },
      ),
    );
    await createStaple(admin, apps.name, 'rev', { secretName: 'rev-tls', onRevoked: { reissue: true } });
    const cert = await waitFor(
      'Issuing=True on the Certificate',
      async () => {
        const c = await admin.get<CertificateObj>(CertificateType, apps.name, 'rev');
        return c.status?.conditions?.some((x) => x.type === 'Issuing' && x.status === 'True') ? c : undefined;
      },
      30_000,
    );
    expect(cert.spec?.privateKey?.rotationPolicy).toBe('Always'); // keyCompromise: a new key too
    // the status (written after the Certificate) says what the CA said
    await waitFor(
      'status certStatus revoked',
      async () => (await getStaple(admin, apps.name, 'rev')).status?.staple?.certStatus === 'revoked',
    );
  });

  it(
    mode === 'namespaced' ? 'is denied Secrets outside its namespaces, and leaves their OcspStaples alone' : 'reaches every namespace',
    async () => {
      await putSecret(admin, tlsSecret(other.name, 'elsewhere-tls', { certPem: leaf.elsewhere.chainPem, keyPem: leaf.elsewhere.keyPem }));
      await createStaple(admin, other.name, 'elsewhere', { secretName: 'elsewhere-tls' });
      const inOther = await statusOf(sa.get<Secret>(SecretType, other.name, 'elsewhere-tls'));
      const listOther = await statusOf(sa.list<Secret>(SecretType, { namespace: other.name }));
      const listAll = await statusOf(sa.list<Secret>(SecretType));
      const inApps = await statusOf(sa.get<Secret>(SecretType, apps.name, 'web-tls'));
      expect(inApps).toBe(200);
      if (mode === 'namespaced') {
        expect({ inOther, listOther, listAll }).toEqual({ inOther: 403, listOther: 403, listAll: 403 });
        // the same through kubectl, as a person would check it
        const denied = await kubectl(['auth', 'can-i', 'get', 'secrets', '-n', other.name], saKubeconfig);
        expect(denied.stdout.trim()).toBe('no');
        // A staple made after it in the operator's own namespace is served: the operator was
        // working all along, and still left the other namespace's alone.
        await createStaple(admin, apps.name, 'after-elsewhere', { secretName: 'web-tls', stapleSecretName: 'after-elsewhere-ocsp' });
        await waitForReason(admin, apps.name, 'after-elsewhere', 'Stapled', 30_000);
        expect((await getStaple(admin, other.name, 'elsewhere')).status).toBeUndefined();
      } else {
        expect({ inOther, listOther, listAll }).toEqual({ inOther: 200, listOther: 200, listAll: 200 });
        await waitForReason(admin, other.name, 'elsewhere', 'Stapled', 30_000);
      }
    },
  );

  it('runs a pool: its workloads, Ingress, HPAs and budgets applied, and those the spec drops deleted', async () => {
    await createCaObjects(admin, apps.name, ca, [leaf.web]);
    const spec = {
      ...MINIMAL_REDIS_POOL_SPEC,
      responder: {
        ingress: { hosts: ['ocsp.rbac.test'] },
        autoscaling: { maxReplicas: 3 },
        pod: { resources: { requests: { cpu: '100m' } } },
      },
    };
    await admin.create(OcspResponderPoolType, {
      apiVersion: 'ocsp-operator.dev/v1alpha1',
      kind: 'OcspResponderPool',
      metadata: { name: 'pool', namespace: apps.name },
      spec,
    } as KubeObject);
    const made = [
      [IngressType, 'pool'],
      [HorizontalPodAutoscalerType, 'pool-responder-0'],
      [PodDisruptionBudgetType, 'pool-responder'],
      [PodDisruptionBudgetType, 'pool-signer'],
      [DeploymentType, 'pool-responder-0'],
    ] as const;
    await waitFor(
      "the pool's objects",
      async () => (await Promise.all(made.map(([t, n]) => admin.getOrUndefined(t, apps.name, n)))).every(Boolean),
      30_000,
    );
    await replaceSpec(admin, OcspResponderPoolType, apps.name, 'pool', { ...spec, responder: {} });
    await waitFor(
      'the Ingress and the HPA deleted',
      async () =>
        !(await admin.getOrUndefined(IngressType, apps.name, 'pool')) &&
        !(await admin.getOrUndefined(HorizontalPodAutoscalerType, apps.name, 'pool-responder-0')),
      30_000,
    );
  });

  it('has no rights beyond its job: no Secret deletes, no other Lease, no RBAC escalation, no Pods', async () => {
    const can = async (...args: string[]) => (await kubectl(['auth', 'can-i', ...args], saKubeconfig)).stdout.trim();
    expect(await can('delete', 'secrets', '-n', apps.name)).toBe('no');
    expect(await can('get', `leases/${leaseName}`, '-n', release.name)).toBe('yes');
    expect(await can('update', 'leases/someone-elses', '-n', release.name)).toBe('no');
    // Pools give their pods a Role for their report ConfigMap, so Roles and RoleBindings may be
    // made; but never beyond what the operator holds itself, nor to a ClusterRole it cannot bind.
    expect(await can('escalate', 'roles.rbac.authorization.k8s.io', '-n', apps.name)).toBe('no');
    expect(await can('bind', 'clusterroles.rbac.authorization.k8s.io')).toBe('no');
    expect(await can('create', 'clusterrolebindings.rbac.authorization.k8s.io')).toBe('no');
    expect(await can('list', 'pods', '-n', apps.name)).toBe('no');
    // Pool pods' readiness comes from their Services' EndpointSlices: read, never written.
    expect(await can('watch', 'endpointslices.discovery.k8s.io', '-n', apps.name)).toBe('yes');
    expect(await can('create', 'endpointslices.discovery.k8s.io', '-n', apps.name)).toBe('no');
    expect(await can('create', 'events.events.k8s.io', '-n', apps.name)).toBe('yes');
    expect(await can('update', 'ocspstaples.ocsp-operator.dev', '--subresource=status', '-n', apps.name)).toBe('yes');
    expect(await statusOf(sa.delete(SecretType, apps.name, 'web-tls'))).toBe(403);
    expect(await statusOf(sa.get(LeaseType, release.name, 'someone-elses'))).toBe(403);
  });

  it("can grant a Redis pool's pods their Role (its report ConfigMap; get and watch of the signer StatefulSet): no escalation", async () => {
    const { workloads } = renderPool(MINIMAL_REDIS_POOL_SPEC, { name: 'grant-check', namespace: apps.name });
    const role = workloads.find((w) => w.object.kind === 'Role');
    expect(JSON.stringify(role?.object), 'the rendered Role names the StatefulSet').toContain('"statefulsets"');
    // The apiserver refuses a Role that grants more than its creator holds (RBAC escalation check).
    const created = await sa.create(role!.type, { ...role!.object, metadata: { ...role!.object.metadata, ownerReferences: undefined } });
    expect(created.metadata?.name).toBe('grant-check');
    await sa.delete(role!.type, apps.name, 'grant-check');
  });

  it('was never denied anything while doing its job (no RBAC denial in its log)', () => {
    const denials = op
      .logs()
      .split('\n')
      .filter((l) => RBAC_DENIAL.test(l));
    expect(denials).toEqual([]);
  });
});

describe('pools.enabled=false: the operator staples with the staple rules alone', () => {
  let dir: string;
  let release: { name: string; remove(): Promise<void> };
  let apps: { name: string; remove(): Promise<void> };
  let rbacFile: string;
  let saKubeconfig = '';
  let op: OperatorProcess;
  const releaseName = `rbac-np-${Math.random().toString(36).slice(2, 7)}`;
  /** Everything only a pool needs; none of it may be granted. */
  const POOL_RESOURCES = [
    'ocspresponderpools',
    'deployments',
    'statefulsets',
    'services',
    'serviceaccounts',
    'roles',
    'rolebindings',
    'ingresses',
    'horizontalpodautoscalers',
    'poddisruptionbudgets',
    'endpointslices',
    'configmaps',
  ];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ocsp-rbac-np-'));
    release = await createNamespace(admin, 'ops');
    apps = await createNamespace(admin, 'apps');
    const objs = parseManifests(await helmTemplate(releaseName, release.name, { set: { 'pools.enabled': false } }));
    const [cr] = ofKind(objs, 'ClusterRole');
    expect(
      cr?.rules?.flatMap((r) => r.resources ?? []).filter((r) => POOL_RESOURCES.some((p) => r === p || r.startsWith(`${p}/`))),
    ).toEqual([]);
    const rbac = objs.filter((o) => ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(o.kind ?? ''));
    rbacFile = join(dir, 'rbac.yaml');
    await writeFile(rbacFile, rbac.map((o) => JSON.stringify(o)).join('\n---\n'));
    const applied = await kubectl(['apply', '-f', rbacFile]);
    expect(applied.code, applied.stderr).toBe(0);
    const { spec, container } = deploymentOf(objs);
    saKubeconfig = await serviceAccountKubeconfig(admin, release.name, spec.template.spec.serviceAccountName ?? '', dir);
    const args = (container.args ?? []).filter((a) => a !== 'controller' && !a.startsWith('--health-addr'));
    expect(args).toContain('--pools=false');
    op = await startOperator([...args, '--resync=60000'], { POD_NAME: `${releaseName}-pod` }, saKubeconfig);
    // Ready means every informer it started has synced: a pool informer would be denied and never sync.
    await waitFor('operator ready with the staple rules alone', async () => (await fetch(`${op.healthUrl}/readyz`)).status === 200, 30_000);
  });

  afterAll(async () => {
    await op?.stop();
    if (rbacFile) await kubectl(['delete', '--ignore-not-found', '-f', rbacFile]);
    await Promise.all([release, apps].map((n) => n?.remove()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("holds none of the pools' rights, staples, leaves an OcspResponderPool alone, and is denied nothing", async () => {
    const can = async (...args: string[]) => (await kubectl(['auth', 'can-i', ...args], saKubeconfig)).stdout.trim();
    for (const r of [
      'deployments.apps',
      'statefulsets.apps',
      'services',
      'configmaps',
      'roles.rbac.authorization.k8s.io',
      'ingresses.networking.k8s.io',
      'endpointslices.discovery.k8s.io',
      'ocspresponderpools.ocsp-operator.dev',
    ]) {
      expect(await can('list', r, '-n', apps.name), r).toBe('no');
    }
    await admin.create(OcspResponderPoolType, {
      apiVersion: 'ocsp-operator.dev/v1alpha1',
      kind: 'OcspResponderPool',
      metadata: { name: 'pool', namespace: apps.name },
      spec: {
        issuer: { secretName: 'ca' },
        signing: { softwareKey: { secretName: 'ca' } },
        sources: [{ opensslIndex: { configMapName: 'ca-db' } }],
      },
    } as KubeObject);
    // A staple made after the pool is served: the operator was working all along.
    await putSecret(admin, tlsSecret(apps.name, 'web-tls', { certPem: leaf.web.chainPem, keyPem: leaf.web.keyPem }));
    await createStaple(admin, apps.name, 'web', { secretName: 'web-tls' });
    await waitForReason(admin, apps.name, 'web', 'Stapled', 30_000);
    expect((await admin.get<KubeObject & { status?: unknown }>(OcspResponderPoolType, apps.name, 'pool')).status).toBeUndefined();
    const metrics = await (await fetch(`${op.healthUrl}/metrics`)).text();
    expect(metrics).toMatch(/controller="staple"/);
    expect(metrics).not.toMatch(/controller="pool"/);
    expect(op.logLines().find((l) => l.msg === 'controller running')?.pools).toBe(false);
    expect(
      op
        .logs()
        .split('\n')
        .filter((l) => RBAC_DENIAL.test(l)),
    ).toEqual([]);
  });
});

describe('the PrometheusRule uses only metrics that the processes export (operator, signer, responder)', () => {
  let dir: string;
  let store: EmbeddedStore | undefined;
  let responder: Awaited<ReturnType<typeof startResponder>> | undefined;
  let signer: ChildProcess | undefined;
  afterAll(async () => {
    if (signer && signer.exitCode === null) {
      const exited = new Promise((r) => signer?.once('exit', r));
      signer.kill('SIGTERM');
      await exited;
    }
    await responder?.close();
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Metric family names declared in a Prometheus text exposition. */
  function families(text: string): Set<string> {
    return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] ?? ''));
  }

  it("every ocsp_operator_* name in the rules is in the operator's /metrics, every ocsp_signer_* in a signer's, every ocsp_responder_* in a responder's", async () => {
    expect(operatorMetrics, 'the cluster-wide operator was scraped after stapling').toContain('ocsp_operator_staple_expiry_seconds{');
    dir = await mkdtemp(join(tmpdir(), 'ocsp-rule-'));
    store = await EmbeddedStore.open({ path: join(dir, 'responses.log') });
    responder = await startResponder({ store, issuers: [ca.cert], lagPolicy: 'Unauthorized', logLevel: 'silent' });
    const responderMetrics = await (await fetch(new URL('/metrics', responder.url))).text();

    // a signer as a pool runs it (`ocsp-operator signer`), with a software key and /metrics
    const other = await issueLeaf(ca, { dnsNames: ['signed.test'] });
    await writeFile(join(dir, 'index.txt'), indexTxt([{ cert: other.cert, status: 'V' }]));
    await writeFile(join(dir, 'index.txt.attr'), 'unique_subject = no\n');
    await writeFile(join(dir, 'ca.pem'), ca.certPem);
    await writeFile(join(dir, 'ca.key'), ca.keyPem, { mode: 0o600 });
    const port = await freePort();
    signer = spawn(
      process.execPath,
      [
        join(repoRoot(), 'dist', 'src', 'cli.js'),
        'signer',
        '--index',
        join(dir, 'index.txt'),
        '--ca-cert',
        join(dir, 'ca.pem'),
        '--key-file',
        join(dir, 'ca.key'),
        '--store-dir',
        join(dir, 'signer-store'),
        '--metrics-addr',
        `127.0.0.1:${port}`,
        '--interval',
        '1s',
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let signerOut = '';
    signer.stdout?.on('data', (d: Buffer) => (signerOut += d.toString()));
    signer.stderr?.on('data', (d: Buffer) => (signerOut += d.toString()));
    const signerMetrics = await waitFor(
      "the signer's /metrics after a round",
      async () => {
        if (signer?.exitCode !== null) throw new Error(`signer exited with ${signer?.exitCode}: ${signerOut}`);
        const t = await (await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined))?.text();
        return t && /^ocsp_signer_signatures_total\{[^}]*\} [1-9]/m.test(t) ? t : undefined;
      },
      30_000,
    );

    const objs = parseManifests(
      await helmTemplate('rules', 'monitoring', {
        set: { 'prometheusRule.enabled': true, 'prometheusRule.signers.enabled': true, 'prometheusRule.responders.enabled': true },
      }),
    );
    const [rule] = ofKind(objs, 'PrometheusRule');
    const groups = (rule?.spec as { groups: Array<{ rules: Array<{ alert: string; expr: string | number }> }> }).groups;
    const exprs = groups.flatMap((g) => g.rules.map((r) => ({ alert: r.alert, expr: String(r.expr) })));
    expect(exprs.length).toBeGreaterThanOrEqual(15);
    expect(groups.map((g) => (g as { name?: string }).name)).toEqual([
      'ocsp-operator.staples',
      'ocsp-operator.pools',
      'ocsp-operator.signers',
      'ocsp-operator.responders',
    ]);
    const operator = families(operatorMetrics);
    const resp = families(responderMetrics);
    const sign = families(signerMetrics);
    const missing: string[] = [];
    const used = new Set<string>();
    for (const { alert, expr } of exprs) {
      const names = [...expr.matchAll(/\b(ocsp_[a-z0-9_]+)\b/g)].map((m) => m[1] ?? '');
      expect(names.length, `${alert} uses no operator metric: ${expr}`).toBeGreaterThan(0);
      for (const n of names) {
        used.add(n);
        const exported = n.startsWith('ocsp_responder_') ? resp : n.startsWith('ocsp_signer_') ? sign : operator;
        if (!exported.has(n)) missing.push(`${alert}: ${n}`);
      }
    }
    expect(missing).toEqual([]);
    process.stderr.write(
      `PrometheusRule: ${exprs.length} alerts over ${used.size} metrics, all exported: ${[...used].sort().join(', ')}\n`,
    );
  });
});
