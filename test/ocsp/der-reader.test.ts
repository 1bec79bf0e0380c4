// The strict DER reader, one rule at a time: each rejected input breaks exactly one rule and would
// be read without it (or, where another rule would also catch it, names the rule in its message).
import { describe, expect, it } from 'vitest';
import { assertStrictDer, encodeTlv, readTlv, type Tlv } from '../../src/ocsp/der.js';
import {
  bitStringBytes,
  booleanValue,
  checkBitString,
  checkNull,
  checkOid,
  DerFields,
  explicitAny,
  explicitInner,
  integerBytes,
  oidValue,
  smallInteger,
} from '../../src/ocsp/der-fields.js';
import { generalizedTime, utcTime, x509Time } from '../../src/ocsp/der-time.js';
import { checkName, readAlgorithmIdentifier, readExtensions } from '../../src/ocsp/x509-der.js';

const b = (...xs: number[]): Uint8Array => new Uint8Array(xs);
const concat = (parts: Uint8Array[]): Uint8Array => new Uint8Array(parts.flatMap((p) => [...p]));
const tlv = (tag: number, ...parts: Uint8Array[]): Uint8Array => encodeTlv(tag, concat(parts));
const ascii = (tag: number, s: string): Uint8Array => encodeTlv(tag, new Uint8Array(Buffer.from(s, 'latin1')));

/** Reads `der` as one element and applies `f` to it. */
function on<T>(der: Uint8Array, f: (buf: Uint8Array, t: Tlv) => T): T {
  const t = readTlv(der, 0);
  expect(t.end).toBe(der.length);
  return f(der, t);
}

const OID_SHA256 = b(0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01);
const OID_CN = b(0x06, 0x03, 0x55, 0x04, 0x03);

describe('TLV headers (der.ts)', () => {
  it('reads short and long form lengths', () => {
    expect(readTlv(b(0x04, 0x02, 1, 2), 0)).toEqual({ tag: 0x04, start: 0, contentStart: 2, end: 4 });
    const long = new Uint8Array([0x04, 0x81, 0x80, ...new Uint8Array(0x80)]);
    expect(readTlv(long, 0).end).toBe(long.length);
  });

  it('rejects a header cut short', () => {
    expect(() => readTlv(b(0x04), 0)).toThrow(/need a tag and a length/);
  });

  it('rejects the high tag number form', () => {
    expect(() => readTlv(b(0x1f, 0x01, 0x00), 0)).toThrow(/high tag number/);
  });

  it('rejects indefinite lengths', () => {
    expect(() => readTlv(b(0x30, 0x80, 0x00, 0x00), 0)).toThrow(/indefinite length/);
  });

  it('rejects lengths of more than 4 bytes', () => {
    expect(() => readTlv(b(0x04, 0x85, 0x01, 0, 0, 0, 0), 0)).toThrow(/length of 5 bytes/);
  });

  it('rejects length bytes past the end', () => {
    expect(() => readTlv(b(0x04, 0x82, 0x01), 0)).toThrow(/length bytes run past the end/);
  });

  it('rejects a long form with a leading zero byte', () => {
    expect(() => readTlv(new Uint8Array([0x04, 0x82, 0x00, 0x80, ...new Uint8Array(0x80)]), 0)).toThrow(/non-minimal length/);
  });

  it('rejects the long form for a length under 128', () => {
    expect(() => readTlv(b(0x04, 0x81, 0x05, 1, 2, 3, 4, 5), 0)).toThrow(/non-minimal length/);
  });

  it('rejects content past the end, and past the enclosing element', () => {
    expect(() => readTlv(b(0x04, 0x03, 1, 2), 0)).toThrow(/declares 3 bytes, only 2 present/);
    expect(() => readTlv(b(0x04, 0x02, 1, 2, 3), 0, 3)).toThrow(/declares 2 bytes, only 1 present/);
  });

  it('assertStrictDer: trailing bytes, constructed strings, depth', () => {
    expect(() => assertStrictDer(b(0x05, 0x00, 0x00))).toThrow(/1 trailing bytes/);
    expect(() => assertStrictDer(tlv(0x30, tlv(0x24, b(0x04, 0x01, 0x00))))).toThrow(/constructed universal tag 0x24/);
    let deep = b(0x05, 0x00);
    for (let i = 0; i < 48; i++) deep = tlv(0x30, deep);
    expect(() => assertStrictDer(deep)).not.toThrow();
    expect(() => assertStrictDer(tlv(0x30, deep))).toThrow(/nesting too deep/);
  });
});

