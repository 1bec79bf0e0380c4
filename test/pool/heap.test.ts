// A signer with a memory limit gets a V8 heap limit below it (src/pool/heap.ts): rendered into the
// signer container of both pool shapes, never into a responder, never over the user's own NODE_OPTIONS.
import { describe, expect, it } from 'vitest';
import { quantityValue } from '../../src/pool/heap.js';
import { renderPool, type RenderedContainer } from '../support/pool-render.js';

const base = {
  issuer: { secretName: 'ca' },
  signing: { softwareKey: { secretName: 'ca' } },
  sources: [{ opensslIndex: { configMapName: 'ca-db' } }],
};
const redis = { type: 'Redis', redis: { primaryURL: 'redis://redis:6379' } };

function containers(spec: Record<string, unknown>): RenderedContainer[] {
  return renderPool(spec).templates.flatMap((t) => t.template.spec.containers);
}
const nodeOptions = (c: RenderedContainer) => (c.env ?? []).filter((e) => e.name === 'NODE_OPTIONS').map((e) => e.value);

describe('quantityValue', () => {
  it.each([
    ['1Gi', 2 ** 30],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['512Mi', 512 * 2 ** 20],
    ['2G', 2e9],
    ['500M', 5e8],
    ['1e9', 1e9],
    ['.5Ki', 512],
    ['1000', 1000],
    ['1500m', 1.5],
    [2147483648, 2 ** 31],
  ])('%s is %d', (q, v) => expect(quantityValue(q)).toBe(v));

  it('names what it cannot read', () => {
    expect(() => quantityValue('1GB')).toThrow('not a Kubernetes quantity: "1GB"');
    expect(() => quantityValue('Gi')).toThrow('not a Kubernetes quantity: "Gi"');
  });
});

describe('the signer’s heap under its memory limit', () => {
  for (const [store, extra] of [
    ['embedded', {}],
    ['Redis', { store: redis }],
  ] as const) {
    it(`${store}: three quarters of the signer's limit, the responder untouched`, () => {
      const out = containers({ ...base, ...extra, signers: { pod: { resources: { limits: { memory: '1Gi' } } } } });
      const signers = out.filter((c) => c.name === 'signer');
      expect(signers).toHaveLength(1);
      expect(nodeOptions(signers[0]!)).toEqual(['--max-old-space-size=768']);
      for (const c of out.filter((c) => c.name === 'responder')) expect(nodeOptions(c), `responder`).toEqual([]);
    });

    it(`${store}: no limit, no NODE_OPTIONS; the user's own NODE_OPTIONS alone`, () => {
      for (const c of containers({ ...base, ...extra })) expect(nodeOptions(c), c.name).toEqual([]);
      const own = { resources: { limits: { memory: '2Gi' } }, env: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=1900' }] };
      const signer = containers({ ...base, ...extra, signers: { pod: own } }).find((c) => c.name === 'signer')!;
      expect(nodeOptions(signer)).toEqual(['--max-old-space-size=1900']);
    });
  }
});
