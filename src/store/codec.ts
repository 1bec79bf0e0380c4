// One binary layout for a stored response, shared by the embedded log and Redis values, so a
// record read back is byte-for-byte what the signer wrote and needs no DER parsing.
//
// layout: u8 version | u8 status | f64 thisUpdate | f64 nextUpdate
//         | u8 len issuerId | issuerId | u8 len serial | serial | u8 len etag | etag | der...
import type { StoredStatus, StoredEntry } from './types.js';

const VERSION = 1;
const STATUS: readonly StoredStatus[] = ['good', 'revoked', 'unknown'];

/** Byte length encodeEntry will produce (ASCII key parts, as keys.ts guarantees). */
export function encodedLength(e: StoredEntry): number {
  return 21 + e.issuerId.length + e.serial.length + e.etag.length + e.der.byteLength;
}

export function encodeEntry(e: StoredEntry): Buffer {
  const issuer = Buffer.from(e.issuerId, 'latin1');
  const serial = Buffer.from(e.serial, 'latin1');
  const etag = Buffer.from(e.etag, 'latin1');
  if (issuer.length > 255 || serial.length > 255 || etag.length > 255) throw new Error('key part longer than 255 bytes');
  const buf = Buffer.allocUnsafe(encodedLength(e));
  let o = 0;
  buf[o++] = VERSION;
  buf[o++] = STATUS.indexOf(e.status);
  buf.writeDoubleBE(e.thisUpdate, o);
  o += 8;
  buf.writeDoubleBE(e.nextUpdate, o);
  o += 8;
  for (const part of [issuer, serial, etag]) {
    buf[o++] = part.length;
    o += part.copy(buf, o);
  }
  buf.set(e.der, o);
  return buf;
}

/** The last issuer id decoded: a log holds one or a few issuers, and a million copies of one 64-character string cost time and memory. */
let lastIssuer = { bytes: Buffer.alloc(0), text: '' };

function issuerText(buf: Buffer, start: number, end: number): string {
  const last = lastIssuer.bytes;
  let same = last.length === end - start;
  for (let i = 0; same && i < last.length; i++) same = last[i] === buf[start + i];
  if (!same) lastIssuer = { bytes: Buffer.from(buf.subarray(start, end)), text: buf.toString('latin1', start, end) };
  return lastIssuer.text;
}

/** What an index needs of a stored entry: its key and validity, without copying the DER. */
export interface EntryHead {
  issuerId: string;
  serial: string;
  thisUpdate: number;
  nextUpdate: number;
}

/** Throws on a malformed buffer; callers that read untrusted storage treat that as corruption. */
export function decodeHead(buf: Buffer): EntryHead {
  return decode(buf, false, false);
}

/**
 * Throws on a malformed buffer; callers that read untrusted storage treat that as corruption.
 * The DER is copied, so the entry does not pin a large read buffer in memory, unless `buf` is
 * the caller's own buffer of this one entry (`view`).
 */
export function decodeEntry(buf: Buffer, view = false): StoredEntry {
  return decode(buf, true, view);
}

// One straight-line decoder for both: the serving path reads an entry per request.
function decode(buf: Buffer, whole: false, view: boolean): EntryHead;
function decode(buf: Buffer, whole: true, view: boolean): StoredEntry;
function decode(buf: Buffer, whole: boolean, view: boolean): EntryHead | StoredEntry {
  if (buf.length < 21 || buf[0] !== VERSION) throw new Error('stored entry: bad version or length');
  const status = STATUS[buf[1]!];
  if (status === undefined) throw new Error('stored entry: bad status');
  const thisUpdate = buf.readDoubleBE(2);
  const nextUpdate = buf.readDoubleBE(10);
  let o = 18;
  const issuerEnd = o + 1 + buf[o]!;
  const serialEnd = issuerEnd < buf.length ? issuerEnd + 1 + buf[issuerEnd]! : Infinity;
  const etagEnd = serialEnd < buf.length ? serialEnd + 1 + buf[serialEnd]! : Infinity;
  if (etagEnd > buf.length) throw new Error('stored entry: truncated');
  const issuerId = issuerText(buf, o + 1, issuerEnd);
  const serial = buf.toString('latin1', issuerEnd + 1, serialEnd);
  if (!whole) return { issuerId, serial, thisUpdate, nextUpdate };
  o = etagEnd;
  const etag = buf.toString('latin1', serialEnd + 1, etagEnd);
  const der = view ? buf.subarray(o) : Buffer.from(buf.subarray(o));
  return { issuerId, serial, thisUpdate, nextUpdate, status, etag, der };
}