describe('fields of a constructed element (der-fields.ts)', () => {
  const seq = tlv(0x30, b(0x02, 0x01, 0x05), b(0x04, 0x00));

  it('reads fields in order with their tags', () => {
    const f = new DerFields(seq, readTlv(seq, 0), 'Thing');
    expect(f.optional(0x80)).toBeUndefined(); // another tag: nothing read
    expect(smallInteger(seq, f.take(0x02, 'n'))).toBe(5);
    expect(f.take(0x04, 's').end).toBe(seq.length);
    expect(f.more).toBe(false);
    f.finish();
  });

  it('rejects a field with another tag', () => {
    const f = new DerFields(seq, readTlv(seq, 0), 'Thing');
    expect(() => f.take(0x0a, 'n')).toThrow(/Thing: n has tag 0x02, expected 0x0a/);
  });

  it('rejects a missing field', () => {
    const f = new DerFields(seq, readTlv(seq, 0), 'Thing');
    f.take(0x02, 'n');
    f.take(0x04, 's');
    expect(() => f.take(0x04, 'more')).toThrow(/Thing: more is missing/);
  });

  it('rejects a field after the last one', () => {
    const f = new DerFields(seq, readTlv(seq, 0), 'Thing');
    f.take(0x02, 'n');
    expect(() => f.finish()).toThrow(/Thing: unexpected field with tag 0x04 after the last one/);
  });

  it('explicit tags hold exactly one element of the right tag', () => {
    expect(on(tlv(0xa0, b(0x02, 0x01, 0x00)), (buf, t) => explicitInner(buf, t, 0x02, 'v').contentStart)).toBe(4);
    expect(() => on(tlv(0xa0, b(0x02, 0x01, 0x00), b(0x05, 0x00)), (buf, t) => explicitInner(buf, t, 0x02, 'v'))).toThrow(
      /unexpected field/,
    );
    expect(() => on(tlv(0xa0, b(0x0a, 0x01, 0x00)), (buf, t) => explicitInner(buf, t, 0x02, 'v'))).toThrow(/expected 0x02/);
    expect(() => on(tlv(0xa0), (buf, t) => explicitInner(buf, t, 0x02, 'v'))).toThrow(/missing/);
  });

  it('an explicit ANY is checked as DER all the way down', () => {
    expect(on(tlv(0xa1, tlv(0x30, b(0x05, 0x00))), (buf, t) => explicitAny(buf, t, 'any').tag)).toBe(0x30);
    expect(() => on(tlv(0xa1, tlv(0x30, tlv(0x24, b(0x04, 0x00)))), (buf, t) => explicitAny(buf, t, 'any'))).toThrow(
      /constructed universal/,
    );
  });
});

