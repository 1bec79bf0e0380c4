// A read-only view of an embedded log written by another process on the same machine (a signer
// and a responder sharing a volume), indexed as the writer indexes it (log-index.ts), starting
// from the writer's checkpoint of that index (index-snapshot.ts). It tails the file by polling: new complete frames are
// applied, an incomplete last frame waits for the next poll, and a replaced file (compaction
// renames a new one into place) or a rewritten tail (a writer restarting after a crash cuts its
// torn frame off) is detected and the file is read again from the start.
import { open, stat, type FileHandle } from 'node:fs/promises';
import { readIndexSnapshot } from './index-snapshot.js';
import { hasMagic, MAGIC, readFrames, scanFramesInto } from './log-format.js';
import { LogIndex } from './log-index.js';
import { LogView, walkEntries } from './log-view.js';
import type { LogLoad, ResponseRecord, ResponseStore, StoredEntry, StoredResponse, StoreLag } from './types.js';

export interface EmbeddedFollowerOptions {
  path: string;
  pollMs?: number;
  now?: () => number;
}

const MAX_FRAME = (1 << 24) + 8;

export class EmbeddedFollower implements ResponseStore {
  /** Undefined until the log was first read. */
  private view: LogView | undefined;
  private ino = -1;
  private offset = 0;
  private remainder: Buffer = Buffer.alloc(0);
  private caughtUpAt: number;
  private detail: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private readonly now: () => number;
  private loaded: LogLoad = { checkpointBytes: 0, scannedBytes: 0 };

  private constructor(private readonly opts: EmbeddedFollowerOptions) {
    this.now = opts.now ?? Date.now;
    this.caughtUpAt = -Infinity;
  }

  static async open(opts: EmbeddedFollowerOptions): Promise<EmbeddedFollower> {
    const f = new EmbeddedFollower(opts);
    await f.poll();
    f.timer = setInterval(() => void f.poll(), opts.pollMs ?? 250);
    f.timer.unref();
    return f;
  }

  get lastLoad(): LogLoad {
    return this.loaded;
  }

  get(issuerId: string, serial: string): StoredResponse | undefined {
    return this.view?.get(issuerId, serial);
  }

  put(_records: readonly ResponseRecord[]): Promise<void> {
    return Promise.reject(new Error('embedded follower is read-only; write through the signer that owns the log'));
  }

  /** Read whatever the writer appended since the last poll (tests call it to avoid waiting). */
  poll(): Promise<void> {
    this.polling ??= this.pollOnce().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    try {
      const st = await stat(this.opts.path);
      if (st.ino !== this.ino || st.size < this.offset) {
        await this.reload();
        return;
      }
      const view = this.view;
      if (st.size > this.offset && view !== undefined) {
        const fresh = await readRange(view.fh, this.offset, st.size - this.offset);
        const base = this.offset - this.remainder.length;
        this.offset += fresh.length;
        const buf = this.remainder.length > 0 ? Buffer.concat([this.remainder, fresh]) : fresh;
        const scan = scanFramesInto(buf, 0, (head, at, frame) => view.index.apply(head, base + at, frame.length));
        this.remainder = Buffer.from(buf.subarray(scan.validEnd));
        if (isCorrupt(this.remainder)) {
          // Not an unfinished frame but bytes that will never parse: the writer rewrote its tail.
          await this.reload();
          return;
        }
      }
      this.detail = undefined;
      this.caughtUpAt = this.now();
    } catch (e) {
      this.detail = e instanceof Error ? e.message : String(e);
    }
  }

  private async reload(): Promise<void> {
    const fh = await open(this.opts.path, 'r');
    let old: FileHandle | undefined = fh;
    try {
      const st = await fh.stat();
      const magic = Buffer.alloc(MAGIC.length);
      const { bytesRead } = await fh.read(magic, 0, MAGIC.length, 0);
      if (!hasMagic(magic.subarray(0, bytesRead))) throw new Error(`${this.opts.path} is not a response log (yet)`);
      // Read in chunks into a new index (from the writer's checkpoint on, when it has one of this
      // file); the old index and file serve until the new one is whole, then both are swapped in
      // one synchronous step.
      const snapshot = await readIndexSnapshot(this.opts.path, fh, st.ino, st.size);
      const index = snapshot?.index ?? new LogIndex();
      const from = snapshot?.covered ?? MAGIC.length;
      const validEnd = await readFrames(fh, from, st.size, (head, at, frame) => index.apply(head, at, frame.length));
      old = this.view?.fh;
      this.view = new LogView(fh, index);
      this.ino = st.ino;
      this.offset = validEnd;
      this.loaded = { checkpointBytes: snapshot?.covered ?? 0, scannedBytes: validEnd - from };
      this.remainder = Buffer.alloc(0);
      this.detail = undefined;
      this.caughtUpAt = this.now();
    } finally {
      await old?.close();
    }
  }

  /** Every stored response, read back from the log one at a time. */
  async *entries(): AsyncIterable<StoredEntry> {
    yield* walkEntries(() => this.view);
  }

  async lag(): Promise<StoreLag> {
    const lagMs = Math.max(0, this.now() - this.caughtUpAt);
    return { lagMs, detached: this.detail !== undefined, ...(this.detail !== undefined ? { detail: this.detail } : {}) };
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.polling;
    await this.view?.fh.close();
    this.view = undefined;
  }
}

function isCorrupt(rem: Buffer): boolean {
  if (rem.length < 8) return false;
  const len = rem.readUInt32BE(0);
  return len === 0 || len + 8 > MAX_FRAME || rem.length >= len + 8;
}

async function readRange(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, position);
  return buf.subarray(0, bytesRead);
}
