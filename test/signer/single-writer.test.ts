// One writer per embedded store, with real `ocsp-operator signer` processes (the built
// dist/src/cli.js): a second signer on a store waits for the first and then fails naming it, or
// takes over when the first stops, leaving a whole log; and a signer that re-executed itself to
// size its threadpool dies with its parent, even a SIGKILLed one, so the next signer gets the lock.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { validateOcspResponse } from '../../src/ocsp/index.js';
import { EmbeddedStore, canonicalSerial, type LockHolder } from '../../src/store/index.js';
import { createCa, indexTxt, issueLeaf, type Ca, type Issued } from '../support/pki.js';
import { storeStats } from '../support/store-stats.js';

const CLI = resolve(import.meta.dirname, '..', '..', 'dist', 'src', 'cli.js');
let dir: string;
let ca: Ca;
let leaves: Issued[];

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
  dir = await mkdtemp(join(tmpdir(), 'ocsp-single-writer-'));
  ca = await createCa({ keyAlg: 'P-256' });
  leaves = [];
  for (let i = 0; i < 30; i++) leaves.push(await issueLeaf(ca));
  await writeFile(join(dir, 'ca.pem'), ca.certPem);
  await writeFile(join(dir, 'ca.key'), ca.keyPem);
  // The first signer knows 20 certificates; the second's CA database has 10 more.
  await writeFile(join(dir, 'index-20.txt'), indexTxt(leaves.slice(0, 20).map((l) => ({ cert: l.cert, status: 'V' as const }))));
  await writeFile(join(dir, 'index-30.txt'), indexTxt(leaves.map((l) => ({ cert: l.cert, status: 'V' as const }))));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Signer {
  proc: ChildProcess;
  /** stdout and stderr so far (a re-executed child writes to the same pipes). */
  output(): string;
  lines(): Array<Record<string, unknown>>;
  /** Exited, and its pipes drained (so output() is complete). */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Exited: its pipes may stay open while a child it left holds them. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}
const started: Signer[] = [];
const extraPids: number[] = [];

