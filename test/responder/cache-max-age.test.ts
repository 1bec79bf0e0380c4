// spec.responder.cacheMaxAge reaches the responder as --cache-max-age: the Cache-Control max-age a
// real responder process sends is capped by it, and without it runs up to nextUpdate (RFC 5019).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oneResponseStore, startPod, type ServedCertificate } from './pod-process.js';

let served: ServedCertificate;
beforeAll(async () => {
  served = await oneResponseStore();
});
afterAll(async () => {
  await served?.remove();
});

async function maxAge(extra: string[]): Promise<number> {
  const pod = await startPod(served, ['--workers', '1', ...extra]);
  try {
    const res = await fetch(`${pod.base}${served.getPath}`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(served.der)).toBe(true);
    const m = /max-age=(\d+)/.exec(res.headers.get('cache-control') ?? '');
    if (!m) throw new Error(`no max-age in Cache-Control: ${res.headers.get('cache-control')}`);
    return Number(m[1]);
  } finally {
    await pod.stop();
  }
}

describe('responder --cache-max-age', () => {
  it('caps max-age; without it max-age runs toward nextUpdate', async () => {
    expect(await maxAge(['--cache-max-age', '90s'])).toBeLessThanOrEqual(90);
    expect(await maxAge([])).toBeGreaterThan(3600);
  });
});
