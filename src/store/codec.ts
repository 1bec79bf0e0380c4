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
  const bytes = buf.subarray(start, end);
  if (!bytes.equals(lastIssuer.bytes)) lastIssuer = { bytes: Buffer.from(bytes), text: bytes.toString('latin1') };
  return lastIssuer.text;
}

/** Throws on a malformed buffer; callers that read untrusted storage treat that as corruption. */
export function decodeEntry(buf: Buffer): StoredEntry {
  if (buf.length < 21 || buf[0] !== VERSION) throw new Error('stored entry: bad version or length');
  const status = STATUS[buf[1]!];
  if (status === undefined) throw new Error('stored entry: bad status');
  let o = 2;
  const thisUpdate = buf.readDoubleBE(o);
  o += 8;
  const nextUpdate = buf.readDoubleBE(o);
  o += 8;
  const parts: string[] = [];
  for (let i = 0; i < 3; i++) {
    const len = buf[o++];
    if (len === undefined || o + len > buf.length) throw new Error('stored entry: truncated');
    parts.push(i === 0 ? issuerText(buf, o, o + len) : buf.toString('latin1', o, o + len));
    o += len;
  }
  // A copy, so the entry does not pin a large read buffer (the whole log at start-up) in memory.
  const der = Buffer.from(buf.subarray(o));
  return { issuerId: parts[0]!, serial: parts[1]!, etag: parts[2]!, status, thisUpdate, nextUpdate, der };
}
