import { describe, expect, it } from 'vitest';
import { noneMatch, rawHeader } from '../../src/responder/conditional.js';

describe('conditional requests', () => {
  it('finds a header in rawHeaders whatever its case', () => {
    expect(rawHeader(['Host', 'x', 'IF-NONE-MATCH', '"a"'], 'if-none-match')).toBe('"a"');
    expect(rawHeader(['Host', 'x'], 'if-none-match')).toBeUndefined();
  });
  it('matches If-None-Match weakly, in lists and with *', () => {
    expect(noneMatch('"abc"', '"abc"')).toBe(true);
    expect(noneMatch('W/"abc"', '"abc"')).toBe(true);
    expect(noneMatch('"x", "abc"', '"abc"')).toBe(true);
    expect(noneMatch('*', '"abc"')).toBe(true);
    expect(noneMatch('"abcd"', '"abc"')).toBe(false);
    expect(noneMatch('abc', '"abc"')).toBe(false);
    expect(noneMatch(undefined, '"abc"')).toBe(false);
  });
});
