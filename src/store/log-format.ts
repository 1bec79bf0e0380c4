// The embedded store's on-disk format: an 8-byte magic, then frames of
//   u32 BE payload length | u32 BE crc32(payload) | payload (codec.ts)
// A crash can leave only a torn last frame (we never append after an unacknowledged write
// without first cutting it off), so a scan stops at the first frame that is short or whose
// checksum fails and reports where the valid log ends.
import { readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { decodeEntry, decodeHead, encodeEntry, type EntryHead } from './codec.js';
import type { StoredEntry } from './types.js';

export const MAGIC = Buffer.from('OCSPLOG1', 'latin1');
const FRAME_HEADER = 8;
/** A frame longer than this is treated as corruption rather than allocated. */
const MAX_PAYLOAD = 1 << 24;

export function encodeFrame(e: StoredEntry): Buffer {
  const payload = encodeEntry(e);
  const frame = Buffer.allocUnsafe(FRAME_HEADER + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  frame.writeUInt32BE(crc32(payload), 4);
  payload.copy(frame, FRAME_HEADER);
  return frame;
}

export interface ScanResult {
  entries: StoredEntry[];
  /** Offset (relative to the scanned buffer) just past the last valid frame. */
  validEnd: number;
  /** True when bytes after validEnd exist but do not form a valid frame (torn or corrupt). */
  tornTail: boolean;
}

/** A frame's decoded head, where it starts, and the frame itself (header included; a view of the read buffer). */
export type OnFrame = (head: EntryHead, at: number, frame: Buffer) => void;

/**
 * Scan frames in buf starting at `start`. Whether a tail that does not parse is torn (the writer
 * opening the file after a crash) or not written yet (a follower reading a growing file) is the
 * caller's call.
 */
export function scanFrames(buf: Buffer, start: number): ScanResult {
  const entries: StoredEntry[] = [];
  const { validEnd, tornTail } = scanFramesInto(buf, start, (_head, _at, frame) => entries.push(decodeEntry(frame.subarray(FRAME_HEADER))));
  return { entries, validEnd, tornTail };
}

/**
 * scanFrames, handing each frame over (`at` relative to buf) instead of decoding and collecting
 * entries; a payload whose head does not decode ends the valid frames. Without `onFrame` only the
 * lengths and checksums are checked (no head is decoded).
 */
export function scanFramesInto(buf: Buffer, start: number, onFrame?: OnFrame): Omit<ScanResult, 'entries'> {
  let o = start;
  while (o < buf.length) {
    if (buf.length - o < FRAME_HEADER) break;
    const len = buf.readUInt32BE(o);
    if (len > MAX_PAYLOAD || len === 0) break;
    if (buf.length - o - FRAME_HEADER < len) break;
    const payload = buf.subarray(o + FRAME_HEADER, o + FRAME_HEADER + len);
    if (crc32(payload) !== buf.readUInt32BE(o + 4)) break;
    if (onFrame === undefined) {
      o += FRAME_HEADER + len;
      continue;
    }
    let head: EntryHead;
    try {
      head = decodeHead(payload);
    } catch {
      break;
    }
    onFrame(head, o, buf.subarray(o, o + FRAME_HEADER + len));
    o += FRAME_HEADER + len;
  }
  return { validEnd: o, tornTail: o < buf.length };
}

/** How much of a log a chunked read holds at once (a frame longer than this is read whole). */
const READ_CHUNK = 8 << 20;

/**
 * Reads the frames of a log file from `from` to `size` in chunks, handing each over with its file
 * offset: a log of a million responses (half a gigabyte) is never in memory whole, and
 * no list of its entries is built. Stops at the first frame that is short or does not parse, and
 * returns the file offset where the valid frames end.
 */
export async function readFrames(
  fh: FileHandle,
  from: number,
  size: number,
  /** Absent: the frames' lengths and checksums are only checked. */
  onFrame: OnFrame | undefined,
  /** Awaited after each chunk's frames were handed over, before the next read (a copier writes them out). */
  afterChunk?: () => Promise<void>,
): Promise<number> {
  let pos = from;
  let validEnd = from;
  let carry: Buffer = Buffer.alloc(0);
  while (pos < size) {
    const want = Math.max(READ_CHUNK, frameNeed(carry) - carry.length);
    const chunk = Buffer.allocUnsafe(Math.min(want, size - pos));
    const { bytesRead } = await fh.read(chunk, 0, chunk.length, pos);
    if (bytesRead === 0) break;
    pos += bytesRead;
    const buf = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
    const base = validEnd;
    const scan = scanFramesInto(buf, 0, onFrame && ((head, at, frame) => onFrame(head, base + at, frame)));
    validEnd += scan.validEnd;
    carry = buf.subarray(scan.validEnd);
    await afterChunk?.();
    // A whole frame that did not parse is where the valid log ends, whatever follows it.
    if (carry.length >= FRAME_HEADER && carry.length >= frameNeed(carry)) break;
  }
  return validEnd;
}

/**
 * Reads back the frame an index points at. Synchronous on purpose: the serving path answers from
 * the page cache without a promise per request. Throws when the bytes are not the frame that was
 * indexed (a log damaged since), so a caller never serves them.
 */
export function readFrameAt(fd: number, at: number, frameLength: number): StoredEntry {
  const frame = Buffer.allocUnsafe(frameLength);
  const n = readSync(fd, frame, 0, frameLength, at);
  if (n !== frameLength || frame.readUInt32BE(0) !== frameLength - FRAME_HEADER)
    throw new Error(`response log: short or moved frame at ${at}`);
  const payload = frame.subarray(FRAME_HEADER);
  if (crc32(payload) !== frame.readUInt32BE(4)) throw new Error(`response log: checksum mismatch at ${at}`);
  return decodeEntry(payload, true);
}

/** Bytes the frame starting `buf` needs in all (header included); a header not yet read needs FRAME_HEADER. */
function frameNeed(buf: Buffer): number {
  if (buf.length < FRAME_HEADER) return FRAME_HEADER;
  const len = buf.readUInt32BE(0);
  return len > MAX_PAYLOAD || len === 0 ? 0 : FRAME_HEADER + len;
}

export function hasMagic(buf: Buffer): boolean {
  return buf.length >= MAGIC.length && buf.subarray(0, MAGIC.length).equals(MAGIC);
}
