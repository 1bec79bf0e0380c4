// `ocsp-operator responder` as its pod runs it: a real process (the built CLI) over an embedded
// store holding one pre-signed response, with its workers. What the tests need to see of it: its
// JSON log lines (they name the worker pids), its readiness, and each process's descriptors.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { buildOcspRequest } from '../../src/ocsp/index.js';
import { EmbeddedStore } from '../../src/store/index.js';
import { createCa, issueLeaf } from '../support/pki.js';
import { freePort } from '../support/redis.js';
import { presign } from './fixtures.js';

const CLI = resolve(import.meta.dirname, '..', '..', 'dist', 'src', 'cli.js');

/** A CA, one leaf, its pre-signed response in an embedded store under `dir`, and a GET path for it. */
export interface ServedCertificate {
  dir: string;
  der: Buffer;
  getPath: string;
  remove(): Promise<void>;
}

export async function oneResponseStore(): Promise<ServedCertificate> {
  const dir = await mkdtemp(join(tmpdir(), 'ocsp-pod-'));
  const ca = await createCa({ keyAlg: 'P-256' });
  const leaf = await issueLeaf(ca);
  const rec = await presign(ca, leaf);
  const store = await EmbeddedStore.open({ path: join(dir, 'responses.log') });
  await store.put([rec]);
  await store.close();
  await writeFile(join(dir, 'ca.pem'), ca.certPem);
  const req = buildOcspRequest({ cert: leaf.cert, issuer: ca.cert }).der;
  return {
    dir,
    der: Buffer.from(rec.der),
    getPath: '/' + encodeURIComponent(Buffer.from(req).toString('base64')),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface LogLine {
  msg: string;
  pid: number;
  [k: string]: unknown;
}

export interface PodProcess {
  proc: ChildProcess;
  port: number;
  base: string;
  logs: LogLine[];
  /** Pids of the workers started so far, in order, from the primary's log. */
  workerPids(): number[];
  /** Resolves with the exit code (or signal). */
  exited: Promise<number | string>;
  stop(): Promise<void>;
}

export async function startPod(served: ServedCertificate, extra: string[]): Promise<PodProcess> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [
      CLI,
      'responder',
      '--ca-cert',
      join(served.dir, 'ca.pem'),
      '--store-dir',
      served.dir,
      '--lag-policy',
      'Unauthorized',
      '--listen',
      `127.0.0.1:${port}`,
      ...extra,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const logs: LogLine[] = [];
  let stderr = '';
  createInterface({ input: proc.stdout }).on('line', (l) => {
    try {
      logs.push(JSON.parse(l) as LogLine);
    } catch {
      // not a log line
    }
  });
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | string>((r) => proc.once('exit', (code, signal) => r(code ?? signal ?? -1)));
  const pod: PodProcess = {
    proc,
    port,
    base: `http://127.0.0.1:${port}`,
    logs,
    workerPids: () => logs.filter((l) => l.msg === 'worker started').map((l) => Number(l.workerPid)),
    exited,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
  const deadline = Date.now() + 30_000;
  while ((await status(`${pod.base}/readyz`)) !== 200) {
    if (proc.exitCode !== null) throw new Error(`the responder exited ${proc.exitCode}: ${stderr}`);
    if (Date.now() > deadline) {
      await pod.stop();
      throw new Error(`the responder was not ready within 30 s: ${stderr}\n${JSON.stringify(logs.slice(-5))}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return pod;
}

/** A GET on a fresh connection (as most OCSP clients make); status 0 when it fails or takes over `timeoutMs`. */
export function get(url: string, timeoutMs = 2_000): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', () => resolve({ status: 0, body: Buffer.alloc(0) }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: Buffer.alloc(0) }));
    req.end();
  });
}

export async function status(url: string, timeoutMs = 2_000): Promise<number> {
  return (await get(url, timeoutMs)).status;
}

/** Open file descriptors of a process, undefined once it is gone. */
export function fdCount(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

/** Whether a process still runs (a zombie waiting for its parent to reap it does not). */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
