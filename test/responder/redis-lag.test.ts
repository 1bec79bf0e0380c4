// Responders reading Redis replicas: a replica whose replication stalls (link paused) or stops
// (REPLICAOF NO ONE) takes its responders out of readiness within the threshold, and with the
// Unauthorized policy they stop vouching for anything; after catching up they come back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOcspRequest } from '../../src/ocsp/index.js';
import { startResponder, type Responder } from '../../src/responder/index.js';
import { RedisReader, RedisWriter } from '../../src/store/index.js';
import { createCa, issueLeaf, type Ca, type Issued } from '../support/pki.js';
import { startPausableProxy, startRedisCluster, type PausableProxy, type RedisCluster } from '../support/redis.js';
import { presign } from './fixtures.js';

const THRESHOLD = 1500;
const POLL = 100;

describe('responders on Redis replicas', { timeout: 90_000 }, () => {
  let cluster: RedisCluster;
  let proxy: PausableProxy;
  let writer: RedisWriter;
  const readers: RedisReader[] = [];
  let healthy: Responder; // replica 0, direct link
  let strict: Responder; // replica 1 behind the proxy, Unauthorized policy
  let lenient: Responder; // replica 1 behind the proxy, ServeWhatItHas policy
  let patient: Responder; // replica 1 behind the proxy, TryLater policy
  let ca: Ca;
  let leaf: Issued;
  let fresh: Issued;

  beforeAll(async () => {
    cluster = await startRedisCluster(2);
    proxy = await startPausableProxy(cluster.primary.port);
    const r1 = cluster.replicas[1]!;
    await r1.admin.replicaof('127.0.0.1', String(proxy.port));
    await cluster.waitInSync(r1);
    writer = new RedisWriter({ redis: { host: '127.0.0.1', port: cluster.primary.port }, heartbeatMs: 200 });
    ca = await createCa({ keyAlg: 'P-256' });
    [leaf, fresh] = await Promise.all([issueLeaf(ca), issueLeaf(ca)]);
    await writer.put([await presign(ca, leaf, { thisUpdate: new Date(Date.now() - 3_600_000) })]);
    for (const r of cluster.replicas) await cluster.waitInSync(r);
    const reader = (port: number) => {
      const r = new RedisReader({ replica: { host: '127.0.0.1', port }, primary: { host: '127.0.0.1', port: cluster.primary.port } });
      readers.push(r);
      return r;
    };
    const common = { issuers: [ca.cert], lagThresholdMs: THRESHOLD, lagPollMs: POLL, logLevel: 'silent' };
    healthy = await startResponder({ ...common, store: reader(cluster.replicas[0]!.port), lagPolicy: 'Unauthorized' });
    strict = await startResponder({ ...common, store: reader(r1.port), lagPolicy: 'Unauthorized' });
    lenient = await startResponder({ ...common, store: reader(r1.port), lagPolicy: 'ServeWhatItHas' });
    patient = await startResponder({ ...common, store: reader(r1.port), lagPolicy: 'TryLater' });
  });

  afterAll(async () => {
    for (const r of [healthy, strict, lenient, patient]) await r?.close();
    for (const r of readers) await r.close();
    await writer?.close();
    await proxy?.close();
    await cluster?.stop();
  });

  async function readyz(r: Responder): Promise<number> {
    return (await fetch(new URL('/readyz', r.url))).status;
  }

  /** The thisUpdate of the response served for `l`, or the OCSP error status byte. */
  async function ask(r: Responder, l: Issued): Promise<{ status: number; lastModified: string | null; body: Buffer }> {
    const res = await fetch(r.url, { method: 'POST', body: buildOcspRequest({ cert: l.cert, issuer: ca.cert }).der });
    return { status: res.status, lastModified: res.headers.get('last-modified'), body: Buffer.from(await res.arrayBuffer()) };
  }

  async function waitFor(cond: () => Promise<boolean>, timeoutMs: number): Promise<number> {
    const t0 = Date.now();
    while (!(await cond())) {
      if (Date.now() - t0 > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return Date.now() - t0;
  }

  it('all ready and serving while replication flows', async () => {
    for (const r of [healthy, strict, lenient]) {
      expect(await readyz(r)).toBe(200);
      const a = await ask(r, leaf);
      expect(a.lastModified).not.toBeNull();
    }
  });

  it('a stalled link: readiness false within the threshold; strict refuses, lenient serves the old one; back after catch-up', async () => {
    const before = (await ask(healthy, leaf)).lastModified;
    proxy.pause();
    const t0 = Date.now();
    const newer = await presign(ca, leaf, { thisUpdate: new Date(Date.now() - 1000) });
    await writer.put([newer, await presign(ca, fresh)]);
    await waitFor(async () => (await readyz(strict)) === 503 && (await readyz(lenient)) === 503, THRESHOLD + 2000);
    const took = Date.now() - t0;
    // The heartbeat was at most ~200 ms old at the pause; lag passes THRESHOLD after that, and
    // the monitor notices within one poll.
    expect(took).toBeLessThanOrEqual(THRESHOLD + 200 + POLL + 500);
    const body = (await (await fetch(new URL('/readyz', strict.url))).json()) as { lagMs: number };
    expect(body).toMatchObject({ ready: false, detached: false });
    expect(body.lagMs).toBeGreaterThan(THRESHOLD);

    // The healthy replica has the newer response and the new certificate.
    expect(await readyz(healthy)).toBe(200);
    const h = await ask(healthy, leaf);
    expect(h.lastModified).toBe(new Date(newer.thisUpdate).toUTCString());
    expect(h.lastModified).not.toBe(before);
    expect((await ask(healthy, fresh)).lastModified).not.toBeNull();

    // Strict: vouches for nothing while lagging (unauthorized, status byte 6).
    const s = await ask(strict, leaf);
    expect(s.body.toString('hex')).toBe('30030a0106');
    // Patient: vouches for nothing either, but says "try later" (status byte 3), not "unknown".
    expect((await ask(patient, leaf)).body.toString('hex')).toBe('30030a0103');
    // Lenient: still serves the older, still-valid response, but is out of rotation and says so.
    const l = await ask(lenient, leaf);
    expect(l.lastModified).toBe(before);
    const metrics = await (await fetch(new URL('/metrics', lenient.url))).text();
    expect(metrics).toMatch(/^ocsp_responder_ready 0$/m);
    expect(Number(/^ocsp_responder_store_lag_seconds (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThan(THRESHOLD / 1000);

    proxy.resume();
    await waitFor(async () => (await readyz(strict)) === 200 && (await readyz(lenient)) === 200, 10_000);
    expect((await ask(strict, leaf)).lastModified).toBe(new Date(newer.thisUpdate).toUTCString());
    expect((await ask(lenient, fresh)).lastModified).not.toBeNull();
  });

  it('REPLICAOF NO ONE: the replica is detached, not ready at the next poll; ready again once it follows and catches up', async () => {
    const r0 = cluster.replicas[0]!;
    await r0.admin.replicaof('NO', 'ONE');
    const took = await waitFor(async () => (await readyz(healthy)) === 503, THRESHOLD);
    expect(took).toBeLessThan(THRESHOLD);
    expect(await (await fetch(new URL('/readyz', healthy.url))).json()).toMatchObject({ ready: false, detached: true });
    expect((await ask(healthy, leaf)).body.toString('hex')).toBe('30030a0106');
    await r0.admin.replicaof('127.0.0.1', String(cluster.primary.port));
    await cluster.waitInSync(r0);
    await waitFor(async () => (await readyz(healthy)) === 200, 10_000);
    expect((await ask(healthy, leaf)).status).toBe(200);
    expect((await ask(healthy, leaf)).lastModified).not.toBeNull();
  });
});
