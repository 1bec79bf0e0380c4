// The informers' string pool: held objects keep their values exactly, share one copy of each short
// repeated string (the heap shows it), and the pool stays bounded.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { StringPool } from '../../src/kube/string-pool.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapUsedAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

/** A watch event's object as JSON.parse makes it: every string a fresh copy. */
const event = (i: number) =>
  JSON.parse(
    JSON.stringify({
      apiVersion: 'ocsp-operator.dev/v1alpha1',
      kind: 'OcspStaple',
      metadata: { name: `shop-${i}`, namespace: 'payments-production', uid: `uid-0000-${i}`, resourceVersion: String(1000 + i) },
      status: {
        certificate: { issuer: 'CN=Example Issuing CA 2026, O=Example Payments Ltd, C=GB', ocspURL: 'http://ocsp.example-payments.test/' },
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-12-02T17:28:46Z', message: 'the responder says good' }],
        tags: ['payments-production', `x${'y'.repeat(120)}`],
      },
    }),
  ) as Record<string, unknown>;

describe('StringPool', () => {
  it('leaves every value as it was, and does not pool uids, resourceVersions or long strings', () => {
    const pool = new StringPool();
    const obj = event(1);
    const before = structuredClone(obj);
    expect(pool.internAll(obj)).toBe(obj);
    expect(obj).toEqual(before);
    const pooled = pool.size;
    pool.internAll(event(1));
    expect(pool.size).toBe(pooled); // nothing new: the same strings again
    pool.internAll(event(2));
    expect(pool.size).toBe(pooled + 1); // only the new name: uid and resourceVersion are not pooled
  });

  it('leaves frozen objects alone', () => {
    const pool = new StringPool();
    const frozen = Object.freeze({ namespace: 'payments-production', nested: { kind: 'Secret' } });
    expect(() => pool.internAll(frozen)).not.toThrow();
    expect(pool.size).toBe(0);
  });

  it('starts over when full', () => {
    const pool = new StringPool(3);
    for (const s of ['a', 'b', 'c']) pool.intern(s);
    expect(pool.size).toBe(3);
    pool.intern('d');
    expect(pool.size).toBe(1);
    pool.intern('d');
    expect(pool.size).toBe(1);
  });

  it('holds one copy of the repeated strings of 20,000 held objects', () => {
    const n = 20_000;
    const base = heapUsedAfterGc();
    const held = Array.from({ length: n }, (_, i) => event(i));
    const plain = heapUsedAfterGc() - base;
    const pool = new StringPool();
    for (const o of held) pool.internAll(o);
    const pooled = heapUsedAfterGc() - base;
    // The strings every object repeats (about 180 characters, and their headers) are one copy now:
    // 295 bytes an object freed on this machine's V8; the names stay one each, the pool adds a little.
    expect(held).toHaveLength(n);
    expect(plain - pooled).toBeGreaterThan(n * 200);
  });
});
