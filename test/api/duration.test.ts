import { describe, expect, it } from 'vitest';
import { DURATION_PATTERN, compareDurations, formatDuration, parseDuration } from '../../src/api/index.js';

describe('parseDuration', () => {
  it.each([
    ['72h', 72 * 3_600_000],
    ['10m', 600_000],
    ['30s', 30_000],
    ['1h30m', 5_400_000],
    ['1500ms', 1500],
    ['1.5h', 5_400_000],
    ['0s', 0],
    ['30m1h', 5_400_000], // Go adds components in any order; so do we
  ])('%s → %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '5', '-5m', '1d', '10 minutes', '1h 30m', 'h', '.5h', '1us', 'x'.repeat(33), '1h'.repeat(17)])(
    'rejects %j, as the CRD pattern does',
    (text) => {
      expect(() => parseDuration(text)).toThrow(/invalid duration/);
      expect(text.length <= 32 && new RegExp(DURATION_PATTERN).test(text)).toBe(false);
    },
  );
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [5_400_000, '1h30m'],
    [72 * 3_600_000, '72h'],
    [1500, '1s500ms'],
    [3_600_000 + 1, '1h1ms'],
    [-60_000, '-1m'],
  ])('%d ms → %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('round-trips whole milliseconds', () => {
    for (const ms of [1, 999, 1000, 61_001, 86_400_000, 255_600_000 + 3_000 + 7]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
  });

  it('refuses NaN and infinities', () => {
    expect(() => formatDuration(Number.NaN)).toThrow();
    expect(() => formatDuration(Infinity)).toThrow();
  });
});

describe('compareDurations', () => {
  it('orders durations and has no opinion on malformed ones', () => {
    expect(compareDurations('10s', '10m')).toBeLessThan(0);
    expect(compareDurations('60m', '1h')).toBe(0);
    expect(compareDurations('soon', '1h')).toBeUndefined();
  });
});
