import { describe, expect, it } from 'vitest';
import { jitterSeed, refreshTime, retryDelay } from '../../src/staple/schedule.js';

const H = 3_600_000;
const policy = { fraction: 0.5, jitter: 0.1, minIntervalMs: 60_000 };

describe('refresh schedule', () => {
  it('refreshes at the fraction of the window, moved by the jitter', () => {
    const base = { thisUpdate: 0, nextUpdate: 100 * H, usableUntil: 100 * H, now: 0, policy };
    expect(refreshTime({ ...base, seed: 0.5 })).toBe(50 * H);
    expect(refreshTime({ ...base, seed: 0 })).toBe(40 * H);
    expect(refreshTime({ ...base, seed: 0.999999 })).toBeCloseTo(60 * H, -3);
  });

  it('spreads ten thousand staples of one responder over the jitter window', () => {
    const times = Array.from({ length: 10_000 }, (_, i) =>
      refreshTime({
        thisUpdate: 0,
        nextUpdate: 24 * H,
        usableUntil: 24 * H,
        now: 0,
        policy,
        seed: jitterSeed(`uid-${i}`, 'cert', 'thisUpdate'),
      }),
    );
    const perMinute = new Map<number, number>();
    for (const t of times) perMinute.set(Math.floor(t / 60_000), (perMinute.get(Math.floor(t / 60_000)) ?? 0) + 1);
    // 4.8 h of jitter window = 288 minutes: about 35 a minute, nowhere near all at once
    expect(Math.max(...perMinute.values())).toBeLessThan(80);
    expect(Math.min(...times)).toBeGreaterThanOrEqual(0.4 * 24 * H);
    expect(Math.max(...times)).toBeLessThanOrEqual(0.6 * 24 * H);
  });

  it('the seed is stable across restarts and differs between staples', () => {
    expect(jitterSeed('a', 'b')).toBe(jitterSeed('a', 'b'));
    expect(jitterSeed('a', 'b')).not.toBe(jitterSeed('a', 'c'));
  });

  it('never sooner than minInterval, never later than the staple stays usable', () => {
    expect(refreshTime({ thisUpdate: 0, nextUpdate: 60_000, usableUntil: 60_000, now: 0, policy, seed: 0.5 })).toBe(60_000);
    // a signer that expires at 10 h pulls the refresh in from 50 h
    expect(refreshTime({ thisUpdate: 0, nextUpdate: 100 * H, usableUntil: 10 * H, now: 0, policy, seed: 0.5 })).toBe(10 * H);
  });

  it('retries back off exponentially, capped, and never past the staple deadline', () => {
    const o = { initialMs: 10_000, maxMs: 600_000, now: 0, seed: 0.5 };
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((failures) => retryDelay({ ...o, failures }))).toEqual([
      10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 600_000, 600_000,
    ]);
    expect(retryDelay({ ...o, failures: 8, deadline: 30_000 })).toBe(30_000);
    expect(retryDelay({ ...o, failures: 1, seed: 0 })).toBe(9_000);
    expect(retryDelay({ ...o, failures: 1, seed: 1 })).toBe(11_000);
  });
});
