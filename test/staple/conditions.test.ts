// The staple's condition polarity: which status of each type is the bad one (it decides Warning
// Events and what alerts watch), the same convention as the pool's.
import { describe, expect, it } from 'vitest';
import { isBadStapleCondition, StapleConditionType as T } from '../../src/staple/conditions.js';
import { isBad as isBadPoolCondition, PoolConditionType as P } from '../../src/pool/conditions.js';

describe('condition polarity', () => {
  it.each([
    [T.Ready, 'False'],
    [T.Fresh, 'False'],
    [T.MustStapleSatisfied, 'False'],
    [T.Revoked, 'True'],
    [T.SignerCertificateExpiring, 'True'],
  ])('staple %s is bad when %s', (type, bad) => {
    expect(isBadStapleCondition({ type, status: bad })).toBe(true);
    expect(isBadStapleCondition({ type, status: bad === 'True' ? 'False' : 'True' })).toBe(false);
    expect(isBadStapleCondition({ type, status: 'Unknown' })).toBe(false);
  });

  it('types both kinds have mean the same, with the same polarity', () => {
    for (const type of [T.Ready, T.Fresh, T.SignerCertificateExpiring] as const) {
      expect(Object.values(P), type).toContain(type);
      for (const status of ['True', 'False'] as const)
        expect(isBadStapleCondition({ type, status }), `${type}=${status}`).toBe(isBadPoolCondition({ type: type, status }));
    }
  });
});
