import { describe, expect, it } from 'vitest';
import {
  API_GROUP_VERSION,
  findCondition,
  parseOcspResponderPool,
  parseOcspStaple,
  refreshAgeMeetsBaselineRequirements,
  setCondition,
  stapleSecretNameFor,
} from '../../src/api/index.js';
import { minimalPoolSpec } from './samples.js';

const staple = (spec: Record<string, unknown>, metadata: Record<string, unknown> = { name: 'web', namespace: 'team-a' }) => ({
  apiVersion: API_GROUP_VERSION,
  kind: 'OcspStaple',
  metadata,
  spec,
});

describe('parseOcspStaple', () => {
  it('returns the spec with defaults and keeps metadata it does not know', () => {
    const r = parseOcspStaple(staple({ secretName: 'web-tls' }, { name: 'web', namespace: 'team-a', generation: 3, managedFields: [] }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.spec.refresh.fraction).toBe(0.5);
    expect(r.value.spec.onRenewal).toBe('KeepPreviousPair');
    expect(r.value.metadata.generation).toBe(3);
    expect(r.value.metadata['managedFields']).toEqual([]);
  });

  it('names the object and the bad field', () => {
    const r = parseOcspStaple(staple({ secretName: 'web-tls', refresh: { fraction: 2 } }));
    expect(r).toEqual({ ok: false, message: expect.stringMatching(/^OcspStaple team-a\/web: spec\.refresh\.fraction: /) });
  });

  it('names cross-field problems by the field to change', () => {
    const r = parseOcspStaple(staple({ secretName: 'web-tls', stapleSecretName: 'web-tls' }));
    expect(r.ok ? '' : r.message).toMatch(/spec\.stapleSecretName: stapleSecretName must differ from secretName/);
  });

  it('copes with junk', () => {
    for (const junk of [null, 42, 'x', {}, { metadata: 'x' }]) {
      const r = parseOcspStaple(junk);
      expect(r.ok).toBe(false);
      expect(r.ok ? '' : r.message).toMatch(/^OcspStaple <unnamed>: /);
    }
  });

  it('rejects another kind', () => {
    const r = parseOcspStaple({ ...staple({ secretName: 'web-tls' }), kind: 'OcspResponderPool' });
    expect(r.ok ? '' : r.message).toMatch(/kind/);
  });
});

describe('parseOcspResponderPool', () => {
  it('names a list item by index', () => {
    const r = parseOcspResponderPool({
      apiVersion: API_GROUP_VERSION,
      kind: 'OcspResponderPool',
      metadata: { name: 'ca', namespace: 'pki' },
      spec: { ...minimalPoolSpec(), sources: [{ clusterSecrets: {} }, {}] },
    });
    expect(r.ok ? '' : r.message).toMatch(/^OcspResponderPool pki\/ca: spec\.sources\[1\]: each source sets exactly one/);
  });
});

describe('helpers', () => {
  it('derives the staple Secret name', () => {
    expect(stapleSecretNameFor({ secretName: 'web-tls' })).toBe('web-tls-ocsp');
    expect(stapleSecretNameFor({ secretName: 'web-tls', stapleSecretName: 'x' })).toBe('x');
  });

  it('applies the Baseline Requirements refresh rule', () => {
    expect(refreshAgeMeetsBaselineRequirements('72h', '168h')).toBe(true);
    expect(refreshAgeMeetsBaselineRequirements('97h', '168h')).toBe(false); // > 4 days
    expect(refreshAgeMeetsBaselineRequirements('13h', '20h')).toBe(false); // < 8h before nextUpdate
    expect(refreshAgeMeetsBaselineRequirements('6h', '12h')).toBe(true); // half of a short validity
    expect(refreshAgeMeetsBaselineRequirements('6h1s', '12h')).toBe(false);
  });

  it('setCondition moves lastTransitionTime only when the status changes', () => {
    const t0 = new Date('2025-06-01T00:00:00.123Z');
    const t1 = new Date('2025-06-01T01:00:00Z');
    const a = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'Fetching', message: '' }, t0);
    expect(a[0]?.lastTransitionTime).toBe('2025-06-01T00:00:00Z');
    const b = setCondition(a, { type: 'Ready', status: 'False', reason: 'TryLater', message: 'x' }, t1);
    expect(findCondition(b, 'Ready')).toMatchObject({ reason: 'TryLater', lastTransitionTime: '2025-06-01T00:00:00Z' });
    const c = setCondition(b, { type: 'Ready', status: 'True', reason: 'StapleValid', message: '' }, t1);
    expect(findCondition(c, 'Ready')?.lastTransitionTime).toBe('2025-06-01T01:00:00Z');
    expect(c).toHaveLength(1);
    expect(a[0]?.reason).toBe('Fetching'); // inputs are not mutated
  });
});
