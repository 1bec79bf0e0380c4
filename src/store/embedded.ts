// The embedded store's writer: an append-only log on local disk plus an index of where each live
// response sits in it (log-index.ts); reads come back from the file.
// `put` resolves only after the frames are written and fdatasync'ed, so a process killed at any
// instant loses nothing it acknowledged. Concurrent puts are group-committed (one write + one
// fsync for everything queued while the previous fsync ran), which is what keeps fsync-per-ack
// affordable. Exactly one writer per file, enforced by an flock on `<path>.lock` (writer-lock.ts),
// taken before the log is read or its torn tail cut, and held until close. The writer keeps a
// checkpoint of its index beside the log (index-snapshot.ts), so the next open (its own, or a
// responder's) reads only the frames appended since.
import { open, readFile, rename, mkdir, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { etagFor } from './etag.js';
import { canonicalSerial, isIssuerId } from './keys.js';
import type { EntryHead } from './codec.js';
import { readIndexSnapshot, writeIndexSnapshot } from './index-snapshot.js';
import { encodeFrame, hasMagic, MAGIC, readFrames } from './log-format.js';
import { LogIndex } from './log-index.js';
import { LogView, walkEntries } from './log-view.js';
import { acquireWriterLock, type WriterLock } from './writer-lock.js';
import type { LogLoad, ResponseRecord, ResponseStore, StoredEntry, StoredResponse, StoreLag } from './types.js';

export interface EmbeddedStoreOptions {
  path: string;
  /** Compact when dead bytes exceed this fraction of the file (and minCompactBytes). */
  compactGarbageRatio?: number;
  minCompactBytes?: number;
  /** Drop responses this long past their nextUpdate when compacting. */
  expiredRetentionMs?: number;
  now?: () => number;
  /** How long to wait for another writer to release the log before failing (default 0: at once). */
  lockWaitMs?: number;
  /** Called once when another writer holds the log and this one starts waiting. */
  onLockWait?: (holder: string, lockPath: string) => void;
}

/** Log bytes appended since the last checkpoint before the next is written (and at least 1/8 of the log). */
const SNAPSHOT_EVERY_BYTES = 32 << 20;

/** A queued write, or (with compact set) a request to compact after the writes before it. */
interface Pending {
  entries: StoredEntry[];
  frames: Buffer[];
  compact?: boolean;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class EmbeddedStore implements ResponseStore {
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private fileBytes = 0;
  private liveBytes = 0;
  private closed = false;
  private failed: unknown;
  private torn = 0;
  /** The log file's inode, which a checkpoint names. */
  private ino = 0;
  /** Log bytes the last checkpoint written covers (0: none of this file). */
  private snapshotCovered = 0;
  private snapshotting: Promise<void> | undefined;
  private loaded: LogLoad = { checkpointBytes: 0, scannedBytes: 0 };

  private constructor(
    private readonly opts: Required<EmbeddedStoreOptions>,
    private view: LogView,
    private readonly lock: WriterLock,
  ) {}

  get lastLoad(): LogLoad {
    return this.loaded;
  }

  /** Bytes of a torn last frame cut off when the log was opened. */
  get tornBytesDiscarded(): number {
    return this.torn;
  }

  static async open(options: EmbeddedStoreOptions): Promise<EmbeddedStore> {
    const opts: Required<EmbeddedStoreOptions> = {
      compactGarbageRatio: 0.5,
      minCompactBytes: 4 << 20,
      expiredRetentionMs: 60 * 60_000,
      now: Date.now,
      lockWaitMs: 0,
      onLockWait: () => undefined,
      ...options,
    };
    await mkdir(dirname(opts.path), { recursive: true });
    const lock = await acquireWriterLock({ path: `${opts.path}.lock`, waitMs: opts.lockWaitMs, onWait: opts.onLockWait });
    try {
      return await EmbeddedStore.load(opts, lock);
    } catch (e) {
      await lock.release();
      throw e;
    }
  }

  /** Reads the log and cuts its torn tail: only under the lock, or it could cut another's frame. */
  private static async load(opts: Required<EmbeddedStoreOptions>, lock: WriterLock): Promise<EmbeddedStore> {
    let size = 0;
    try {
      size = (await stat(opts.path)).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (size < MAGIC.length) {
      // New file, or a crash while writing the header: start over.
      const head = size > 0 ? await readFile(opts.path) : Buffer.alloc(0);
      if (!MAGIC.subarray(0, head.length).equals(head)) throw new Error(`${opts.path} is not an ocsp-operator response log`);
      await writeFresh(opts.path, []);
      size = MAGIC.length;
    }
    const fh = await open(opts.path, 'r+');
    try {
      const magic = Buffer.alloc(MAGIC.length);
      await fh.read(magic, 0, MAGIC.length, 0);
      if (!hasMagic(magic)) throw new Error(`${opts.path} is not an ocsp-operator response log`);
      const { ino } = await fh.stat();
      let snapshot = await readIndexSnapshot(opts.path, fh, ino, size);
      // The writer alone cuts a damaged log short, so it checks the checksum of every frame the
      // checkpoint covers (without indexing them again): a damaged one means reading it all, as
      // without a checkpoint, and cutting there.
      if (snapshot && (await readFrames(fh, MAGIC.length, snapshot.covered, undefined)) < snapshot.covered) snapshot = undefined;
      const store = new EmbeddedStore(opts, new LogView(fh, snapshot?.index), lock);
      store.ino = ino;
      store.liveBytes = snapshot?.index.liveBytes() ?? 0;
      store.snapshotCovered = snapshot?.covered ?? 0;
      const from = snapshot?.covered ?? MAGIC.length;
      const validEnd = await readFrames(fh, from, size, (head, at, frame) => store.applyFrame(head, at, frame.length));
      if (validEnd < size) {
        // Cut the torn tail off before appending, or the next frame would sit behind garbage
        // and be unreachable on the following restart.
        await fh.truncate(validEnd);
        await fh.datasync();
      }
      store.torn = size - validEnd;
      store.fileBytes = validEnd;
      store.loaded = { checkpointBytes: snapshot?.covered ?? 0, scannedBytes: validEnd - from };
      store.checkpoint();
      return store;
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  get(issuerId: string, serial: string): StoredResponse | undefined {
    return this.view.get(issuerId, serial);
  }

  put(records: readonly ResponseRecord[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('store closed'));
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the first write error, as it was thrown
    if (this.failed !== undefined) return Promise.reject(this.failed);
    let entries: StoredEntry[];
    let frames: Buffer[];
    try {
      entries = records.map(toEntry);
      frames = entries.map(encodeFrame);
    } catch (e) {
      return Promise.reject(e);
    }
    if (entries.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ entries, frames, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.flushing !== undefined) return;
    this.flushing = this.flushLoop().finally(() => {
      this.flushing = undefined;
      // A put resolved by the last batch may have queued more before this callback ran.
      if (this.queue.length > 0 && !this.closed) this.kick();
    });
  }

  private async flushLoop(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      const writes = batch.filter((p) => p.compact !== true);
      const data = Buffer.concat(writes.flatMap((p) => p.frames));
      const at = this.fileBytes;
      try {
        await writeAll(this.view.fh, data, at);
        await this.view.fh.datasync();
      } catch (e) {
        // Cut back to the last acknowledged byte so no garbage sits before later frames; if even
        // that fails the store refuses further writes rather than risk an unreachable tail.
        try {
          await this.view.fh.truncate(at);
        } catch (e2) {
          this.failed = e2;
        }
        for (const p of batch) p.reject(e);
        continue;
      }
      this.fileBytes = at + data.length;
      let frameAt = at;
      for (const p of writes) {
        p.entries.forEach((e, i) => {
          const length = p.frames[i]!.length;
          this.applyFrame(e, frameAt, length);
          frameAt += length;
        });
        p.resolve();
      }
      this.checkpoint();
      const requested = batch.filter((p) => p.compact === true);
      if (requested.length > 0 || this.shouldCompact()) {
        try {
          await this.compactNow();
          for (const p of requested) p.resolve();
        } catch (e) {
          for (const p of requested) p.reject(e);
        }
      }
    }
  }

  /** Indexes a frame, counting the bytes of the frame it replaces as dead. */
  private applyFrame(head: EntryHead, at: number, frameLength: number): void {
    if (this.view.index.apply(head, at, frameLength, (previous) => (this.liveBytes -= previous))) this.liveBytes += frameLength;
  }

  private shouldCompact(): boolean {
    const garbage = this.fileBytes - MAGIC.length - this.liveBytes;
    return garbage > this.opts.minCompactBytes && garbage > this.opts.compactGarbageRatio * this.fileBytes;
  }

  /** Rewrite the log with only the live, not-long-expired responses. */
  compact(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('store closed'));
    // Queued behind pending writes, so no append races the rename.
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ entries: [], frames: [], compact: true, resolve, reject });
      this.kick();
    });
  }

  /**
   * Copies the live, not-long-expired frames to a fresh file, chunk by chunk (the log is never in
   * memory whole), then swaps file and index in one synchronous step: a read in between sees the
   * old pair, one after the new.
   */
  private async compactNow(): Promise<void> {
    const cutoff = this.opts.now() - this.opts.expiredRetentionMs;
    const index = new LogIndex();
    const tmp = `${this.opts.path}.compact-${process.pid}`;
    const out = await open(tmp, 'w');
    let size = MAGIC.length;
    try {
      await writeAll(out, MAGIC, 0);
      let kept: Buffer[] = [];
      const live = (head: EntryHead, at: number): boolean => {
        const slot = this.view.index.slotOf(head.issuerId, head.serial);
        return slot >= 0 && this.view.index.place(slot).at === at && head.nextUpdate >= cutoff;
      };
      await readFrames(
        this.view.fh,
        MAGIC.length,
        this.fileBytes,
        (head, at, frame) => {
          if (!live(head, at)) return;
          index.apply(head, size, frame.length);
          size += frame.length;
          kept.push(frame);
        },
        async () => {
          const data = Buffer.concat(kept);
          kept = [];
          await writeAll(out, data, size - data.length);
        },
      );
      await out.sync();
    } finally {
      await out.close();
    }
    await rename(tmp, this.opts.path);
    await syncDir(this.opts.path);
    const fresh = await open(this.opts.path, 'r+');
    const old = this.view.fh;
    // A checkpoint of the old file still being written would be taken for the new file's.
    await this.snapshotting;
    this.view = new LogView(fresh, index);
    this.fileBytes = size;
    this.liveBytes = size - MAGIC.length;
    this.ino = (await fresh.stat()).ino;
    this.snapshotCovered = 0;
    this.checkpoint(true);
    await old.close();
  }

  /**
   * Writes a checkpoint of the index in the background when the log grew enough since the last
   * one (or at all, with `always`). Its arrays are written out before this returns, so later
   * appends cannot tear it. A checkpoint only saves the next open time: one that fails is left
   * for the next, and the log stays whole.
   */
  private checkpoint(always = false): void {
    const behind = this.fileBytes - Math.max(this.snapshotCovered, MAGIC.length);
    if (this.snapshotting !== undefined || behind <= 0) return;
    if (!always && behind < Math.max(SNAPSHOT_EVERY_BYTES, this.fileBytes / 8)) return;
    const cover = { ino: this.ino, covered: this.fileBytes };
    this.snapshotting = writeIndexSnapshot(this.opts.path, this.view.index, cover)
      .then(() => {
        if (cover.ino === this.ino) this.snapshotCovered = cover.covered;
      })
      .catch(() => undefined)
      .finally(() => {
        this.snapshotting = undefined;
      });
  }

  /** Every stored response, read back from the log one at a time. */
  async *entries(): AsyncIterable<StoredEntry> {
    yield* walkEntries(() => this.view);
  }

  async lag(): Promise<StoreLag> {
    // The writer's memory is the source of truth.
    return { lagMs: 0, detached: this.failed !== undefined, ...(this.failed !== undefined ? { detail: String(this.failed) } : {}) };
  }

  /** Size of the log file in bytes (for tests and metrics). */
  get bytes(): number {
    return this.fileBytes;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.flushing !== undefined) await this.flushing;
    try {
      // The next open (a restarted pod's) then reads no frame twice.
      await this.snapshotting;
      if (this.failed === undefined) {
        this.checkpoint(true);
        await this.snapshotting;
      }
      await this.view.fh.close();
    } finally {
      await this.lock.release();
    }
  }
}

