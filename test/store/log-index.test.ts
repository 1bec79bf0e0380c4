import { describe, expect, it } from 'vitest';
import { LogIndex } from '../../src/store/log-index.js';

const ISSUER = 'ab'.repeat(32);
const OTHER = 'cd'.repeat(32);

interface Model {
  at: number;
  frameLength: number;
  thisUpdate: number;
  nextUpdate: number;
}

/** A small deterministic generator (xorshift32), so a failure replays. */
function randomFrom(seed: number): (n: number) => number {
  let x = seed;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

describe('LogIndex', () => {
  it('agrees with a Map of every key through growth, replacements and stale frames', () => {
    const random = randomFrom(20261202);
    const index = new LogIndex();
    const model = new Map<string, Model>();
    const replaced: number[] = [];
    // Serials of every length the codec allows (1..255 bytes), few enough to repeat often.
    const serials = Array.from({ length: 6000 }, (_, i) => i.toString(16).padStart(1 + (i % 255), '0'));
    for (let op = 0; op < 30_000; op++) {
      const issuerId = random(4) === 0 ? OTHER : ISSUER;
      const serial = serials[random(serials.length)]!;
      const head = { issuerId, serial, thisUpdate: random(1000), nextUpdate: op };
      const key = `${issuerId}/${serial}`;
      const before = model.get(key);
      const frameLength = 600 + random(100);
      const applied = index.apply(head, op * 700, frameLength, (previous) => replaced.push(previous));
      const expected = before === undefined || before.thisUpdate <= head.thisUpdate;
      expect(applied, `apply ${key} (op ${op})`).toBe(expected);
      if (expected) {
        if (before) expect(replaced.pop()).toBe(before.frameLength);
        model.set(key, { at: op * 700, frameLength, thisUpdate: head.thisUpdate, nextUpdate: op });
      }
      expect(replaced).toEqual([]);
    }
    expect(index.size).toBe(model.size);
    expect(model.size).toBeGreaterThan(5000); // past the first table and slot arrays
    for (const [key, m] of model) {
      const [issuerId, serial] = key.split('/') as [string, string];
      const slot = index.slotOf(issuerId, serial);
      expect(slot, key).toBeGreaterThanOrEqual(0);
      expect(index.place(slot)).toEqual({ at: m.at, frameLength: m.frameLength });
      expect(index.nextUpdateOf(slot)).toBe(m.nextUpdate);
    }
    const listed = [...index.slots()];
    expect(listed.map(([issuerId, serial]) => `${issuerId}/${serial}`).sort()).toEqual([...model.keys()].sort());
    for (const [issuerId, serial, slot] of listed) expect(index.slotOf(issuerId, serial)).toBe(slot);
  });

  it('tells keys apart that differ only in issuer, length or a last digit', () => {
    const index = new LogIndex();
    index.apply({ issuerId: ISSUER, serial: '0a', thisUpdate: 1, nextUpdate: 2 }, 10, 100);
    expect(index.slotOf(OTHER, '0a')).toBe(-1);
    expect(index.slotOf(ISSUER, 'a')).toBe(-1);
    expect(index.slotOf(ISSUER, '0a0')).toBe(-1);
    expect(index.slotOf(ISSUER, '0b')).toBe(-1);
    expect(index.slotOf('never-seen', '0a')).toBe(-1);
    index.apply({ issuerId: OTHER, serial: '0a', thisUpdate: 1, nextUpdate: 3 }, 20, 200);
    expect(index.place(index.slotOf(ISSUER, '0a'))).toEqual({ at: 10, frameLength: 100 });
    expect(index.place(index.slotOf(OTHER, '0a'))).toEqual({ at: 20, frameLength: 200 });
  });

  it('lets the later of two frames with the same thisUpdate win, and keeps a newer one over an older', () => {
    const index = new LogIndex();
    expect(index.apply({ issuerId: ISSUER, serial: '01', thisUpdate: 5, nextUpdate: 9 }, 10, 100)).toBe(true);
    expect(index.apply({ issuerId: ISSUER, serial: '01', thisUpdate: 5, nextUpdate: 9 }, 20, 100)).toBe(true);
    expect(index.place(index.slotOf(ISSUER, '01')).at).toBe(20);
    expect(index.apply({ issuerId: ISSUER, serial: '01', thisUpdate: 4, nextUpdate: 9 }, 30, 100)).toBe(false);
    expect(index.place(index.slotOf(ISSUER, '01')).at).toBe(20);
    expect(index.size).toBe(1);
  });
});
