// Times in their DER form (X.690 11.7 and 11.8): UTC with a final 'Z', seconds always present,
// a GeneralizedTime fraction only after a '.' and without trailing zeros, every field in range.
// asn1js also took local times, offsets and out-of-range fields (month 13 rolled over into the
// next year); none of those is DER, and a time that means two things has no place in a signature.
import { DerError, type Tlv } from './der.js';

const ZERO = 0x30;

function digits(buf: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const d = buf[i]! - ZERO;
    if (d < 0 || d > 9) throw new DerError(`time has a non-digit at offset ${i}`);
    v = v * 10 + d;
  }
  return v;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil): plain arithmetic, several times cheaper than Date.UTC. */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  return era * 146097 + yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear - 719468;
}

/** Reads MMDDHHMMSS at `at` after a year; `ms` from a fraction. */
function calendar(buf: Uint8Array, t: Tlv, year: number, at: number, ms: number): Date {
  const month = digits(buf, at, 2);
  const day = digits(buf, at + 2, 2);
  const hour = digits(buf, at + 4, 2);
  const minute = digits(buf, at + 6, 2);
  const second = digits(buf, at + 8, 2);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) {
    throw new DerError(`time at offset ${t.start} is not a calendar time`);
  }
  return new Date((((daysFromCivil(year, month, day) * 24 + hour) * 60 + minute) * 60 + second) * 1000 + ms);
}

/** GeneralizedTime: YYYYMMDDHHMMSS[.f]Z. Fractions past milliseconds are truncated. */
export function generalizedTime(buf: Uint8Array, t: Tlv): Date {
  const s = t.contentStart;
  const n = t.end - s;
  if (n < 15 || buf[t.end - 1] !== 0x5a) throw new DerError(`GeneralizedTime at offset ${t.start} is not YYYYMMDDHHMMSS[.f]Z`);
  let ms = 0;
  if (n > 15) {
    // '.', at least one digit, the last not 0
    if (buf[s + 14] !== 0x2e || n < 17 || buf[t.end - 2] === ZERO) {
      throw new DerError(`GeneralizedTime at offset ${t.start} has a malformed fraction of a second`);
    }
    const fraction = t.end - 1 - (s + 15);
    digits(buf, s + 15, fraction);
    ms = digits(buf, s + 15, Math.min(3, fraction)) * 10 ** Math.max(0, 3 - fraction);
  }
  return calendar(buf, t, digits(buf, s, 4), s + 4, ms);
}

/** UTCTime: YYMMDDHHMMSSZ, years 50–99 being 1950–1999 (RFC 5280 4.1.2.5.1). */
export function utcTime(buf: Uint8Array, t: Tlv): Date {
  const s = t.contentStart;
  if (t.end - s !== 13 || buf[t.end - 1] !== 0x5a) throw new DerError(`UTCTime at offset ${t.start} is not YYMMDDHHMMSSZ`);
  const yy = digits(buf, s, 2);
  return calendar(buf, t, yy < 50 ? 2000 + yy : 1900 + yy, s + 2, 0);
}

/** X.509 Time ::= CHOICE { utcTime UTCTime, generalTime GeneralizedTime } */
export function x509Time(buf: Uint8Array, t: Tlv): Date {
  if (t.tag === 0x17) return utcTime(buf, t);
  if (t.tag === 0x18) return generalizedTime(buf, t);
  throw new DerError(`Time at offset ${t.start} has tag 0x${t.tag.toString(16)}, neither UTCTime nor GeneralizedTime`);
}
