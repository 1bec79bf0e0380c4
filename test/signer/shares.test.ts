// Shares that change while signers run (a StatefulSet scaled): real signers on one real Redis.
// A signer whose share changes ends its round before the next signature and re-reads the store
// before signing its new share, so what the previous owners stored is not signed again; a share at
// or past the count signs nothing.
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { softwareSigner, type OcspSigner } from '../../src/ocsp/index.js';
import type { CertificateInfo } from '../../src/ca-db/index-txt.js';
import { createPlanner, type Shard } from '../../src/signer/planner.js';
import { ordinalOf } from '../../src/signer/shard-source.js';
import { ResponseSigner } from '../../src/signer/signer.js';
import { RedisWriter } from '../../src/store/index.js';
import { createCa, type Ca } from '../support/pki.js';
import { startRedisCluster, type RedisCluster } from '../support/redis.js';

const H = 3_600_000;
const certs = (n: number): CertificateInfo[] =>
  Array.from({ length: n }, (_, i) => ({ serial: (0x1000 + i).toString(16), notAfter: Date.now() + 1000 * H }));

let ca: Ca;
let redis: RedisCluster;
const writers: RedisWriter[] = [];

beforeAll(async () => {
  ca = await createCa({ keyAlg: 'P-256' });
  redis = await startRedisCluster(0);
}, 60_000);
afterAll(async () => {
  for (const w of writers) await w.close();
  await redis?.stop();
});

function logSink(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

/** A signer on the test's Redis under its own key prefix (one per test), its share asked each time. */
function signerOn(prefix: string, list: CertificateInfo[], shard: () => Shard, signer: OcspSigner = softwareSigner(ca.keyObject)) {
  const store = new RedisWriter({ redis: { host: '127.0.0.1', port: redis.primary.port }, prefix });
  writers.push(store);
  const { logger, lines } = logSink();
  const s = new ResponseSigner({
    issuer: ca.cert,
    identity: { signer },
    certificates: () => list,
    store,
    responseValidityMs: 168 * H,
    refreshAgeMs: 72 * H,
    concurrency: 4,
    logger,
    shard,
  });
  return { signer: s, lines };
}

describe('shares', () => {
  it('the planner: an index at or past the count owns nothing; a count of 1 owns everything', () => {
    const list = certs(300);
    const policy = { refreshAgeMs: 72 * H, responseValidityMs: 168 * H, currentSignerSerial: undefined };
    const plan = (shard: Shard) => createPlanner(list, new Map(), { ...policy, shard }).plan(Date.now()).length;
    expect([plan({ index: 0, count: 1 }), plan({ index: 1, count: 1 }), plan({ index: 3, count: 3 })]).toEqual([300, 0, 0]);
    expect(plan({ index: 0, count: 2 }) + plan({ index: 1, count: 2 })).toBe(300);
  });

  it("the ordinal comes from the StatefulSet's own pod name only", () => {
    expect(ordinalOf('ca-signer-12', 'ca-signer')).toBe(12);
    expect(() => ordinalOf('other-signer-1', 'ca-signer')).toThrow(/not <ca-signer>-<ordinal>/);
    expect(() => ordinalOf('ca-signer-x', 'ca-signer')).toThrow(/POD_NAME/);
  });

  it('2 → 1: the remaining signer re-reads the store and signs nothing its former partner stored', async () => {
    const list = certs(400);
    let shareA: Shard = { index: 0, count: 2 };
    let shareB: Shard = { index: 1, count: 2 };
    const a = signerOn('down:', list, () => shareA);
    const b = signerOn('down:', list, () => shareB);
    const [ra, rb] = [await a.signer.runOnce(), await b.signer.runOnce()];
    expect(ra.signed + rb.signed).toBe(400);
    expect(Math.min(ra.signed, rb.signed)).toBeGreaterThan(100);
    shareA = { index: 0, count: 1 };
    shareB = { index: 1, count: 1 };
    const [ra2, rb2] = [await a.signer.runOnce(), await b.signer.runOnce()];
    expect({ a: ra2.planned, b: rb2.planned }, 'nothing is due: B stored its half, A re-read it').toEqual({ a: 0, b: 0 });
    expect(ra2.after.certificates).toBe(400);
    expect(rb2.after.certificates, 'ordinal 1 of 1 owns nothing').toBe(0);
    expect(a.signer.signedTotal + b.signer.signedTotal, 'each certificate signed once').toBe(400);
    expect(a.lines.some((l) => l.msg === 'share changed; re-reading the store' && l.from === '0/2' && l.to === '0/1')).toBe(true);
  });

  it('a share change during a round ends it before the next signature; the next round signs the new share', async () => {
    const list = certs(2000);
    let share: Shard = { index: 0, count: 1 };
    const key = softwareSigner(ca.keyObject);
    let signatures = 0;
    // The HSM's view: after 100 signatures the StatefulSet scales to 3.
    const counting: OcspSigner = {
      algorithm: key.algorithm,
      sign: async (tbs) => {
        if (++signatures === 100) share = { index: 0, count: 3 };
        return key.sign(tbs);
      },
    };
    const a = signerOn('mid:', list, () => share, counting);
    const r = await a.signer.runOnce();
    expect(r.shareChanged).toBe(true);
    expect(r.planned).toBe(2000);
    // the ones already started finish: at most two per session
    expect(r.signed).toBeGreaterThanOrEqual(100);
    expect(r.signed).toBeLessThanOrEqual(100 + 2 * 4);
    expect(r.shard).toEqual({ index: 0, count: 1 });
    const next = await a.signer.runOnce();
    expect(next.shard).toEqual({ index: 0, count: 3 });
    expect(next.shareChanged).toBe(false);
    expect(next.after.due).toBe(0);
    // its third, minus what the interrupted round already signed of it
    const third = createPlanner(list, new Map(), {
      refreshAgeMs: 72 * H,
      responseValidityMs: 168 * H,
      currentSignerSerial: undefined,
      shard: { index: 0, count: 3 },
    }).backlog(Date.now()).certificates;
    expect(next.after.certificates).toBe(third);
    expect(next.signed).toBeLessThan(third);
    expect(next.signed).toBeGreaterThan(third - r.signed - 1);
    expect(a.lines.filter((l) => l.msg === 'share changed during the round; ending it')).toHaveLength(1);
  });

  it('with a synchronous key (a software RSA key blocks for milliseconds): a change that arrives as I/O mid-round is still seen mid-round', async () => {
    const list = certs(1000);
    let share: Shard = { index: 0, count: 1 };
    const key = softwareSigner(ca.keyObject);
    // RSA-4096 in software: ~5 ms of CPU per signature on the main thread.
    const slow: OcspSigner = {
      algorithm: key.algorithm,
      sign: (tbs) => {
        const until = performance.now() + 2;
        while (performance.now() < until);
        return key.sign(tbs);
      },
    };
    const a = signerOn('sync:', list, () => share, slow);
    // The watch event, as a macrotask: it runs only when the round lets the event loop turn.
    const moved = new Promise<number>((resolve) =>
      setTimeout(() => {
        share = { index: 0, count: 3 };
        resolve(performance.now());
      }, 200),
    );
    const started = performance.now();
    const r = await a.signer.runOnce();
    const seenAfter = (await moved) - started;
    expect(r.shareChanged, `the change (at ${Math.round(seenAfter)} ms) ended the round`).toBe(true);
    expect(r.signed, 'about 200 ms of 2 ms signatures, far from the 1000 planned').toBeLessThan(400);
    expect(seenAfter).toBeLessThan(400);
  });
});
