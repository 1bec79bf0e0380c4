// Our responder for the benchmark as a pod runs it: the built CLI (`ocsp-operator responder`)
// over an embedded store already holding the pre-signed responses, with `workers` processes.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import type { Child } from './processes.js';

const CLI = resolve(import.meta.dirname, '..', '..', 'src', 'cli.js');

export async function startResponderPod(o: { storeDir: string; caPem: string; port: number; workers: number }): Promise<Child> {
  const args = [
    'responder',
    '--ca-cert',
    o.caPem,
    '--store-dir',
    o.storeDir,
    '--lag-policy',
    'ServeWhatItHas',
    '--listen',
    `127.0.0.1:${o.port}`,
    '--workers',
    String(o.workers),
    '--log-level',
    'warn',
  ];
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise((r) => proc.once('exit', r));
  const stop = async (): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM'); // the primary stops its workers before it exits
    const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(t);
  };
  const url = `http://127.0.0.1:${o.port}/`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`the responder exited ${proc.exitCode}: ${err}`);
    try {
      if ((await fetch(new URL('/readyz', url))).status === 200) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the responder was not ready within 30 s: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { proc, line: url, stop };
}
