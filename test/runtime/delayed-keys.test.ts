import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/base/clock.js';
import { DelayedKeys } from '../../src/runtime/delayed-keys.js';

describe('DelayedKeys', () => {
  it('fires thousands of keys in due order, each once at its earliest time, behind a single timer', () => {
    const clock = new ManualClock();
    const fired: Array<{ key: string; at: number }> = [];
    const keys = new DelayedKeys(clock, (key) => fired.push({ key, at: clock.now() }));
    const due = new Map<string, number>();
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    // Each key scheduled four times: the earliest wins, and the superseded entries force rebuilds.
    for (let i = 0; i < 12_000; i++) {
      const key = `k${i % 3000}`;
      const at = clock.now() + 1 + Math.floor(random() * 100_000);
      keys.schedule(key, at);
      due.set(key, Math.min(due.get(key) ?? Infinity, at));
    }
    expect(keys.size).toBe(3000);
    expect(clock.pendingTimers()).toBe(1);
    clock.advance(50_000);
    clock.advance(60_000);
    expect(fired).toHaveLength(3000);
    expect(new Set(fired.map((f) => f.key)).size).toBe(3000);
    for (const f of fired) expect(f.at).toBe(due.get(f.key));
    for (let i = 1; i < fired.length; i++) expect(fired[i]!.at).toBeGreaterThanOrEqual(fired[i - 1]!.at);
    expect(keys.size).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('keeps the earlier time when a key is scheduled later, and re-arms for an earlier one', () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    const keys = new DelayedKeys(clock, (key) => fired.push(`${key}@${clock.now() - Date.UTC(2026, 0, 1)}`));
    const t0 = clock.now();
    keys.schedule('a', t0 + 1000);
    keys.schedule('a', t0 + 5000); // later: ignored
    keys.schedule('b', t0 + 300); // earlier than the armed timer
    keys.schedule('a', t0 + 200); // earlier: replaces 1000
    clock.advance(10_000);
    expect(fired).toEqual(['a@200', 'b@300']);
  });

  it('a key fired may be scheduled again from the callback; clear drops everything', () => {
    const clock = new ManualClock();
    let count = 0;
    const keys = new DelayedKeys(clock, (key) => {
      count++;
      if (count < 3) keys.schedule(key, clock.now() + 100);
    });
    keys.schedule('x', clock.now() + 100);
    clock.advance(1000);
    expect(count).toBe(3);
    keys.schedule('y', clock.now() + 100);
    keys.clear();
    clock.advance(1000);
    expect(count).toBe(3);
    expect(clock.pendingTimers()).toBe(0);
  });
});
