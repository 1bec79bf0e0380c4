import { describe, expect, it } from 'vitest';
import { LastWrites } from '../../src/staple/last-write.js';
import type { KubeObject } from '../../src/kube/types.js';

const version = (resourceVersion: string, note = ''): KubeObject & { status: { note: string } } => ({
  metadata: { namespace: 'web', name: 'shop', resourceVersion },
  status: { note },
});

describe('LastWrites', () => {
  it('serves the status it wrote while the cache still shows the version the write replaced', () => {
    const w = new LastWrites();
    const before = version('10');
    const stored = version('11', 'written');
    w.wroteStatus('web/shop', '10', stored, before);
    expect(w.newest('web/shop', before)).toBe(stored);
    expect(w.size).toBe(1);
    // The write's watch event: the cache caught up and the held object is let go.
    const shown = version('11', 'written');
    expect(w.newest('web/shop', shown)).toBe(shown);
    expect(w.size).toBe(0);
  });

  it('holds nothing when the watch event showed the write before its answer came back', () => {
    const w = new LastWrites();
    const stored = version('11', 'written');
    w.wroteStatus('web/shop', '10', stored, version('11', 'written'));
    expect(w.size).toBe(0);
    expect(w.newest('web/shop', version('11'))?.metadata?.resourceVersion).toBe('11');
  });

  it('keeps a served refresh request when the status write needs no holding', () => {
    const w = new LastWrites();
    w.servedRefresh('web/shop', 'r1');
    w.wroteStatus('web/shop', '10', version('11'), version('11'));
    expect(w.size).toBe(1);
    expect(w.pending('web/shop', { value: 'r1', notBefore: 0 })).toBeUndefined();
    expect(w.pending('web/shop', { value: 'r2', notBefore: 0 })?.value).toBe('r2');
  });
});
