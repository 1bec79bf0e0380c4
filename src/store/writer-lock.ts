// One writer per embedded store: an exclusive flock(2) on a file beside the log. flock, because
// the kernel drops it when its holder dies, even by SIGKILL, so no stale lock outlives a crash
// (a heartbeat file would need a timeout, and two writers overlap until it expires). The lock is
// on its own file, not on the log, because compaction replaces the log by rename. Once it holds
// the lock, the holder writes who it is into that file, so a writer kept out can name it.
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

// fs-ext is a CommonJS native addon without type declarations: only flockSync is used. Loaded on
// the first lock, so commands that import the store's modules but never write one (the
// controller) load no native addon and run under any Node the JavaScript runs on.
type FsExt = { flockSync(fd: number, flags: 'exnb' | 'un'): void };
let fsExtModule: FsExt | undefined;
const fsExt = (): FsExt => (fsExtModule ??= createRequire(import.meta.url)('fs-ext') as FsExt);

/** Who holds (or last held) a lock, as its holder wrote it. */
export interface LockHolder {
  pod?: string;
  host: string;
  pid: number;
  since: string;
}

export interface WriterLockOptions {
  /** The lock file (created if missing). */
  path: string;
  /** How long to wait for a holder to let go; 0 fails at once. */
  waitMs: number;
  /** Between attempts while waiting (clamped to 10 ms..1 s). */
  pollMs?: number;
  /** Called once, when the lock is found held, before waiting. */
  onWait?: (holder: string, path: string) => void;
}

export class WriterLockHeldError extends Error {
  readonly code = 'ESTORELOCKED';
  constructor(
    readonly path: string,
    readonly holder: string,
    readonly waitedMs: number,
  ) {
    super(
      `${path} is held by another writer (${holder})${waitedMs > 0 ? `, still after waiting ${waitedMs} ms` : ''}: only one process may write an embedded store`,
    );
  }
}

export class WriterLock {
  private released = false;
  constructor(
    readonly path: string,
    readonly holder: LockHolder,
    private readonly fh: FileHandle,
  ) {}

  /** Lets the next writer in. Closing the descriptor alone would too; unlocking first says so. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    try {
      fsExt().flockSync(this.fh.fd, 'un');
    } finally {
      await this.fh.close();
    }
  }
}

export async function acquireWriterLock(o: WriterLockOptions): Promise<WriterLock> {
  const pollMs = Math.min(1000, Math.max(10, o.pollMs ?? 200));
  // Not truncated on open: until this process holds the lock, the identity in it is the holder's.
  const fh = await open(o.path, constants.O_RDWR | constants.O_CREAT, 0o644);
  try {
    const started = Date.now();
    let waiting = false;
    while (!tryLock(fh)) {
      const left = started + o.waitMs - Date.now();
      if (left <= 0) throw new WriterLockHeldError(o.path, await readHolder(fh), o.waitMs);
      if (!waiting) {
        waiting = true;
        o.onWait?.(await readHolder(fh), o.path);
      }
      await sleep(Math.min(pollMs, left));
    }
    const holder: LockHolder = {
      ...(process.env.POD_NAME ? { pod: process.env.POD_NAME } : {}),
      host: hostname(),
      pid: process.pid,
      since: new Date().toISOString(),
    };
    const text = Buffer.from(`${JSON.stringify(holder)}\n`);
    await fh.truncate(0);
    await fh.write(text, 0, text.length, 0);
    return new WriterLock(o.path, holder, fh);
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/** True when taken; false when another open file holds it. LOCK_NB: never blocks a thread. */
function tryLock(fh: FileHandle): boolean {
  try {
    fsExt().flockSync(fh.fd, 'exnb');
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return false;
    throw e;
  }
}

/** The holder as a phrase for logs and errors: "pod p, host h, pid 1, since t". */
async function readHolder(fh: FileHandle): Promise<string> {
  const buf = Buffer.alloc(4096);
  const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
  const text = buf.subarray(0, bytesRead).toString('utf8').trim();
  // Empty: the holder has the lock but has not written its name yet (or predates this format).
  if (text === '') return 'holder unknown';
  try {
    return describeHolder(JSON.parse(text) as LockHolder);
  } catch {
    return text.slice(0, 200);
  }
}

export function describeHolder(h: LockHolder): string {
  return [h.pod !== undefined ? `pod ${h.pod}` : undefined, `host ${h.host}`, `pid ${h.pid}`, `since ${h.since}`]
    .filter((x) => x !== undefined)
    .join(', ');
}
