// A checkpoint of a log's index beside the log (`<log>.index`): a process opening a log of a
// million responses reads 60–80 MB of arrays and the frames appended since, instead
// of decoding every frame of the log (seconds of CPU in each process: the signer and every
// responder worker open the same log at a pod's start). Only the log's writer writes it, to a
// temporary file renamed into place, without fsync: a torn, stale or foreign checkpoint fails its
// checks and the log is read whole, as without one. It is trusted only for the file it names (its
// inode), up to the offset it covers, after frames it points at were read back and agreed.
import { closeSync, openSync, writeSync } from 'node:fs';
import { readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { readFrameAt } from './log-format.js';
import { LogIndex, type LogIndexState } from './log-index.js';

const MAGIC = Buffer.from('OCSPIDX1', 'latin1');
const VERSION = 1;
/** Read back in the reader's byte order: arrays are written as they lie in memory. */
const BYTE_ORDER = 0x01020304;
/** magic, byte order, version, ino, covered, n, table length, serials' length, issuer count */
const HEAD_BYTES = MAGIC.length + 4 * 2 + 8 * 2 + 4 * 4;
/** Frames read back to check a checkpoint against its log before trusting it. */
const SPOT_CHECKS = 64;

/** Which log a checkpoint is of, and how much of it. */
export interface SnapshotCover {
  /** The log file's inode: a compaction renames a new file into place. */
  ino: number;
  /** Log bytes the index covers; frames from here on are read from the log. */
  covered: number;
}

export function snapshotPath(logPath: string): string {
  return `${logPath}.index`;
}

/**
 * The checkpoint's bytes in parts: a small head, then views of the index's own arrays (no copy of
 * a million entries' worth), then the CRC32 of all. Valid until the index next changes.
 */
export function indexSnapshotParts(index: LogIndex, cover: SnapshotCover): Buffer[] {
  const s = index.state();
  const issuers = s.issuerIds.map((id) => Buffer.from(id, 'latin1'));
  const head = Buffer.alloc(HEAD_BYTES);
  let o = MAGIC.copy(head, 0);
  o = head.writeUInt32LE(BYTE_ORDER, o);
  o = head.writeUInt32LE(VERSION, o);
  o = head.writeDoubleLE(cover.ino, o);
  o = head.writeDoubleLE(cover.covered, o);
  o = head.writeUInt32LE(s.n, o);
  o = head.writeUInt32LE(s.table.length, o);
  o = head.writeUInt32LE(s.serials.length, o);
  head.writeUInt32LE(issuers.length, o);
  const issuerBytes = Buffer.concat(issuers.flatMap((b) => [Buffer.from([b.length]), b]));
  const padding = Buffer.alloc(pad8(head.length + issuerBytes.length));
  const parts = [head, issuerBytes, padding, ...arraysOf(s).map(bytesOf)];
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32LE(parts.reduce((crc, part) => crc32(part, crc), 0));
  return [...parts, trailer];
}

/** The index and what it covers, or undefined when the bytes are not a whole, sound checkpoint. */
export function decodeIndexSnapshot(buf: Buffer): { index: LogIndex; cover: SnapshotCover } | undefined {
  if (buf.length < HEAD_BYTES + 4 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  if (crc32(buf.subarray(0, buf.length - 4)) !== buf.readUInt32LE(buf.length - 4)) return undefined;
  let o = MAGIC.length;
  if (buf.readUInt32LE(o) !== BYTE_ORDER || buf.readUInt32LE(o + 4) !== VERSION) return undefined;
  o += 8;
  const cover = { ino: buf.readDoubleLE(o), covered: buf.readDoubleLE(o + 8) };
  o += 16;
  const n = buf.readUInt32LE(o);
  const tableLength = buf.readUInt32LE(o + 4);
  const serialsLength = buf.readUInt32LE(o + 8);
  const issuerCount = buf.readUInt32LE(o + 12);
  o += 16;
  // At most half full and a power of two, or a lookup could probe forever.
  if (tableLength < 2 * n || tableLength === 0 || (tableLength & (tableLength - 1)) !== 0) return undefined;
  const issuerIds: string[] = [];
  for (let i = 0; i < issuerCount; i++) {
    if (o >= buf.length) return undefined;
    const len = buf[o]!;
    issuerIds.push(buf.toString('latin1', o + 1, o + 1 + len));
    o += 1 + len;
  }
  o += pad8(o);
  // Views of the file's bytes where they are aligned (a file read whole is), else copies.
  const take = <T extends Typed>(make: TypedConstructor<T>, length: number): T => {
    const bytes = length * make.BYTES_PER_ELEMENT;
    if (o + bytes > buf.length - 4) throw new RangeError('short checkpoint');
    const offset = buf.byteOffset + o;
    let arr: T;
    if (offset % make.BYTES_PER_ELEMENT === 0 && buf.buffer instanceof ArrayBuffer) arr = new make(buf.buffer, offset, length);
    else {
      arr = new make(length);
      new Uint8Array(arr.buffer).set(buf.subarray(o, o + bytes));
    }
    o += bytes;
    return arr;
  };
  let state: LogIndexState;
  try {
    // The order of arraysOf: wider elements first, so each array starts aligned in the file.
    const at = take(Float64Array, n);
    const thisUpdate = take(Float64Array, n);
    const nextUpdate = take(Float64Array, n);
    const issuer = take(Uint32Array, n);
    const serialAt = take(Uint32Array, n);
    const frameLength = take(Uint32Array, n);
    const table = take(Int32Array, tableLength);
    const serialLength = take(Uint8Array, n);
    const serials = take(Uint8Array, serialsLength);
    state = { issuerIds, n, issuer, serialAt, serialLength, at, frameLength, thisUpdate, nextUpdate, serials, table };
  } catch {
    return undefined;
  }
  if (o !== buf.length - 4 || !consistent(state)) return undefined;
  return { index: LogIndex.restore(state), cover };
}

/**
 * Writes the checkpoint of `index` for the log at `logPath`. The parts are the live index's arrays,
 * so they are written synchronously, before any frame can change them (some tens of milliseconds
 * at a million entries, instead of a copy of them in memory); the rename comes after.
 */
export async function writeIndexSnapshot(logPath: string, index: LogIndex, cover: SnapshotCover): Promise<void> {
  const tmp = `${snapshotPath(logPath)}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    for (const part of indexSnapshotParts(index, cover)) {
      for (let off = 0; off < part.length;) off += writeSync(fd, part, off);
    }
  } finally {
    closeSync(fd);
  }
  try {
    await rename(tmp, snapshotPath(logPath));
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/**
 * The checkpoint of the open log `log` (inode `ino`, `size` bytes), when there is one of exactly
 * this file that covers no more than it holds and whose frames read back as indexed.
 */
export async function readIndexSnapshot(
  logPath: string,
  log: FileHandle,
  ino: number,
  size: number,
): Promise<{ index: LogIndex; covered: number } | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(snapshotPath(logPath));
  } catch {
    return undefined;
  }
  const snap = decodeIndexSnapshot(bytes);
  if (!snap || snap.cover.ino !== ino || snap.cover.covered > size) return undefined;
  return agreesWithLog(snap.index, log.fd, snap.cover.covered) ? { index: snap.index, covered: snap.cover.covered } : undefined;
}

/** Frames spread over the index (and its newest key's) read back with the key and times indexed. */
function agreesWithLog(index: LogIndex, fd: number, covered: number): boolean {
  const step = Math.max(1, Math.floor(index.size / SPOT_CHECKS));
  const checks = [];
  for (let slot = 0; slot < index.size; slot += step) checks.push(slot);
  if (index.size > 0) checks.push(index.size - 1);
  try {
    for (const slot of checks) {
      const [issuerId, serial] = index.keyOf(slot);
      const { at, frameLength } = index.place(slot);
      if (at + frameLength > covered) return false;
      const entry = readFrameAt(fd, at, frameLength);
      if (entry.issuerId !== issuerId || entry.serial !== serial || entry.nextUpdate !== index.nextUpdateOf(slot)) return false;
    }
  } catch {
    return false;
  }
  return true;
}

/** Every array points inside the others: a checkpoint that passed its CRC but not this is a bug's. */
function consistent(s: LogIndexState): boolean {
  for (let slot = 0; slot < s.n; slot++) {
    if (s.issuer[slot]! >= s.issuerIds.length || s.serialAt[slot]! + s.serialLength[slot]! > s.serials.length) return false;
  }
  let used = 0;
  for (const slot of s.table) {
    if (slot === -1) continue;
    if (slot < 0 || slot >= s.n) return false;
    used++;
  }
  return used === s.n;
}

type Typed = Float64Array<ArrayBuffer> | Uint32Array<ArrayBuffer> | Int32Array<ArrayBuffer> | Uint8Array<ArrayBuffer>;

interface TypedConstructor<T> {
  new (length: number): T;
  new (buffer: ArrayBuffer, byteOffset: number, length: number): T;
  readonly BYTES_PER_ELEMENT: number;
}

function arraysOf(s: LogIndexState): Typed[] {
  return [s.at, s.thisUpdate, s.nextUpdate, s.issuer, s.serialAt, s.frameLength, s.table, s.serialLength, s.serials];
}

function bytesOf(a: Typed): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Bytes from `length` to the next multiple of eight. */
function pad8(length: number): number {
  return (8 - (length % 8)) % 8;
}
