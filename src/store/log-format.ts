// The embedded store's on-disk format: an 8-byte magic, then frames of
//   u32 BE payload length | u32 BE crc32(payload) | payload (codec.ts)
// A crash can leave only a torn last frame (we never append after an unacknowledged write
// without first cutting it off), so a scan stops at the first frame that is short or whose
// checksum fails and reports where the valid log ends.
import { crc32 } from 'node:zlib';
import { decodeEntry, encodeEntry } from './codec.js';
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

/**
 * Scan frames in buf starting at `start`. Whether a tail that does not parse is torn (the writer
 * opening the file after a crash) or not written yet (a follower reading a growing file) is the
 * caller's call.
 */
export function scanFrames(buf: Buffer, start: number): ScanResult {
  const entries: StoredEntry[] = [];
  let o = start;
  while (o < buf.length) {
    if (buf.length - o < FRAME_HEADER) break;
    const len = buf.readUInt32BE(o);
    if (len > MAX_PAYLOAD || len === 0) break;
    if (buf.length - o - FRAME_HEADER < len) break;
    const payload = buf.subarray(o + FRAME_HEADER, o + FRAME_HEADER + len);
    if (crc32(payload) !== buf.readUInt32BE(o + 4)) break;
    let entry: StoredEntry;
    try {
      entry = decodeEntry(payload);
    } catch {
      break;
    }
    entries.push(entry);
    o += FRAME_HEADER + len;
  }
  return { entries, validEnd: o, tornTail: o < buf.length };
}

export function hasMagic(buf: Buffer): boolean {
  return buf.length >= MAGIC.length && buf.subarray(0, MAGIC.length).equals(MAGIC);
}