describe('primitives (der-fields.ts)', () => {
  it('INTEGER: minimal, not empty', () => {
    expect([...on(b(0x02, 0x02, 0x00, 0x80), integerBytes)]).toEqual([0x00, 0x80]);
    expect([...on(b(0x02, 0x02, 0xff, 0x7f), integerBytes)]).toEqual([0xff, 0x7f]);
    expect([...on(b(0x02, 0x01, 0x00), integerBytes)]).toEqual([0x00]);
    expect(() => on(b(0x02, 0x00), integerBytes)).toThrow(/empty INTEGER/);
    expect(() => on(b(0x02, 0x02, 0x00, 0x7f), integerBytes)).toThrow(/non-minimal INTEGER/);
    expect(() => on(b(0x02, 0x02, 0xff, 0x80), integerBytes)).toThrow(/non-minimal INTEGER/);
  });

  it('small integers: non-negative, 31 bits', () => {
    expect(on(b(0x02, 0x04, 0x7f, 0xff, 0xff, 0xff), smallInteger)).toBe(0x7fffffff);
    expect(on(b(0x0a, 0x01, 0x0a), smallInteger)).toBe(10);
    expect(() => on(b(0x02, 0x01, 0x80), smallInteger)).toThrow(/negative/);
    expect(() => on(b(0x02, 0x05, 0x00, 0x80, 0x00, 0x00, 0x00), smallInteger)).toThrow(/too large/);
  });

  it('BOOLEAN: one byte, 00 or FF', () => {
    expect(on(b(0x01, 0x01, 0xff), booleanValue)).toBe(true);
    expect(on(b(0x01, 0x01, 0x00), booleanValue)).toBe(false);
    expect(() => on(b(0x01, 0x01, 0x01), booleanValue)).toThrow(/00 or FF/);
    expect(() => on(b(0x01, 0x02, 0xff, 0xff), booleanValue)).toThrow(/00 or FF/);
  });

  it('NULL: no content', () => {
    expect(() => on(b(0x05, 0x00), (_buf, t) => checkNull(t))).not.toThrow();
    expect(() => on(b(0x80, 0x01, 0x00), (_buf, t) => checkNull(t))).toThrow(/1 content bytes/);
  });

  it('OBJECT IDENTIFIER: not empty, minimal arcs, no arc cut off', () => {
    expect(on(OID_SHA256, oidValue)).toBe('2.16.840.1.101.3.4.2.1');
    expect(() => on(b(0x06, 0x00), checkOid)).toThrow(/empty OBJECT IDENTIFIER/);
    expect(() => on(b(0x06, 0x03, 0x2b, 0x80, 0x01), checkOid)).toThrow(/leading 0x80/);
    expect(() => on(b(0x06, 0x02, 0x2b, 0x86), checkOid)).toThrow(/ends inside an arc/);
  });

  it('OBJECT IDENTIFIER: the dotted forms kept for reuse are copies, told apart byte by byte', () => {
    const der = b(0x06, 0x04, 0x2a, 0x03, 0x04, 0x05); // seen nowhere else in these tests
    expect(on(der, oidValue)).toBe('1.2.3.4.5');
    der[der.length - 1] = 0x06; // the same buffer reused for another OID of the same length
    expect(on(der, oidValue)).toBe('1.2.3.4.6');
    expect(on(b(0x06, 0x04, 0x2a, 0x03, 0x04, 0x05), oidValue)).toBe('1.2.3.4.5');
  });

  it('BIT STRING: an unused-bits count of 0 to 7, none without data, and those bits zero', () => {
    expect(() => on(b(0x03, 0x02, 0x01, 0x02), checkBitString)).not.toThrow();
    expect([...on(b(0x03, 0x03, 0x00, 0xab, 0xcd), bitStringBytes)]).toEqual([0xab, 0xcd]);
    expect(() => on(b(0x03, 0x00), checkBitString)).toThrow(/empty BIT STRING/);
    expect(() => on(b(0x03, 0x02, 0x08, 0x00), checkBitString)).toThrow(/declares 8 unused bits/);
    expect(() => on(b(0x03, 0x01, 0x01), checkBitString)).toThrow(/declares 1 unused bits/);
    expect(() => on(b(0x03, 0x02, 0x01, 0x01), checkBitString)).toThrow(/unused bits set/);
    expect(() => on(b(0x03, 0x02, 0x01, 0x02), bitStringBytes)).toThrow(/has unused bits/);
  });
});

