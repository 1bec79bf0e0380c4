import { describe, expect, it } from 'vitest';
import { sameJson } from '../../src/runtime/same-json.js';

describe('sameJson', () => {
  it('ignores key order and undefined fields, as the apiserver round trip does', () => {
    expect(sameJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: 'x' } }, { a: { c: 'x', d: [1, { x: 1, y: 2 }] }, b: 1 })).toBe(true);
    expect(sameJson({ a: 1, gone: undefined }, { a: 1 })).toBe(true);
  });

  it('sees every real difference', () => {
    expect(sameJson({ a: 1 }, { a: 2 })).toBe(false);
    expect(sameJson({ a: [1, 2] }, { a: [2, 1] })).toBe(false); // order matters in arrays
    expect(sameJson({ a: 1 }, { a: 1, b: null })).toBe(false);
    expect(sameJson({ a: '1' }, { a: 1 })).toBe(false);
    expect(sameJson([], {})).toBe(false);
  });
});
