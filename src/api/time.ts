// RFC 3339 timestamps as the apiserver's `format: date-time` accepts them: `T`/`Z` in either case,
// `Z` or a ±hh:mm offset, optional fraction, and a date that exists. zod's own iso.datetime refuses
// the lower-case form the apiserver stores, so an object the apiserver took would fail to parse
// here; this schema keeps the two in step and leaves the string as written.

import { z } from 'zod';

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

export function isDateTime(s: string): boolean {
  const m = RFC3339.exec(s);
  if (!m) return false;
  const n = (i: number) => Number(m[i] ?? 0);
  const [year, month, day, hour, minute, second] = [n(1), n(2), n(3), n(4), n(5), n(6)];
  if (month < 1 || month > 12 || day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return false;
  if (hour > 23 || minute > 59 || second > 59) return false;
  return n(9) <= 23 && n(10) <= 59;
}

/** A date-time string field (declared as `format: date-time` in the JSON Schema zod emits). */
export function dateTime() {
  return z.string().refine(isDateTime, { message: 'Invalid RFC 3339 date-time' }).meta({ format: 'date-time' });
}

/** Parses a value that passed dateTime(); upper-cases first because Date.parse is not obliged to take `t`/`z`. */
export function parseDateTime(s: string): Date {
  if (!isDateTime(s)) throw new Error(`invalid RFC 3339 date-time ${JSON.stringify(s)}`);
  return new Date(s.toUpperCase());
}

/** metav1.Time's wire form: UTC, whole seconds. */
export function formatDateTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