describe('times (der-time.ts)', () => {
  const gt = (s: string): Date => on(ascii(0x18, s), generalizedTime);
  const ut = (s: string): Date => on(ascii(0x17, s), utcTime);

  it('reads GeneralizedTime, with and without a fraction', () => {
    expect(gt('20260110120000Z')).toEqual(new Date('2026-01-10T12:00:00.000Z'));
    expect(gt('20260110120000.5Z')).toEqual(new Date('2026-01-10T12:00:00.500Z'));
    expect(gt('20260110120000.123456Z')).toEqual(new Date('2026-01-10T12:00:00.123Z'));
    expect(gt('20000229235959Z')).toEqual(new Date('2000-02-29T23:59:59.000Z'));
    expect(gt('00010101000000Z').toISOString()).toBe('0001-01-01T00:00:00.000Z');
    expect(gt('99991231235959Z').toISOString()).toBe('9999-12-31T23:59:59.000Z');
  });

  it('rejects GeneralizedTime not in UTC', () => {
    expect(() => gt('20260110120000')).toThrow(/YYYYMMDDHHMMSS\[\.f\]Z/);
    expect(() => gt('20260110120000+0100')).toThrow(/YYYYMMDDHHMMSS\[\.f\]Z/);
  });

  it('rejects GeneralizedTime without seconds', () => {
    expect(() => gt('202601101200Z')).toThrow(/YYYYMMDDHHMMSS\[\.f\]Z/);
  });

  it('rejects a malformed fraction: trailing zero, no digits, a comma', () => {
    expect(() => gt('20260110120000.50Z')).toThrow(/malformed fraction/);
    expect(() => gt('20260110120000.Z')).toThrow(/malformed fraction/);
    expect(() => gt('20260110120000,5Z')).toThrow(/malformed fraction/);
    expect(() => gt('20260110120000.5aZ')).toThrow(/non-digit/);
  });

  it('rejects non-digits', () => {
    expect(() => gt('2026011012000aZ')).toThrow(/non-digit/);
    expect(() => gt('2026-1-1012000Z')).toThrow(/non-digit/);
  });

  it('rejects fields out of range instead of rolling them over', () => {
    for (const s of [
      '20261310120000Z',
      '20260010120000Z',
      '20260132120000Z',
      '20260100120000Z',
      '20260229120000Z',
      '21000229120000Z',
      '20260431120000Z',
      '20260110240000Z',
      '20260110126000Z',
      '20260110120060Z',
    ]) {
      expect(() => gt(s), s).toThrow(/not a calendar time/);
    }
    expect(gt('20240229120000Z')).toEqual(new Date('2024-02-29T12:00:00Z'));
  });

  it('reads UTCTime with the RFC 5280 century window', () => {
    expect(ut('260110120000Z')).toEqual(new Date('2026-01-10T12:00:00Z'));
    expect(ut('491231235959Z')).toEqual(new Date('2049-12-31T23:59:59Z'));
    expect(ut('500101000000Z')).toEqual(new Date('1950-01-01T00:00:00Z'));
  });

  it('rejects UTCTime without seconds, without Z, or out of range', () => {
    expect(() => ut('2601101200Z')).toThrow(/YYMMDDHHMMSSZ/);
    expect(() => ut('260110120000+')).toThrow(/YYMMDDHHMMSSZ/);
    expect(() => ut('261310120000Z')).toThrow(/not a calendar time/);
  });

  it('Time is one of the two', () => {
    expect(on(ascii(0x17, '260110120000Z'), x509Time)).toEqual(new Date('2026-01-10T12:00:00Z'));
    expect(on(ascii(0x18, '20260110120000Z'), x509Time)).toEqual(new Date('2026-01-10T12:00:00Z'));
    expect(() => on(ascii(0x13, '260110120000Z'), x509Time)).toThrow(/neither UTCTime nor GeneralizedTime/);
  });
});

