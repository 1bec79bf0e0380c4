// Pool writes benchmark (issue 13, point 7): how many mutating requests one OcspResponderPool
// costs the apiserver per minute, during a backlog and at rest. One embedded pool on a local
// control plane (etcd + kube-apiserver), the operator as its own process (`ocsp-operator
// controller`), the pool's signer and responder as host processes reporting to the apiserver as
// their pod would (POD_NAME/POD_NAMESPACE, KUBECONFIG).
//
// Counted from the apiserver's own apiserver_request_total (verbs POST, PUT, PATCH, APPLY, DELETE,
// DELETECOLLECTION), scraped before and after each phase, on the resources a pool writes:
// configmaps (its index, its pods' reports), the pool and its status, its workloads, its
// ServiceAccount/Role/RoleBinding, and Events. The control plane serves this one pool only.
//
//   backlog  starts with --certificates unsigned; the signer signs --per-round every --interval
//            until the pool's status.backlog is 0 (about certificates/per-round rounds)
//   rest     then --rest-s seconds with nothing to do
//
//   npx tsc -p tsconfig.json && node dist/bench/pool-writes.js [--certificates N] [--per-round K]
//     [--interval 1s] [--rest-s S] [--keep]
// Only CLI processes and the apiserver's metrics are used, so the file runs as it is against an
// older build (a git worktree of an earlier commit) for a before/after comparison.
import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { KubeConfig } from '@kubernetes/client-node';
import { freePort, startControlPlane } from '../src/devenv/control-plane.js';
import { installCrds } from '../src/devenv/crds.js';
import { KubeClient } from '../src/kube/client.js';
import { loadKubeConfig } from '../src/kube/config.js';
import { ConfigMapType, NamespaceType, OcspResponderPoolType, SecretType, type KubeObject } from '../src/kube/types.js';
import { createCa, indexLine, issueLeaf, type Issued } from '../test/support/pki.js';
import { apiserverText, diffCounts, totalWrites, writeCounts, type WriteCounts } from './lib/apiserver-metrics.js';

const { values: flags } = parseArgs({
  options: {
    certificates: { type: 'string', default: '2000' },
    'per-round': { type: 'string', default: '40' },
    interval: { type: 'string', default: '1s' },
    'rest-s': { type: 'string', default: '120' },
    keep: { type: 'boolean', default: false },
  },
  strict: true,
});
const N = Number(flags.certificates);
const PER_ROUND = Number(flags['per-round']);
const REST_S = Number(flags['rest-s']);
const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const POOL = 'bench';
const NS = 'pool-writes';
/** What a pool's controller and pods write; anything else (leases, the apiserver's own) is not theirs. */
const POOL_RESOURCES = new Set([
  'configmaps',
  'ocspresponderpools',
  'ocspresponderpools/status',
  'deployments',
  'statefulsets',
  'services',
  'serviceaccounts',
  'roles',
  'rolebindings',
  'events',
  'secrets',
]);