/** `ocsp-operator signer` with a software key; `threadpool` set means no re-execution. */
function signer(args: string[], o: { index?: string; threadpool?: number } = {}): Signer {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.UV_THREADPOOL_SIZE;
  delete env.POD_NAME;
  if (o.threadpool !== undefined) env.UV_THREADPOOL_SIZE = String(o.threadpool);
  const proc = spawn(
    process.execPath,
    [
      CLI,
      'signer',
      '--index',
      join(dir, o.index ?? 'index-20.txt'),
      '--ca-cert',
      join(dir, 'ca.pem'),
      '--key-file',
      join(dir, 'ca.key'),
      ...args,
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    proc.once('exit', (code, signal) => res({ code, signal })),
  );
  // 'exit' comes before the pipes are drained; wait for 'close' so output() is complete.
  const closed = new Promise<void>((res) => proc.once('close', () => res()));
  const s: Signer = {
    proc,
    output: () => out,
    lines: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    exit: exit.then(async (r) => {
      await closed;
      return r;
    }),
    exited: exit,
  };
  started.push(s);
  return s;
}

afterEach(() => {
  for (const s of started.splice(0)) if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGKILL');
  for (const pid of extraPids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  context = () => '',
): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${context().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function lockHolder(storeDir: string): Promise<LockHolder | undefined> {
  try {
    const text = await readFile(join(storeDir, 'responses.log.lock'), 'utf8');
    return text.trim() ? (JSON.parse(text) as LockHolder) : undefined;
  } catch {
    return undefined;
  }
}

/** Parent pid and state from /proc/PID/stat; undefined once the process is gone. */
async function procStat(pid: number): Promise<{ ppid: number; state: string } | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: state!, ppid: Number(ppid) };
  } catch {
    return undefined;
  }
}

const WAITING = 'another writer holds the store; waiting for it';

describe('two signers on one embedded store', () => {
  it('the second waits up to --store-lock-wait, then exits non-zero naming the first and the lock', async () => {
    const storeDir = join(dir, 'store-refused');
    const first = signer(['--store-dir', storeDir, '--interval', '500ms'], { threadpool: 8 });
    await until(
      'the first signer to hold the lock and sign',
      async () =>
        (await lockHolder(storeDir))?.pid === first.proc.pid && first.lines().some((l) => l.msg === 'signing round') ? true : undefined,
      20_000,
      first.output,
    );

    const t0 = Date.now();
    const second = signer(['--store-dir', storeDir, '--once', '--store-lock-wait', '1500ms'], { threadpool: 8 });
    const { code } = await second.exit;
    const waitedMs = Date.now() - t0;
    expect(code, second.output()).toBe(1);
    expect(second.output()).toContain(
      `ocsp-operator: ${storeDir}/responses.log.lock is held by another writer (host ${hostname()}, pid ${first.proc.pid}, since `,
    );
    expect(second.output()).toContain('still after waiting 1500 ms');
    // It said once, before failing, whom it waited for.
    const waits = second.lines().filter((l) => l.msg === WAITING);
    expect(waits).toHaveLength(1);
    expect(waits[0]).toMatchObject({ level: 'warn', lock: `${storeDir}/responses.log.lock`, waitMs: 1500 });
    expect(String(waits[0]!.holder)).toContain(`pid ${first.proc.pid}`);
    expect(second.lines().some((l) => l.msg === 'signing round')).toBe(false);
    expect(waitedMs).toBeGreaterThanOrEqual(1500);
    expect(waitedMs).toBeLessThan(15_000);
    // The first never noticed.
    expect(first.proc.exitCode).toBeNull();
  });

  it('when the first stops during the wait, the second takes over and signs; every response in the log reads back whole', async () => {
    const storeDir = join(dir, 'store-takeover');
    const first = signer(['--store-dir', storeDir, '--interval', '500ms'], { threadpool: 8 });
    await until(
      'the first signer to sign its 20',
      () => (first.lines().some((l) => l.msg === 'signing round' && l.signed === 20) ? true : undefined),
      20_000,
      first.output,
    );

    const second = signer(['--store-dir', storeDir, '--once', '--store-lock-wait', '30s'], { index: 'index-30.txt', threadpool: 8 });
    await until(
      'the second signer to wait for the lock',
      () => (second.lines().some((l) => l.msg === WAITING) ? true : undefined),
      20_000,
      second.output,
    );
    const stoppedAt = Date.now();
    first.proc.kill('SIGTERM');
    expect((await first.exit).code, first.output()).toBe(0);
    const { code } = await second.exit;
    const takeoverMs = Date.now() - stoppedAt;
    expect(code, second.output()).toBe(0);
    // Only what the first had not signed: the 10 certificates it did not know.
    expect(JSON.parse(second.output().trim().split('\n').at(-1)!)).toMatchObject({ planned: 10, signed: 10, failed: 0, backlog: 0 });
    expect(takeoverMs).toBeLessThan(15_000);

    const store = await EmbeddedStore.open({ path: join(storeDir, 'responses.log') });
    try {
      expect(store.tornBytesDiscarded).toBe(0);
      expect((await storeStats(store)).count).toBe(30);
      const bySerial = new Map(leaves.map((l) => [canonicalSerial(l.serial), l]));
      let verified = 0;
      for await (const e of store.entries()) {
        const leaf = bySerial.get(e.serial);
        expect(leaf, `serial ${e.serial}`).toBeDefined();
        expect(validateOcspResponse(e.der, { cert: leaf!.cert, issuer: ca.cert, now: new Date() })).toMatchObject({
          ok: true,
          response: { certStatus: 'good' },
        });
        verified++;
      }
      expect(verified).toBe(30);
    } finally {
      await store.close();
    }
  });
});

describe('a re-executed signer dies with its parent', () => {
  it('the parent SIGKILLed: the child stops within 5 s, and a new signer gets the lock at once', async () => {
    const storeDir = join(dir, 'store-orphan');
    // No UV_THREADPOOL_SIZE: the signer re-executes itself (4 sessions want 6 threads).
    const parent = signer(['--store-dir', storeDir, '--interval', '500ms']);
    const childPid = await until(
      'the re-executed child to hold the lock',
      async () => {
        const h = await lockHolder(storeDir);
        return h && h.pid !== parent.proc.pid && (await procStat(h.pid))?.ppid === parent.proc.pid ? h.pid : undefined;
      },
      20_000,
      parent.output,
    );
    extraPids.push(childPid);
    await until(
      'the child to sign',
      () => (parent.lines().some((l) => l.msg === 'signing round' && l.pid === childPid) ? true : undefined),
      20_000,
      parent.output,
    );

    const killedAt = Date.now();
    parent.proc.kill('SIGKILL');
    expect((await parent.exited).signal).toBe('SIGKILL');
    // Gone, or a zombie that nobody reaps (its parent is dead): either way it no longer runs.
    await until(
      'the orphaned child to exit',
      async () => {
        const s = await procStat(childPid);
        return s === undefined || s.state === 'Z' ? true : undefined;
      },
      5000,
      parent.output,
    );
    const childExitMs = Date.now() - killedAt;
    // It stopped the clean way (the SIGTERM path), not by the grace period's hard exit.
    expect(
      parent.lines().some((l) => l.msg === 'signer stopping' && l.pid === childPid),
      parent.output(),
    ).toBe(true);

    const t0 = Date.now();
    const next = signer(['--store-dir', storeDir, '--once', '--store-lock-wait', '0s']);
    const { code } = await next.exit;
    const nextMs = Date.now() - t0;
    expect(code, next.output()).toBe(0);
    expect(next.lines().some((l) => l.msg === WAITING)).toBe(false);
    console.log(
      `orphaned child exited ${childExitMs} ms after its parent's SIGKILL; the next signer took the lock without waiting (--store-lock-wait 0s) and finished in ${nextMs} ms (two Node start-ups and a round)`,
    );
  });
});
