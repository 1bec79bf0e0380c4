// A Redis pool on the real node: Redis (Debian's redis-server in an image built here) as a primary
// and two replicas, each a Deployment behind its own Service; the operator installed by its chart
// renders the signer StatefulSet and one responder Deployment per replica, and the real
// StatefulSet controller scales the signers on a real backlog: an RSA-4096 CA key (slow on
// purpose) and thousands of certificates in the CA database, so one signer cannot drain it within
// the target time. Scaling 1 → 3 → 1 restarts no signer: each learns its share from the
// StatefulSet at run time (src/signer/shard-source.ts), and their own reports show every serial
// signed and how many were signed twice. A replica that stops replicating takes its responders
// out of the Service's endpoints through their real readiness probes.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OcspResponderPoolType, type KubeObject } from '../../src/kube/types.js';
import { kubeClient, waitFor } from '../support/kube.js';
import {
  apply,
  clientPod,
  type ClientPod,
  installOperator,
  kubectlOk,
  nodeImage,
  nodeUnavailable,
  restrictedDeployment,
  restrictedNamespace,
  stopwatch,
  waitForReadyPods,
} from '../support/node.js';
import { signedTotal, watchSignerShares } from '../support/signer-shares.js';

const run = promisify(execFile);
const unavailable = nodeUnavailable();
const client = kubeClient();
// ~47 bytes an index line: 15,000 stay well inside a ConfigMap's 1 MiB.
const CERTIFICATES = 15_000;
const MAX_SIGNERS = 3;
// What one signer can have signed and not yet stored when another one reads the store, the most
// a share change can sign twice per signer (src/signer/signer.ts defaults: 4 sessions, two workers
// each; batches of 256, at most 2 puts waiting plus the one being filled and one more in flight).
// A round ends at the first item after the change, so a round's --max-per-round does not count.
const IN_FLIGHT = 2 * 4 + 4 * 256;

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
      containers: [
        {
          name: 'redis',
          image: nodeImage('redis'),
          args: ['redis-server', '--protected-mode', 'no', '--dir', '/data', '--save', '', '--appendonly', 'no', ...args],
          ports: [{ name: 'redis', containerPort: 6379 }],
          readinessProbe: { exec: { command: ['redis-cli', 'ping'] }, periodSeconds: 2 },
          volumeMounts: [{ name: 'data', mountPath: '/data' }],
        },
      ],
      volumes: [{ name: 'data', emptyDir: {} }],
    }),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace },
      spec: { selector: { app: name }, ports: [{ name: 'redis', port: 6379, targetPort: 'redis' }] },
    },
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
    await o([
      'req',
      '-x509',
      '-newkey',
      'rsa:4096',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '365',
      '-subj',
      '/CN=Node Redis Pool CA',
    ]);
    await o([
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'leaf.key',
      '-out',
      'leaf.csr',
      '-subj',
      '/CN=leaf.test',
    ]);
    await o([
      'x509',
      '-req',
      '-in',
      'leaf.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-set_serial',
      '0x0BADC0DE0001',
      '-out',
      'leaf.crt',
      '-days',
      '20',
    ]);
    const [caCrt, caKey, leafCrt] = await Promise.all(['ca.crt', 'ca.key', 'leaf.crt'].map((f) => readFile(join(dir, f), 'utf8')));
    // The CA database: the real leaf plus CERTIFICATES synthetic entries (the signers sign by serial).
    const expiry = '361231235959Z';
    const lines = [`V\t${expiry}\t\t0BADC0DE0001\tunknown\t/CN=leaf.test`];
    for (let i = 0; i < CERTIFICATES; i++)
      lines.push(`V\t${expiry}\t\t${(0x10000000 + i).toString(16).toUpperCase()}\tunknown\t/CN=bulk${i}.test`);
    await apply([
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'ca', namespace: ns.name },
        stringData: { 'tls.crt': caCrt, 'tls.key': caKey },
      },
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'ca-db', namespace: ns.name },
        data: { 'index.txt': `${lines.join('\n')}\n` },
      },
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

  it('the StatefulSet controller scales the signers 1 → 3 → 1 on the real backlog; no signer restarts, every serial is signed, double signing is measured; the responders serve', async () => {
    const { mark, lines: timeline } = stopwatch();
    await apply([
      {
        apiVersion: 'ocsp-operator.dev/v1alpha1',
        kind: 'OcspResponderPool',
        metadata: { name: 'big-ca', namespace: ns.name },
        spec: {
          issuer: { secretName: 'ca' },
          signing: { softwareKey: { secretName: 'ca' } },
          delegatedResponder: { mode: 'None' },
          sources: [{ opensslIndex: { configMapName: 'ca-db' } }],
          store: {
            type: 'Redis',
            redis: { primaryURL: svc('redis-primary'), replicaURLs: [svc('redis-replica-0'), svc('redis-replica-1')] },
          },
          responder: { replicas: 2, maxReplicationLag: '5s' },
          // A short drain target: the backlog left after the first round asks for all three.
          signers: { minReplicas: 1, maxReplicas: MAX_SIGNERS, targetDrainTime: '2s', stabilizationWindow: '60s' },
        },
      },
    ]);
    mark(`pool ${ns.name}/big-ca applied with ${CERTIFICATES + 1} certificates`);
    const shares = watchSignerShares(client, ns.name, 'big-ca');
    try {
      let peakBacklog = 0;
      await waitFor(
        `${ns.name}/big-ca-signer scaled to ${MAX_SIGNERS} by the operator`,
        async () => {
          const p = await getPool();
          peakBacklog = Math.max(peakBacklog, p.status?.backlog ?? 0);
          return shares.now().replicas.some((r) => r.replicas >= MAX_SIGNERS);
        },
        300_000,
        1_000,
      );
      mark(`operator set the signer StatefulSet to ${MAX_SIGNERS} replicas (backlog ${peakBacklog})`);
      await waitFor(
        `${MAX_SIGNERS} ${ns.name}/big-ca-signer pods Ready`,
        () => shares.now().ready.some((r) => r.ready >= MAX_SIGNERS),
        240_000,
        500,
      );
      mark(`the StatefulSet controller and the kubelet run ${MAX_SIGNERS} signer pods Ready`);
      await waitFor(`${ns.name}/big-ca backlog drained`, async () => (await getPool()).status?.backlog === 0, 600_000, 2_000);
      mark('backlog 0');
      // Down to one pod, and signer-0 has said so itself: its report follows the StatefulSet's watch.
      await waitFor(
        `${ns.name}/big-ca-signer back to 1 replica after the stabilization window, and signer-0 reporting 0/1`,
        () => {
          const o = shares.now();
          return (
            o.replicas.at(-1)?.replicas === 1 &&
            o.existing.at(-1)?.replicas === 1 &&
            o.reports.get('big-ca-signer-0')?.shares.at(-1) === '0/1'
          );
        },
        300_000,
        1_000,
      );
      mark('signers back to 1');
    } catch (err) {
      await shares.stop();
      throw err;
    }
    const seen = await shares.stop();
    const at = (list: Array<{ atS: number }>, i: number) => list[i]?.atS ?? NaN;
    const up = seen.replicas.findIndex((r) => r.replicas >= MAX_SIGNERS);
    const readyAll = seen.ready.findIndex((r) => r.ready >= MAX_SIGNERS);
    const down = seen.replicas.findIndex((r, i) => i > up && r.replicas === 1);
    const gone = seen.existing.findIndex((r) => r.replicas === 1 && r.atS >= at(seen.replicas, down));
    process.stderr.write(`[node redis pool] scaling timeline:\n  ${timeline.join('\n  ')}\n`);
    process.stderr.write(
      `[node redis pool] StatefulSet replicas ${JSON.stringify(seen.replicas)}, ready ${JSON.stringify(seen.ready)}, pods ${JSON.stringify(seen.existing)}; ` +
        `to ${MAX_SIGNERS} Ready ${(at(seen.ready, readyAll) - at(seen.replicas, up)).toFixed(1)} s after replicas=${MAX_SIGNERS}, back to 1 pod ${(at(seen.existing, gone) - at(seen.replicas, down)).toFixed(1)} s after replicas=1\n`,
    );

    // Nothing restarted: one template revision, and every signer pod kept its UID and never restarted.
    const revisions = JSON.parse(
      await kubectlOk([
        '-n',
        ns.name,
        'get',
        'controllerrevisions',
        '-l',
        'ocsp-operator.dev/pool=big-ca,app.kubernetes.io/component=signer',
        '-o',
        'json',
      ]),
    ) as { items: unknown[] };
    const pods = Object.fromEntries([...seen.pods].map(([name, h]) => [name, h]));
    // A missed sample loses nothing (the figures are maxima and changes), but most must succeed.
    expect(seen.errors.length, `the sampler read the cluster throughout: ${seen.errors.join('; ')}`).toBeLessThanOrEqual(seen.samples / 10);
    expect(Object.keys(pods).sort(), 'three signer pods ran').toEqual(['big-ca-signer-0', 'big-ca-signer-1', 'big-ca-signer-2']);
    expect(seen.revisions, 'the signer StatefulSet kept one revision across 1 → 3 → 1').toHaveLength(1);
    expect(revisions.items, 'one ControllerRevision: scaling never changed the pod template').toHaveLength(1);
    for (const [name, h] of Object.entries(pods)) {
      expect(h.uids, `${name} is one pod, never replaced`).toHaveLength(1);
      expect(h.maxRestarts, `${name} never restarted`).toBe(0);
      expect(h.revisions, `${name} runs the one revision`).toEqual(seen.revisions);
    }

    // Each signer moved between shares while running, as its own reports say.
    const reports = Object.fromEntries([...seen.reports].map(([pod, r]) => [pod, r]));
    process.stderr.write(`[node redis pool] signer reports: ${JSON.stringify(reports)}\n`);
    const shares0 = reports['big-ca-signer-0']?.shares ?? [];
    expect(
      [shares0[0], shares0.includes('0/3'), shares0.at(-1)],
      `signer-0: all, a third, all again, in one process: ${shares0.join(' → ')}`,
    ).toEqual(['0/1', true, '0/1']);
    expect(reports['big-ca-signer-1']?.shares).toContain('1/3');
    expect(reports['big-ca-signer-2']?.shares).toContain('2/3');

    // Every serial signed: the Redis primary holds a response for each certificate.
    const [primary] = await waitForReadyPods(ns.name, 'app=redis-primary', 1);
    const stored = Number(
      (
        await kubectlOk([
          '-n',
          ns.name,
          'exec',
          primary!.name,
          '--',
          'redis-cli',
          'eval',
          "return #redis.call('keys', ARGV[1])",
          '0',
          'ocsp:r:*',
        ])
      ).trim(),
    );
    expect(stored, 'a response in Redis for every certificate').toBe(CERTIFICATES + 1);
    // Signed twice: what the signers say they stored beyond one response per certificate.
    const total = signedTotal(seen);
    const twice = total - stored;
    const events = seen.replicas.slice(1).map((r, i) => Math.max(r.replicas, seen.replicas[i]!.replicas));
    const bound = events.reduce((n, pods) => n + pods * IN_FLIGHT, 0);
    process.stderr.write(
      `[node redis pool] double signing: ${total} signatures for ${stored} certificates: ${twice} twice (${((100 * twice) / stored).toFixed(2)} %); bound ${bound} (${events.length} scale events × signers × ${IN_FLIGHT} in flight)\n`,
    );
    expect(twice, 'no certificate went unsigned while signatures were counted').toBeGreaterThanOrEqual(0);
    expect(twice, 'double signing bounded by what was in flight at each share change').toBeLessThanOrEqual(bound);

    const r = await asker.exec([
      'openssl',
      'ocsp',
      '-issuer',
      '/work/ca.pem',
      '-cert',
      '/work/leaf.pem',
      '-url',
      `http://big-ca.${ns.name}.svc.cluster.local/`,
      '-CAfile',
      '/work/ca.pem',
      '-no_nonce',
      '-timeout',
      '5',
    ]);
    const answer = r.stdout + r.stderr;
    expect(answer, `the responder Service ${ns.name}/big-ca answers good for leaf 0BADC0DE0001`).toMatch(/leaf\.pem: good/);
    expect(answer, `openssl verified ${ns.name}/big-ca's answer`).toMatch(/Response verify OK/);
  });

  it("a replica that stops replicating: its responder's readiness fails and it leaves the Service's endpoints; it returns after catch-up", async () => {
    const readyEndpoints = async () => {
      const slices = JSON.parse(
        await kubectlOk(['-n', ns.name, 'get', 'endpointslices', '-l', 'kubernetes.io/service-name=big-ca', '-o', 'json']),
      ) as { items: Array<{ endpoints?: Array<{ conditions?: { ready?: boolean }; targetRef?: { name?: string } }> }> };
      return slices.items
        .flatMap((s) => s.endpoints ?? [])
        .filter((e) => e.conditions?.ready)
        .map((e) => e.targetRef?.name ?? '');
    };
    await waitForReadyPods(ns.name, 'ocsp-operator.dev/replica=1', 1, 180_000);
    const before = await readyEndpoints();
    expect(
      before.some((n) => n.startsWith('big-ca-responder-1-')),
      `a big-ca-responder-1 pod is a ready endpoint of ${ns.name}/big-ca: ${before.join(', ')}`,
    ).toBe(true);
    const [replica] = await waitForReadyPods(ns.name, 'app=redis-replica-1', 1);
    const t0 = Date.now();
    await kubectlOk(['-n', ns.name, 'exec', replica!.name, '--', 'redis-cli', 'replicaof', 'no', 'one']);
    const out = await waitFor(
      `big-ca-responder-1 out of ${ns.name}/big-ca's ready endpoints`,
      async () => {
        const eps = await readyEndpoints();
        return eps.some((n) => n.startsWith('big-ca-responder-1-')) ? undefined : eps;
      },
      60_000,
      250,
    );
    const outMs = Date.now() - t0;
    expect(
      out.some((n) => n.startsWith('big-ca-responder-0-')),
      `responder-0 stays in rotation: ${out.join(', ')}`,
    ).toBe(true);
    const pool = await waitFor(
      `${ns.name}/big-ca names the lagging replica`,
      async () => {
        const p = await getPool();
        // The pool reports replication per responder pod; responder-1 reads redis-replica-1.
        return p.status?.replication?.some((x) => x.replica.startsWith('big-ca-responder-1-') && x.inRotation === false) ? p : undefined;
      },
      60_000,
      500,
    );
    const t1 = Date.now();
    await kubectlOk([
      '-n',
      ns.name,
      'exec',
      replica!.name,
      '--',
      'redis-cli',
      'replicaof',
      `redis-primary.${ns.name}.svc.cluster.local`,
      '6379',
    ]);
    await waitFor(
      `big-ca-responder-1 back in ${ns.name}/big-ca's ready endpoints`,
      async () => (await readyEndpoints()).some((n) => n.startsWith('big-ca-responder-1-')),
      120_000,
      250,
    );
    process.stderr.write(
      `[node redis pool] replica 1 detached: out of the Service's endpoints after ${outMs} ms (readiness period 2 s, maxReplicationLag 5s); back ${Date.now() - t1} ms after re-attaching; pool status replication: ${JSON.stringify(pool.status?.replication)}\n`,
    );
  });
});
