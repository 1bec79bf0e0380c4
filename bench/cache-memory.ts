// Does the operator's memory follow its work or the cluster? The operator (dist/src/cli.js
// controller, all namespaces, as a process) runs against a real kube-apiserver twice: first with
// no unrelated Secrets, then with --secrets unrelated Secrets of --bytes each (Opaque, in their own
// namespace, nothing refers to them). Its RSS is sampled after "caches synced" and a settle time;
// the ratio of the two is printed (target: under 1.2×). For RSS at 10,000 staples, use
// bench/staples.ts (--count 10000).
//
//   npx tsc -p tsconfig.json && node dist/bench/cache-memory.js [--secrets 50000] [--bytes 4096] [--settle-s 20]
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, startControlPlane, type ControlPlane } from '../src/devenv/control-plane.js';
import { installCrds } from '../src/devenv/crds.js';
import { KubeClient } from '../src/kube/client.js';
import { loadKubeConfig } from '../src/kube/config.js';
import { NamespaceType, SecretType, type Secret } from '../src/kube/types.js';
import { mib, procSample } from './lib/proc-status.js';

const { values: flags } = parseArgs({
  options: {
    secrets: { type: 'string', default: '50000' },
    bytes: { type: 'string', default: '4096' },
    'settle-s': { type: 'string', default: '20' },
  },
});
const SECRETS = Number(flags.secrets);
const BYTES = Number(flags.bytes);
const SETTLE_MS = Number(flags['settle-s']) * 1000;
const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

const log = (msg: string) => console.error(`${new Date().toISOString().slice(11, 19)} ${msg}`);

interface Measured {
  syncMs: number;
  rssBytes: number;
  hwmBytes: number;
  cacheObjects: string;
}

/** Runs the operator until its caches synced and SETTLE_MS passed; samples its RSS each second and returns the settled figures. */
async function measureOperator(cp: ControlPlane, label: string): Promise<Measured> {
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [CLI, 'controller', '--kubeconfig', cp.kubeconfigPath, '--health-addr', `127.0.0.1:${port}`, '--workers', '4'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_LEVEL: 'warn' },
    },
  );
  const started = Date.now();
  try {
    const deadline = started + 300_000;
    let synced = false;
    while (!synced) {
      if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`${label}: the operator did not get ready`);
      await new Promise((r) => setTimeout(r, 250));
      synced = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
    }
    const syncMs = Date.now() - started;
    // Let the initial list's garbage be collected as it would in a long-running process.
    const rss: number[] = [];
    for (let t = 0; t < SETTLE_MS; t += 1000) {
      await new Promise((r) => setTimeout(r, 1000));
      const s = procSample(proc.pid ?? 0);
      if (s) rss.push(s.rssBytes);
    }
    const last = procSample(proc.pid ?? 0);
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
    const cacheObjects = metrics
      .split('\n')
      .filter((l) => l.startsWith('ocsp_operator_cache_objects{'))
      .join('; ');
    // The settled figure: the median of the last half of the samples.
    const tail = rss.slice(Math.floor(rss.length / 2)).sort((a, b) => a - b);
    const m = { syncMs, rssBytes: tail[Math.floor(tail.length / 2)] ?? last?.rssBytes ?? 0, hwmBytes: last?.hwmBytes ?? 0, cacheObjects };
    log(
      `${label}: ready in ${(syncMs / 1000).toFixed(1)}s, settled RSS ${mib(m.rssBytes)} MiB, VmHWM ${mib(m.hwmBytes)} MiB; ${cacheObjects}`,
    );
    return m;
  } finally {
    if (proc.exitCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
  }
}

async function fillSecrets(client: KubeClient, namespace: string): Promise<number> {
  await client.create(NamespaceType, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  const data = Buffer.alloc(BYTES, 'x').toString('base64');
  const t0 = Date.now();
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < SECRETS; i = next++) {
      const secret: Secret = {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: `unrelated-${i}`, namespace },
        type: 'Opaque',
        data: { blob: data },
      };
      for (let attempt = 0; ; attempt++) {
        try {
          await client.create(SecretType, secret);
          break;
        } catch (err) {
          if (attempt >= 5) throw err;
          await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
        }
      }
      if (i % 10_000 === 0 && i) log(`  ${i} Secrets`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return (Date.now() - t0) / 1000;
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'ocsp-bench-cache-'));
  let cp: ControlPlane | undefined;
  const stop = async () => {
    await cp?.stop();
    await rm(work, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void stop().finally(() => process.exit(130)));
  try {
    cp = await startControlPlane({ workDir: join(work, 'control-plane'), log: (m) => log(`control plane: ${m}`) });
    const kc = loadKubeConfig(cp.kubeconfigPath);
    await installCrds(kc, log);
    const client = new KubeClient(kc, { userAgent: 'ocsp-operator-bench' });
    const none = await measureOperator(cp, 'no unrelated Secrets');
    log(`creating ${SECRETS} unrelated Secrets of ${BYTES} B, 8 at a time`);
    const fillS = await fillSecrets(client, 'bench-unrelated');
    log(`  created in ${fillS.toFixed(0)}s`);
    const many = await measureOperator(cp, `${SECRETS} unrelated Secrets`);
    console.log(`cache memory benchmark: ${SECRETS} unrelated Secrets of ${BYTES} B`);
    console.log(
      `  operator RSS, no unrelated Secrets:   ${mib(none.rssBytes)} MiB (VmHWM ${mib(none.hwmBytes)} MiB, ready in ${(none.syncMs / 1000).toFixed(1)}s)`,
    );
    console.log(
      `  operator RSS, ${SECRETS} unrelated:     ${mib(many.rssBytes)} MiB (VmHWM ${mib(many.hwmBytes)} MiB, ready in ${(many.syncMs / 1000).toFixed(1)}s)`,
    );
    console.log(
      `  ratio: ${(many.rssBytes / none.rssBytes).toFixed(2)}× (target < 1.2×); VmHWM ratio ${(many.hwmBytes / none.hwmBytes).toFixed(2)}×`,
    );
    console.log(`  caches with ${SECRETS}: ${many.cacheObjects}`);
  } finally {
    await stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
