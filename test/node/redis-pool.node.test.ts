// A Redis pool on the real node: Redis (Debian's redis-server in an image built here) as a primary
// and two replicas, each a Deployment behind its own Service; the operator installed by its chart
// renders the signer StatefulSet and one responder Deployment per replica, and the real
// StatefulSet controller scales the signers on a real backlog: an RSA-4096 CA key (slow on
// purpose) and thousands of certificates in the CA database, so one signer cannot drain it within
// the target time. A replica that stops replicating takes its responders out of the Service's
// endpoints through their real readiness probes.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OcspResponderPoolType, type KubeObject } from '../../src/kube/types.js';
import { kubeClient, waitFor } from '../support/kube.js';
import { apply, clientPod, installOperator, kubectlOk, nodeImage, nodeUnavailable, restrictedDeployment, restrictedNamespace, waitForReadyPods, type ClientPod } from '../support/node.js';

const run = promisify(execFile);
const unavailable = nodeUnavailable();
const client = kubeClient();
// ~47 bytes an index line: 15,000 stay well inside a ConfigMap's 1 MiB.
const CERTIFICATES = 15_000;

interface PoolObj extends KubeObject {
  status?: {
    conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
    certificates?: number;
    backlog?: number;
    signers?: { desired?: number; ready?: number; signaturesPerSecond?: number };
    responders?: { ready?: number; outOfRotation?: string[] };
    replication?: Array<{ replica: string; lagSeconds?: number; inRotation?: boolean }>;
  };
}

/** One Redis server: a Deployment and a Service of the same name. */
function redis(namespace: string, name: string, args: string[]): object[] {
  return [
    restrictedDeployment(namespace, name, {
      containers: [{
        name: 'redis',
        image: nodeImage('redis'),
        args: ['redis-server', '--protected-mode', 'no', '--dir', '/data', '--save', '', '--appendonly', 'no', ...args],
        ports: [{ name: 'redis', containerPort: 6379 }],
        readinessProbe: { exec: { command: ['redis-cli', 'ping'] }, periodSeconds: 2 },
        volumeMounts: [{ name: 'data', mountPath: '/data' }],
      }],
      volumes: [{ name: 'data', emptyDir: {} }],
    }),
    { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { selector: { app: name }, ports: [{ name: 'redis', port: 6379, targetPort: 'redis' }] } },
  ];
}