describe('X.509 building blocks (x509-der.ts)', () => {
  const name = (...atvs: Uint8Array[]): Uint8Array => tlv(0x30, tlv(0x31, ...atvs));
  const cn = (s: string): Uint8Array => tlv(0x30, OID_CN, ascii(0x0c, s));

  it('AlgorithmIdentifier: OID, then at most one DER parameter', () => {
    expect(on(tlv(0x30, OID_SHA256, b(0x05, 0x00)), (buf, t) => readAlgorithmIdentifier(buf, t, 'alg'))).toEqual({
      algorithm: '2.16.840.1.101.3.4.2.1',
    });
    expect(on(tlv(0x30, OID_SHA256), (buf, t) => readAlgorithmIdentifier(buf, t, 'alg'))).toEqual({ algorithm: '2.16.840.1.101.3.4.2.1' });
    expect(() => on(tlv(0x30, OID_SHA256, b(0x05, 0x00), b(0x05, 0x00)), (buf, t) => readAlgorithmIdentifier(buf, t, 'alg'))).toThrow(
      /unexpected field/,
    );
    expect(() => on(tlv(0x30, OID_SHA256, tlv(0x30, tlv(0x24))), (buf, t) => readAlgorithmIdentifier(buf, t, 'alg'))).toThrow(
      /constructed universal/,
    );
    expect(() => on(tlv(0x30, b(0x05, 0x00)), (buf, t) => readAlgorithmIdentifier(buf, t, 'alg'))).toThrow(/algorithm has tag 0x05/);
  });

  it('Name: SEQUENCE OF SET OF SEQUENCE { OID, DER value }', () => {
    expect(() => on(name(cn('a'), cn('b')), (buf, t) => checkName(buf, t, 'n'))).not.toThrow();
    expect(() => on(tlv(0x30), (buf, t) => checkName(buf, t, 'n'))).not.toThrow();
    expect(() => on(tlv(0x30, tlv(0x30, cn('a'))), (buf, t) => checkName(buf, t, 'n'))).toThrow(
      /RelativeDistinguishedName has tag 0x30, expected 0x31/,
    );
    expect(() => on(tlv(0x30, tlv(0x31, tlv(0x31, OID_CN, ascii(0x0c, 'a')))), (buf, t) => checkName(buf, t, 'n'))).toThrow(
      /AttributeTypeAndValue has tag 0x31/,
    );
    expect(() => on(name(tlv(0x30, OID_CN, ascii(0x0c, 'a'), ascii(0x0c, 'b'))), (buf, t) => checkName(buf, t, 'n'))).toThrow(
      /unexpected field/,
    );
    expect(() => on(name(tlv(0x30, ascii(0x0c, 'a'), ascii(0x0c, 'b'))), (buf, t) => checkName(buf, t, 'n'))).toThrow(
      /attribute type has tag 0x0c/,
    );
    expect(() => on(name(tlv(0x30, b(0x06, 0x02, 0x55, 0x84), ascii(0x0c, 'a'))), (buf, t) => checkName(buf, t, 'n'))).toThrow(
      /ends inside an arc/,
    );
    expect(() => on(name(tlv(0x30, OID_CN, tlv(0x2c, ascii(0x0c, 'a')))), (buf, t) => checkName(buf, t, 'n'))).toThrow(
      /constructed universal tag 0x2c/,
    );
    expect(() => on(name(tlv(0x30, OID_CN)), (buf, t) => checkName(buf, t, 'n'))).toThrow(/attribute value is missing/);
  });

  it('Extensions: id, optional critical flag, OCTET STRING value', () => {
    const ext = (...parts: Uint8Array[]): Uint8Array => tlv(0x30, tlv(0x30, ...parts));
    const read = (der: Uint8Array) => on(der, (buf, t) => readExtensions(buf, t, 'ext'));
    const [e] = read(ext(OID_CN, b(0x01, 0x01, 0xff), b(0x04, 0x02, 0x05, 0x00)));
    expect(e).toMatchObject({ extnID: '2.5.4.3', critical: true });
    expect([...e!.extnValue]).toEqual([0x05, 0x00]);
    expect(read(ext(OID_CN, b(0x04, 0x00)))[0]).toMatchObject({ critical: false });
    expect(read(tlv(0x30))).toEqual([]);
    expect(() => read(ext(OID_CN, b(0x01, 0x01, 0x01), b(0x04, 0x00)))).toThrow(/00 or FF/);
    expect(() => read(ext(OID_CN, b(0x04, 0x00), b(0x04, 0x00)))).toThrow(/unexpected field/);
    expect(() => read(ext(OID_CN))).toThrow(/extnValue is missing/);
    expect(() => read(ext(OID_CN, tlv(0x24, b(0x04, 0x00))))).toThrow(/extnValue has tag 0x24/);
    expect(() => read(tlv(0x30, tlv(0x31, OID_CN, b(0x04, 0x00))))).toThrow(/Extension has tag 0x31/);
  });
});