const t0 = Date.now();
const log = (msg: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${msg}`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Phase {
  name: string;
  seconds: number;
  writes: WriteCounts;
}

async function scrape(kc: KubeConfig): Promise<WriteCounts> {
  return writeCounts(await apiserverText(kc, '/metrics'));
}

function perMinute(p: Phase): number {
  return (totalWrites(p.writes, (r) => POOL_RESOURCES.has(r)) * 60) / p.seconds;
}

function print(phases: Phase[]): void {
  console.log('\nphase     seconds  writes  per minute  by resource (resource verb code: count)');
  for (const p of phases) {
    const by = [...p.writes]
      .filter(([k]) => POOL_RESOURCES.has(k.split(' ')[0] ?? ''))
      .sort(([, a], [, b]) => b - a)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ');
    console.log(
      `${p.name.padEnd(9)} ${p.seconds.toFixed(0).padStart(7)}  ${String(totalWrites(p.writes, (r) => POOL_RESOURCES.has(r))).padStart(6)}  ${perMinute(p).toFixed(1).padStart(10)}  ${by || '-'}`,
    );
  }
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'ocsp-bench-pool-writes-'));
  const procs: ChildProcess[] = [];
  let ok = false;
  const cp = await startControlPlane({ workDir: join(work, 'control-plane'), log: (m) => log(`control plane: ${m}`) });
  try {
    const kc = loadKubeConfig(cp.kubeconfigPath);
    await installCrds(kc, log);
    const client = new KubeClient(kc, { userAgent: 'ocsp-operator-bench' });
    await client.create(NamespaceType, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });

    log(`issuing ${N} certificates`);
    const ca = await createCa({ keyAlg: 'P-256', name: 'CN=Pool Writes Bench CA' });
    const leaves: Issued[] = [];
    for (let i = 0; i < N; i++) leaves.push(await issueLeaf(ca));
    const index = leaves.map((l) => indexLine({ cert: l.cert, status: 'V' })).join('\n') + '\n';
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    await client.create(SecretType, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'ca', namespace: NS },
      data: { 'tls.crt': b64(ca.certPem), 'tls.key': b64(ca.keyPem) },
    } as KubeObject);
    await client.create(ConfigMapType, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'ca-db', namespace: NS },
      data: { 'index.txt': index },
    } as KubeObject);
    await writeFile(join(work, 'ca.pem'), ca.certPem);
    await writeFile(join(work, 'ca.key'), ca.keyPem);
    await writeFile(join(work, 'index.txt'), index);

    const start = (name: string, args: string[], env: Record<string, string> = {}) => {
      const out = createWriteStream(join(work, `${name}.log`));
      const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
      p.stdout?.pipe(out);
      p.stderr?.pipe(out);
      procs.push(p);
      log(`${name} pid ${p.pid} (log ${join(work, `${name}.log`)})`);
      return p;
    };
    start('operator', [
      'controller',
      '--kubeconfig',
      cp.kubeconfigPath,
      '--health-addr',
      `127.0.0.1:${await freePort()}`,
      '--namespaces',
      NS,
    ]);
    await client.create(OcspResponderPoolType, {
      apiVersion: 'ocsp-operator.dev/v1alpha1',
      kind: 'OcspResponderPool',
      metadata: { name: POOL, namespace: NS },
      spec: {
        issuer: { secretName: 'ca' },
        signing: { softwareKey: { secretName: 'ca' } },
        delegatedResponder: { mode: 'None' },
        sources: [{ opensslIndex: { configMapName: 'ca-db' } }],
      },
    } as KubeObject);
    const podEnv = { KUBECONFIG: cp.kubeconfigPath, POD_NAME: `${POOL}-0`, POD_NAMESPACE: NS };
    const status = async () =>
      (await client.get<KubeObject & { status?: { backlog?: number; certificates?: number } }>(OcspResponderPoolType, NS, POOL)).status;

    // Backlog: from the signer's start until the pool says backlog 0.
    let before = await scrape(kc);
    let at = Date.now();
    start(
      'signer',
      [
        'signer',
        '--index',
        join(work, 'index.txt'),
        '--ca-cert',
        join(work, 'ca.pem'),
        '--key-file',
        join(work, 'ca.key'),
        '--store-dir',
        join(work, 'store'),
        '--interval',
        flags.interval,
        '--max-per-round',
        String(PER_ROUND),
        '--sessions',
        '2',
        '--report-pool',
        POOL,
      ],
      podEnv,
    );
    for (let i = 0; i < 200 && !existsSync(join(work, 'store', 'responses.log')); i++) await sleep(100);
    start(
      'responder',
      [
        'responder',
        '--ca-cert',
        join(work, 'ca.pem'),
        '--store-dir',
        join(work, 'store'),
        '--lag-policy',
        'TryLater',
        '--listen',
        `127.0.0.1:${await freePort()}`,
        '--report-pool',
        POOL,
      ],
      podEnv,
    );
    const deadline = Date.now() + Math.max(10 * 60_000, (N / PER_ROUND) * 5_000);
    let seenBacklog = false;
    for (;;) {
      const s = await status().catch(() => undefined);
      if (s?.backlog !== undefined && s.backlog > 0) seenBacklog = true;
      if (seenBacklog && s?.backlog === 0 && s.certificates === N) break;
      if (Date.now() > deadline) throw new Error(`the backlog did not drain in time (status ${JSON.stringify(s)})`);
      await sleep(250);
    }
    const phases: Phase[] = [{ name: 'backlog', seconds: (Date.now() - at) / 1000, writes: diffCounts(before, await scrape(kc)) }];
    log(`backlog of ${N} drained in ${phases[0]!.seconds.toFixed(0)} s`);

    // Rest: nothing to sign, nothing changes.
    await sleep(5_000); // the last round's report and the status it causes land outside the window
    before = await scrape(kc);
    at = Date.now();
    log(`at rest for ${REST_S} s`);
    await sleep(REST_S * 1000);
    phases.push({ name: 'rest', seconds: (Date.now() - at) / 1000, writes: diffCounts(before, await scrape(kc)) });
    print(phases);
    ok = true;
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : Promise.resolve())));
    await cp.stop();
    if (ok && !flags.keep) await rm(work, { recursive: true, force: true });
    else log(`kept ${work}`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
