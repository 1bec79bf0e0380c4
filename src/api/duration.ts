// Durations in specs are Go-style strings ("72h", "10m", "30s", "1h30m", "1500ms"), the form
// Kubernetes users already write (e.g. cert-manager's renewBefore). The CRDs use the same pattern,
// and it is a strict subset of what Go's time.ParseDuration accepts, which is what the CEL
// `duration()` function in the apiserver uses — so every string the pattern admits can be
// compared in CEL rules and parsed here, with the same result.

import { z } from 'zod';

/** The one duration pattern, shared by every duration field of both CRDs. */
export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$';
/** Bounds the CEL cost estimate of rules that call duration() on these strings. */
export const DURATION_MAX_LENGTH = 32;

const DURATION_RE = new RegExp(DURATION_PATTERN);
const PART_RE = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A zod schema for one duration string field (no default: callers add their own). */
export function durationString() {
  return z.string().max(DURATION_MAX_LENGTH).regex(DURATION_RE);
}

/**
 * "1h30m" → 5_400_000 (milliseconds). Components add up in any order, as in Go.
 * Throws on anything the CRD pattern would reject, so a bad value cannot turn into NaN or 0.
 */
export function parseDuration(text: string): number {
  if (text.length > DURATION_MAX_LENGTH || !DURATION_RE.test(text)) {
    throw new Error(`invalid duration ${JSON.stringify(text)}: want Go-style like "72h", "10m", "1h30m"`);
  }
  let ms = 0;
  for (const m of text.matchAll(PART_RE)) {
    const unit = UNIT_MS[m[2] as string] as number;
    ms += Number(m[1]) * unit;
  }
  // Fractions below a millisecond ("0.0001s") are dropped rather than carried as fractional ms.
  return Math.floor(ms);
}

/**
 * 5_400_000 → "1h30m"; 0 → "0s"; 1500 → "1s500ms". Zero components are left out (Go would print
 * "1h30m0s"); the result always parses back to the same whole number of milliseconds.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) throw new Error(`cannot format duration ${ms}`);
  const sign = ms < 0 ? '-' : '';
  let rest = Math.floor(Math.abs(ms));
  if (rest === 0) return '0s';
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = Math.floor(rest / 1000);
  rest -= s * 1000;
  const parts = [h ? `${h}h` : '', m ? `${m}m` : '', s ? `${s}s` : '', rest ? `${rest}ms` : ''];
  return sign + parts.join('');
}

/** Compares two durations; `undefined` when either is malformed (its own field reports that). */
export function compareDurations(a: string, b: string): number | undefined {
  try {
    return parseDuration(a) - parseDuration(b);
  } catch {
    return undefined;
  }
}
