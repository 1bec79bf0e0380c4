// Strict DER at the level of tags and lengths: definite, minimal lengths that fit their enclosing
// element, low tag numbers, and nothing after the outer element. asn1js (under @peculiar/asn1-schema)
// accepts BER, trailing bytes and indefinite lengths; der-fields.ts reads structures on top of this.

export interface Tlv {
  tag: number;
  /** offset of the tag byte */
  start: number;
  /** offset of the first content byte */
  contentStart: number;
  /** offset one past the last content byte */
  end: number;
}

export class DerError extends Error {
  override readonly name = 'DerError';
}

/** Reads one TLV at `offset`, checking that lengths are minimal and definite and fit in `limit`. */
export function readTlv(buf: Uint8Array, offset: number, limit: number = buf.length): Tlv {
  if (offset + 2 > limit) throw new DerError(`need a tag and a length at offset ${offset}, have ${limit - offset} bytes`);
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError(`high tag number form at offset ${offset}`);
  let p = offset + 1;
  const first = buf[p++]!;
  let len: number;
  if (first < 0x80) {
    len = first;
  } else {
    const n = first & 0x7f;
    if (n === 0) throw new DerError(`indefinite length at offset ${offset}`);
    if (n > 4) throw new DerError(`length of ${n} bytes at offset ${offset}`);
    if (p + n > limit) throw new DerError(`length bytes run past the end at offset ${offset}`);
    if (buf[p] === 0) throw new DerError(`non-minimal length at offset ${offset}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p++]!;
    if (len < 0x80) throw new DerError(`non-minimal length at offset ${offset}`);
  }
  const end = p + len;
  if (end > limit) throw new DerError(`element at offset ${offset} declares ${len} bytes, only ${limit - p} present`);
  return { tag, start: offset, contentStart: p, end };
}

/** The children of a constructed TLV. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let p = parent.contentStart;
  while (p < parent.end) {
    const t = readTlv(buf, p, parent.end);
    out.push(t);
    p = t.end;
  }
  return out;
}

export function bytesOf(buf: Uint8Array, t: Tlv): Uint8Array {
  return buf.subarray(t.start, t.end);
}

export function contentOf(buf: Uint8Array, t: Tlv): Uint8Array {
  return buf.subarray(t.contentStart, t.end);
}

const MAX_DEPTH = 48;

/**
 * Throws DerError unless `buf` is exactly one TLV tree in DER form: definite minimal lengths, no trailing
 * bytes, no constructed universal strings (only SEQUENCE/SET are constructed in the universal class).
 */
export function assertStrictDer(buf: Uint8Array): void {
  const top = readTlv(buf, 0);
  if (top.end !== buf.length) throw new DerError(`${buf.length - top.end} trailing bytes after the outer element`);
  assertStrictTree(buf, top);
}

/** The same checks as assertStrictDer for one element already read (an ANY field, a Name attribute value). */
export function assertStrictTree(buf: Uint8Array, t: Tlv, depth = 0): void {
  if (depth > MAX_DEPTH) throw new DerError('nesting too deep');
  const constructed = (t.tag & 0x20) !== 0;
  if (!constructed) return;
  if ((t.tag & 0xc0) === 0 && t.tag !== 0x30 && t.tag !== 0x31) {
    throw new DerError(`constructed universal tag 0x${t.tag.toString(16)} at offset ${t.start}`);
  }
  for (let p = t.contentStart; p < t.end;) {
    const c = readTlv(buf, p, t.end);
    assertStrictTree(buf, c, depth + 1);
    p = c.end;
  }
}

/** Encodes a DER length + tag header around content. */
export function encodeTlv(tag: number, content: Uint8Array): Uint8Array {
  const len = content.length;
  let header: number[];
  if (len < 0x80) header = [tag, len];
  else {
    const bytes: number[] = [];
    for (let l = len; l > 0; l = Math.floor(l / 256)) bytes.unshift(l & 0xff);
    header = [tag, 0x80 | bytes.length, ...bytes];
  }
  const out = new Uint8Array(header.length + len);
  out.set(header, 0);
  out.set(content, header.length);
  return out;
}

/** An OBJECT IDENTIFIER TLV from its dotted form (the inverse of oidToString). */
export function encodeOid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map(Number);
  if (arcs.length < 2 || arcs.some((a) => !Number.isSafeInteger(a) || a < 0)) throw new Error(`not an OID: ${dotted}`);
  const out: number[] = [];
  for (const arc of [arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)]) {
    const base128: number[] = [];
    for (let v = arc; ; v = Math.floor(v / 128)) {
      base128.unshift((v % 128) | (base128.length ? 0x80 : 0));
      if (v < 128) break;
    }
    out.push(...base128);
  }
  return encodeTlv(0x06, new Uint8Array(out));
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  // Certificates and names are compared on every validation: past a few dozen bytes memcmp wins
  // over a JS loop by several times; below that the call costs more than it saves.
  if (a.length > 32) return Buffer.compare(a, b) === 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Dotted form of OID content bytes (for messages). */
export function oidToString(content: Uint8Array): string {
  const parts: number[] = [];
  let v = 0;
  for (const b of content) {
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      if (parts.length === 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}