/** Validates a record and derives its stored form. */
export function toEntry(r: ResponseRecord): StoredEntry {
  if (!isIssuerId(r.issuerId)) throw new Error(`issuerId must be 64 lowercase hex chars, got ${JSON.stringify(r.issuerId)}`);
  if (!(r.der instanceof Uint8Array) || r.der.byteLength === 0) throw new Error('der must be non-empty bytes');
  if (!Number.isFinite(r.thisUpdate) || !Number.isFinite(r.nextUpdate) || r.nextUpdate <= r.thisUpdate) {
    throw new Error(`bad validity window ${r.thisUpdate}..${r.nextUpdate}`);
  }
  return {
    issuerId: r.issuerId,
    serial: canonicalSerial(r.serial),
    // A private copy: the caller may reuse its buffer, and a Buffer is what the HTTP layer writes.
    der: Buffer.from(r.der),
    thisUpdate: r.thisUpdate,
    nextUpdate: r.nextUpdate,
    status: r.status,
    etag: etagFor(r.der),
  };
}

async function writeAll(fh: FileHandle, data: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const { bytesWritten } = await fh.write(data, off, data.length - off, position + off);
    off += bytesWritten;
  }
}

/** Write a complete log to a temp file, fsync it, rename it into place and fsync the directory. */
async function writeFresh(path: string, frames: Buffer[]): Promise<number> {
  const tmp = `${path}.compact-${process.pid}`;
  const fh = await open(tmp, 'w');
  const data = Buffer.concat([MAGIC, ...frames]);
  try {
    await writeAll(fh, data, 0);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await syncDir(path);
  return data.length;
}

/** Makes a rename in the directory of `path` durable. */
async function syncDir(path: string): Promise<void> {
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
