// Reading a DER structure field by field against its ASN.1 definition: each field with its exact
// tag, every byte of a constructed element accounted for, primitives checked for their DER form.
// The OCSP and certificate readers are written with this instead of a schema library, which
// accepts BER and matches some fields by position (and costs most of a validation's time).
import { assertStrictTree, DerError, oidToString, readTlv, type Tlv } from './der.js';

function hexTag(tag: number): string {
  return `0x${tag.toString(16).padStart(2, '0')}`;
}

/** A cursor over the fields of one constructed element, named `what` in errors. */
export class DerFields {
  private p: number;
  private readonly end: number;

  constructor(
    readonly buf: Uint8Array,
    parent: Tlv,
    private readonly what: string,
  ) {
    this.p = parent.contentStart;
    this.end = parent.end;
  }

  /** Whether any field is left. */
  get more(): boolean {
    return this.p < this.end;
  }

  /** The next field, whatever its tag (a CHOICE, an ANY); throws when there is none. */
  next(name: string): Tlv {
    if (this.p >= this.end) throw new DerError(`${this.what}: ${name} is missing`);
    const t = readTlv(this.buf, this.p, this.end);
    this.p = t.end;
    return t;
  }

  /** The next field, which must carry exactly `tag`. */
  take(tag: number, name: string): Tlv {
    const t = this.next(name);
    if (t.tag !== tag) throw new DerError(`${this.what}: ${name} has tag ${hexTag(t.tag)}, expected ${hexTag(tag)}`);
    return t;
  }

  /** The next field when it carries `tag` (an OPTIONAL or DEFAULT field); otherwise nothing is read. */
  optional(tag: number): Tlv | undefined {
    if (this.p >= this.end || this.buf[this.p] !== tag) return undefined;
    return this.next('');
  }

  /** Throws unless every field has been read: DER leaves nothing after the last field. */
  finish(): void {
    if (this.p !== this.end) throw new DerError(`${this.what}: unexpected field with tag ${hexTag(this.buf[this.p]!)} after the last one`);
  }
}

/** The one element inside an EXPLICIT tag (or an OCTET STRING wrapping DER), which must carry `tag`. */
export function explicitInner(buf: Uint8Array, wrapper: Tlv, tag: number, what: string): Tlv {
  const f = new DerFields(buf, wrapper, what);
  const t = f.take(tag, 'the tagged value');
  f.finish();
  return t;
}

/** Like explicitInner for an ANY inside the tag: any tag, checked as strict DER all the way down. */
export function explicitAny(buf: Uint8Array, wrapper: Tlv, what: string): Tlv {
  const f = new DerFields(buf, wrapper, what);
  const t = f.next('the tagged value');
  f.finish();
  assertStrictTree(buf, t);
  return t;
}

/** INTEGER content bytes, as they are (serial numbers are compared byte for byte), after the X.690 8.3.2 minimality check. */
export function integerBytes(buf: Uint8Array, t: Tlv): Uint8Array {
  const n = t.end - t.contentStart;
  if (n === 0) throw new DerError(`empty INTEGER at offset ${t.start}`);
  if (n > 1) {
    const a = buf[t.contentStart]!;
    const b = buf[t.contentStart + 1]!;
    // Nine leading bits all 0 or all 1: the value fits in fewer bytes.
    if ((a === 0x00 && b < 0x80) || (a === 0xff && b >= 0x80)) throw new DerError(`non-minimal INTEGER at offset ${t.start}`);
  }
  return buf.subarray(t.contentStart, t.end);
}

/** A non-negative INTEGER or ENUMERATED that fits in 31 bits (versions, reason codes, status codes). */
export function smallInteger(buf: Uint8Array, t: Tlv): number {
  const c = integerBytes(buf, t);
  if (c[0]! >= 0x80) throw new DerError(`negative value at offset ${t.start}`);
  if (c.length > 4) throw new DerError(`value too large at offset ${t.start}`);
  let v = 0;
  for (const b of c) v = v * 256 + b;
  return v;
}

/** BOOLEAN: one byte, 0x00 or 0xFF (X.690 11.1). */
export function booleanValue(buf: Uint8Array, t: Tlv): boolean {
  const v = buf[t.contentStart];
  if (t.end - t.contentStart !== 1 || (v !== 0x00 && v !== 0xff))
    throw new DerError(`BOOLEAN at offset ${t.start} is not one byte 00 or FF`);
  return v === 0xff;
}

/** Checks that a NULL (or an IMPLICIT NULL such as CertStatus good) has no content. */
export function checkNull(t: Tlv): void {
  if (t.end !== t.contentStart) throw new DerError(`NULL at offset ${t.start} has ${t.end - t.contentStart} content bytes`);
}

/** Checks an OBJECT IDENTIFIER's content: not empty, each arc minimally encoded and complete. */
export function checkOid(buf: Uint8Array, t: Tlv): void {
  if (t.end === t.contentStart) throw new DerError(`empty OBJECT IDENTIFIER at offset ${t.start}`);
  let arcStart = true;
  for (let i = t.contentStart; i < t.end; i++) {
    const b = buf[i]!;
    if (arcStart && b === 0x80) throw new DerError(`OBJECT IDENTIFIER arc with a leading 0x80 at offset ${i}`);
    arcStart = (b & 0x80) === 0;
  }
  if (!arcStart) throw new DerError(`OBJECT IDENTIFIER at offset ${t.start} ends inside an arc`);
}

// The same few OIDs (a hash algorithm, id-pkix-ocsp-basic, the nonce) come in every message: the
// dotted forms of the last ones seen are kept, so that most reads build no string.
const seenOids: { content: Uint8Array; dotted: string }[] = [];
const SEEN_OIDS = 32;
let nextSeen = 0;

/** The dotted form of an OBJECT IDENTIFIER, after checkOid. */
export function oidValue(buf: Uint8Array, t: Tlv): string {
  checkOid(buf, t);
  const n = t.end - t.contentStart;
  search: for (const o of seenOids) {
    if (o.content.length !== n) continue;
    for (let i = 0; i < n; i++) if (o.content[i] !== buf[t.contentStart + i]) continue search;
    return o.dotted;
  }
  const content = buf.slice(t.contentStart, t.end);
  const dotted = oidToString(content);
  seenOids[nextSeen] = { content, dotted };
  nextSeen = (nextSeen + 1) % SEEN_OIDS;
  return dotted;
}

/** Checks a BIT STRING's form: an unused-bits count of 0–7, none without data, and those bits zero (X.690 11.2.1). */
export function checkBitString(buf: Uint8Array, t: Tlv): void {
  const n = t.end - t.contentStart;
  if (n === 0) throw new DerError(`empty BIT STRING at offset ${t.start}`);
  const unused = buf[t.contentStart]!;
  if (unused > 7 || (n === 1 && unused !== 0)) throw new DerError(`BIT STRING at offset ${t.start} declares ${unused} unused bits`);
  if (unused && buf[t.end - 1]! & ((1 << unused) - 1)) throw new DerError(`BIT STRING at offset ${t.start} has unused bits set`);
}

/** The bytes of a BIT STRING that holds whole bytes (signatures, keys): its unused-bits count must be 0. */
export function bitStringBytes(buf: Uint8Array, t: Tlv): Uint8Array {
  checkBitString(buf, t);
  if (buf[t.contentStart] !== 0) throw new DerError(`BIT STRING at offset ${t.start} has unused bits`);
  return buf.subarray(t.contentStart + 1, t.end);
}
