// The cache of things derived from certificate bytes: found by content, never by a lookalike, with
// its own copy of the bytes, and bounded, least recently used first out.
import { describe, expect, it } from 'vitest';
import { BytesCache } from '../../src/ocsp/bytes-cache.js';

const b = (...xs: number[]): Uint8Array => new Uint8Array(xs);

describe('BytesCache', () => {
  const tail = Array.from({ length: 40 }, (_, i) => i);

  it('finds a value by content, not by object, and gives make a private copy', () => {
    const cache = new BytesCache<Uint8Array>(4);
    let made = 0;
    const make = (own: Uint8Array): Uint8Array => {
      made++;
      return own;
    };
    const mine = new Uint8Array(tail);
    const kept = cache.get(mine, make);
    expect(cache.get(new Uint8Array(tail), make)).toBe(kept);
    expect(made).toBe(1);
    mine[0] = 99; // the caller reuses its buffer: what was kept does not change, and the new content is another key
    expect(kept[0]).toBe(0);
    expect(cache.get(mine, make)).not.toBe(kept);
    expect(made).toBe(2);
  });

  it('tells apart contents with the same length and tail (the same hash)', () => {
    const cache = new BytesCache<string>(4);
    const a = new Uint8Array([1, ...tail]);
    const c = new Uint8Array([2, ...tail]);
    const name = (own: Uint8Array): string => `made for ${own[0]}`;
    expect(cache.get(a, name)).toBe('made for 1');
    expect(cache.get(c, name)).toBe('made for 2');
    expect(cache.get(a, name)).toBe('made for 1');
  });

  it('drops the least recently used entry when full', () => {
    const cache = new BytesCache<number>(2);
    const made: number[] = [];
    const make = (own: Uint8Array): number => {
      made.push(own[0]!);
      return own[0]!;
    };
    const x = b(1);
    const y = b(2);
    const z = b(3);
    cache.get(x, make);
    cache.get(y, make);
    cache.get(x, make); // x is now the most recent
    cache.get(z, make); // evicts y
    cache.get(x, make);
    expect(made).toEqual([1, 2, 3]);
    cache.get(y, make);
    expect(made).toEqual([1, 2, 3, 2]);
  });
});