describe.skipIf(unavailable)('a Redis pool on the real node', { timeout: 900_000 }, () => {
  let operator: { namespace: string; uninstall(): Promise<void> };
  let ns: { name: string; remove(): Promise<void> };
  let dir: string;
  let asker: ClientPod;
  const svc = (name: string) => `redis://${name}.${ns.name}.svc.cluster.local:6379`;
  const getPool = () => client.get<PoolObj>(OcspResponderPoolType, ns.name, 'big-ca');

  beforeAll(async () => {
    operator = await installOperator('redis-op');
    ns = await restrictedNamespace('big-ca');
    dir = await mkdtemp(join(tmpdir(), 'redis-pool-'));
    // The CA: an RSA-4096 key, so that signing is slow enough for a real backlog.
    const o = (args: string[]) => run('openssl', args, { cwd: dir });
    await o(['req', '-x509', '-newkey', 'rsa:4096', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '365', '-subj', '/CN=Node Redis Pool CA']);
    await o(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=leaf.test']);
    await o(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', '0x0BADC0DE0001', '-out', 'leaf.crt', '-days', '20']);
    const [caCrt, caKey, leafCrt] = await Promise.all(['ca.crt', 'ca.key', 'leaf.crt'].map((f) => readFile(join(dir, f), 'utf8')));
    // The CA database: the real leaf plus CERTIFICATES synthetic entries (the signers sign by serial).
    const expiry = '361231235959Z';
    const lines = [`V\t${expiry}\t\t0BADC0DE0001\tunknown\t/CN=leaf.test`];
    for (let i = 0; i < CERTIFICATES; i++) lines.push(`V\t${expiry}\t\t${(0x10000000 + i).toString(16).toUpperCase()}\tunknown\t/CN=bulk${i}.test`);
    await apply([
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'ca', namespace: ns.name }, stringData: { 'tls.crt': caCrt, 'tls.key': caKey } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ca-db', namespace: ns.name }, data: { 'index.txt': `${lines.join('\n')}\n` } },
      ...redis(ns.name, 'redis-primary', []),
      ...redis(ns.name, 'redis-replica-0', ['--replicaof', `redis-primary.${ns.name}.svc.cluster.local`, '6379']),
      ...redis(ns.name, 'redis-replica-1', ['--replicaof', `redis-primary.${ns.name}.svc.cluster.local`, '6379']),
    ]);
    for (const name of ['redis-primary', 'redis-replica-0', 'redis-replica-1']) await waitForReadyPods(ns.name, `app=${name}`, 1);
    asker = await clientPod(ns.name, 'asker', { 'ca.pem': caCrt!, 'leaf.pem': leafCrt! });
  }, 600_000);

  afterAll(async () => {
    await ns?.remove();
    await operator?.uninstall();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the StatefulSet controller scales the signers 1 → more on the real backlog and back after the window; the responders serve', async () => {
    const t0 = Date.now();
    const timeline: string[] = [];
    const mark = (what: string) => timeline.push(`${((Date.now() - t0) / 1000).toFixed(1)} s  ${what}`);
    await apply([{
      apiVersion: 'ocsp-operator.dev/v1alpha1',
      kind: 'OcspResponderPool',
      metadata: { name: 'big-ca', namespace: ns.name },
      spec: {
        issuer: { secretName: 'ca' },
        signing: { softwareKey: { secretName: 'ca' } },
        delegatedResponder: { mode: 'None' },
        sources: [{ opensslIndex: { configMapName: 'ca-db' } }],
        store: { type: 'Redis', redis: { primaryURL: svc('redis-primary'), replicaURLs: [svc('redis-replica-0'), svc('redis-replica-1')] } },
        responder: { replicas: 2, maxReplicationLag: '5s' },
        signers: { minReplicas: 1, maxReplicas: 3, targetDrainTime: '10s', stabilizationWindow: '60s' },
      },
    }]);
    mark(`pool ${ns.name}/big-ca applied with ${CERTIFICATES + 1} certificates`);
    let peak = 0;
    let peakBacklog = 0;
    await waitFor(`${ns.name}/big-ca-signer scaled above 1 by the operator`, async () => {
      const p = await getPool();
      peakBacklog = Math.max(peakBacklog, p.status?.backlog ?? 0);
      const desired = p.status?.signers?.desired ?? 0;
      peak = Math.max(peak, desired);
      return desired > 1;
    }, 300_000, 1_000);
    mark(`operator set the signer StatefulSet to ${peak} replicas (backlog ${peakBacklog})`);
    const running = await waitFor(`${ns.name}/big-ca-signer pods Running and Ready`, async () => {
      const sts = JSON.parse(await kubectlOk(['-n', ns.name, 'get', 'statefulset', 'big-ca-signer', '-o', 'json'])) as { spec: { replicas: number }; status: { readyReplicas?: number } };
      return sts.status.readyReplicas !== undefined && sts.status.readyReplicas > 1 ? sts.status.readyReplicas : undefined;
    }, 240_000, 1_000);
    mark(`the StatefulSet controller and the kubelet run ${running} signer pods Ready`);
    await waitFor(`${ns.name}/big-ca backlog drained`, async () => (await getPool()).status?.backlog === 0, 600_000, 2_000);
    mark('backlog 0');
    await waitFor(`${ns.name}/big-ca-signer back to 1 replica after the stabilization window`, async () => {
      const sts = JSON.parse(await kubectlOk(['-n', ns.name, 'get', 'statefulset', 'big-ca-signer', '-o', 'json'])) as { spec: { replicas: number }; status: { replicas?: number } };
      return sts.spec.replicas === 1 && sts.status.replicas === 1;
    }, 300_000, 2_000);
    mark('signers back to 1');
    process.stderr.write(`[node redis pool] scaling timeline:\n  ${timeline.join('\n  ')}\n`);

    const r = await asker.exec(['openssl', 'ocsp', '-issuer', '/work/ca.pem', '-cert', '/work/leaf.pem', '-url', `http://big-ca.${ns.name}.svc.cluster.local/`, '-CAfile', '/work/ca.pem', '-no_nonce', '-timeout', '5']);
    const answer = r.stdout + r.stderr;
    expect(answer, `the responder Service ${ns.name}/big-ca answers good for leaf 0BADC0DE0001`).toMatch(/leaf\.pem: good/);
    expect(answer, `openssl verified ${ns.name}/big-ca's answer`).toMatch(/Response verify OK/);
    expect(peak, 'the operator asked for more than one signer').toBeGreaterThan(1);
  });

  it("a replica that stops replicating: its responder's readiness fails and it leaves the Service's endpoints; it returns after catch-up", async () => {
    const readyEndpoints = async () => {
      const slices = JSON.parse(await kubectlOk(['-n', ns.name, 'get', 'endpointslices', '-l', 'kubernetes.io/service-name=big-ca', '-o', 'json'])) as { items: Array<{ endpoints?: Array<{ conditions?: { ready?: boolean }; targetRef?: { name?: string } }> }> };
      return slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready).map((e) => e.targetRef?.name ?? '');
    };
    await waitForReadyPods(ns.name, 'ocsp-operator.dev/replica=1', 1, 180_000);
    const before = await readyEndpoints();
    expect(before.some((n) => n.startsWith('big-ca-responder-1-')), `a big-ca-responder-1 pod is a ready endpoint of ${ns.name}/big-ca: ${before.join(', ')}`).toBe(true);
    const [replica] = await waitForReadyPods(ns.name, 'app=redis-replica-1', 1);
    const t0 = Date.now();
    await kubectlOk(['-n', ns.name, 'exec', replica!.name, '--', 'redis-cli', 'replicaof', 'no', 'one']);
    const out = await waitFor(`big-ca-responder-1 out of ${ns.name}/big-ca's ready endpoints`, async () => {
      const eps = await readyEndpoints();
      return eps.some((n) => n.startsWith('big-ca-responder-1-')) ? undefined : eps;
    }, 60_000, 250);
    const outMs = Date.now() - t0;
    expect(out.some((n) => n.startsWith('big-ca-responder-0-')), `responder-0 stays in rotation: ${out.join(', ')}`).toBe(true);
    const pool = await waitFor(`${ns.name}/big-ca names the lagging replica`, async () => {
      const p = await getPool();
      // The pool reports replication per responder pod; responder-1 reads redis-replica-1.
      return p.status?.replication?.some((x) => x.replica.startsWith('big-ca-responder-1-') && x.inRotation === false) ? p : undefined;
    }, 60_000, 500);
    const t1 = Date.now();
    await kubectlOk(['-n', ns.name, 'exec', replica!.name, '--', 'redis-cli', 'replicaof', `redis-primary.${ns.name}.svc.cluster.local`, '6379']);
    await waitFor(`big-ca-responder-1 back in ${ns.name}/big-ca's ready endpoints`, async () => (await readyEndpoints()).some((n) => n.startsWith('big-ca-responder-1-')), 120_000, 250);
    process.stderr.write(`[node redis pool] replica 1 detached: out of the Service's endpoints after ${outMs} ms (readiness period 2 s, maxReplicationLag 5s); back ${Date.now() - t1} ms after re-attaching; pool status replication: ${JSON.stringify(pool.status?.replication)}\n`);
  });
});
