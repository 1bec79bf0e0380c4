// The informer's filter of dropped keys (src/kube/key-filter.ts): never a false "absent" (that would
// skip a GET of a Secret that exists), and rarely a false "maybe" at the sizes it is made for.
import { describe, expect, it } from 'vitest';
import { KeyFilter } from '../../src/kube/key-filter.js';

const key = (ns: string, i: number) => `${ns}/secret-${i}`;

describe('KeyFilter', () => {
  it('answers "maybe" for every key it was given', () => {
    const f = new KeyFilter();
    for (let i = 0; i < 50_000; i++) f.add(key('apps', i));
    let missed = 0;
    for (let i = 0; i < 50_000; i++) if (!f.mightHave(key('apps', i))) missed++;
    expect(missed).toBe(0);
  });

  it('answers "never" for all but about 1 in 1,000 other keys, with 50,000 in it', () => {
    const f = new KeyFilter();
    for (let i = 0; i < 50_000; i++) f.add(key('apps', i));
    let wrong = 0;
    for (let i = 0; i < 50_000; i++) if (f.mightHave(key('web', i))) wrong++;
    // Theory for 2^20 bits, 4 hashes, 50,000 keys: 0.09 %.
    expect(wrong / 50_000).toBeLessThan(0.003);
  });

  it('is empty when new', () => {
    const f = new KeyFilter();
    expect(f.mightHave('ns/anything')).toBe(false);
  });
});
