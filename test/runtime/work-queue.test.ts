import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/base/clock.js';
import { WorkQueue } from '../../src/runtime/work-queue.js';
import { backoffDelay } from '../../src/base/backoff.js';

describe('WorkQueue', () => {
  it('queues a key once however often it is added', async () => {
    const q = new WorkQueue(new ManualClock());
    q.add('a');
    q.add('a');
    q.add('b');
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(q.len()).toBe(0);
  });

  it('never hands a key to two workers; a key added while processing comes back once after done', async () => {
    const q = new WorkQueue(new ManualClock());
    q.add('a');
    const key = await q.get();
    q.add('a');
    q.add('a');
    expect(q.len()).toBe(0); // not queued while processing
    q.done(key!);
    expect(q.len()).toBe(1);
    expect(await q.get()).toBe('a');
    q.done('a');
    expect(q.len()).toBe(0);
  });

  it('wakes a waiting worker when a key arrives', async () => {
    const q = new WorkQueue(new ManualClock());
    const waiting = q.get();
    q.add('x');
    expect(await waiting).toBe('x');
    expect(q.isProcessing('x')).toBe(true);
  });

  it('delays keys by the clock, keeping the earliest delay', () => {
    const clock = new ManualClock();
    const q = new WorkQueue(clock);
    q.addAfter('k', 10_000);
    q.addAfter('k', 5_000);
    q.addAfter('k', 20_000);
    clock.advance(4_999);
    expect(q.len()).toBe(0);
    clock.advance(1);
    expect(q.len()).toBe(1);
    clock.advance(20_000);
    expect(q.len()).toBe(1); // the later delays were dropped, not queued again
  });

  it('backs off per key exponentially up to the cap, and forget resets it', () => {
    const clock = new ManualClock();
    const q = new WorkQueue(clock, { baseDelayMs: 100, maxDelayMs: 1_000 });
    expect([1, 2, 3, 4, 5, 6].map(() => q.addRateLimited('k'))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(q.numRequeues('k')).toBe(6);
    expect(q.addRateLimited('other')).toBe(100); // per key
    q.forget('k');
    expect(q.addRateLimited('k')).toBe(100);
    expect(backoffDelay({ baseDelayMs: 1, maxDelayMs: 10 }, 1000)).toBe(10); // no overflow
  });

  it('shutdown releases waiting workers and drops delayed keys', async () => {
    const clock = new ManualClock();
    const q = new WorkQueue(clock);
    const waiting = q.get();
    q.addAfter('later', 1_000);
    q.shutDown();
    expect(await waiting).toBeUndefined();
    clock.advance(5_000);
    expect(q.len()).toBe(0);
    q.add('x');
    expect(q.len()).toBe(0);
  });
});

describe('ManualClock', () => {
  it('fires timers in due order while advancing, including timers they set', () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    clock.setTimer(() => fired.push(`b@${clock.now()}`), 200);
    clock.setTimer(() => {
      fired.push(`a@${clock.now()}`);
      clock.setTimer(() => fired.push(`c@${clock.now()}`), 50);
    }, 100);
    const cancelled = clock.setTimer(() => fired.push('never'), 10);
    cancelled.cancel();
    clock.advance(1_000);
    expect(fired).toEqual(['a@100', 'c@150', 'b@200']);
    expect(clock.now()).toBe(1_000);
    expect(clock.pendingTimers()).toBe(0);
  });
});
