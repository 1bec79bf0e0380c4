import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisReader, RedisWriter, type ResponseRecord } from '../../src/store/index.js';
import { startRedisCluster, type RedisCluster } from '../support/redis.js';
import { storeStats } from '../support/store-stats.js';

const ISSUER = 'ab'.repeat(32);

function rec(serial: string, thisUpdate: number, extra: Partial<ResponseRecord> = {}): ResponseRecord {
  return {
    issuerId: ISSUER,
    serial,
    der: Buffer.from(`r-${serial}-${thisUpdate}`),
    thisUpdate,
    nextUpdate: thisUpdate + 86_400_000,
    status: 'good',
    ...extra,
  };
}

describe('Redis store', { timeout: 60_000 }, () => {
  let cluster: RedisCluster;
  let writer: RedisWriter;
  let readers: RedisReader[];

  beforeAll(async () => {
    cluster = await startRedisCluster(2);
    writer = new RedisWriter({ redis: { host: '127.0.0.1', port: cluster.primary.port }, minReplicas: 1, heartbeatMs: 200 });
    readers = cluster.replicas.map(
      (r) => new RedisReader({ replica: { host: '127.0.0.1', port: r.port }, primary: { host: '127.0.0.1', port: cluster.primary.port } }),
    );
  });
  afterAll(async () => {
    await writer?.close();
    for (const r of readers ?? []) await r.close();
    await cluster?.stop();
  });

  it('writes on the primary, reads on both replicas, newest thisUpdate wins', async () => {
    const now = Date.now();
    await writer.put([rec('0A', now), rec('b', now)]);
    await writer.put([rec('a', now - 1000)]);
    for (const r of cluster.replicas) await cluster.waitInSync(r);
    for (const reader of readers) {
      const got = await reader.get(ISSUER, 'a');
      expect(Buffer.from(got!.der).toString()).toBe(`r-0A-${now}`);
      expect(got!.thisUpdate).toBe(now);
      expect(await reader.get(ISSUER, 'c')).toBeUndefined();
    }
    const stats = await storeStats(readers[0]!);
    expect(stats.count).toBe(2);
    expect(stats.oldestThisUpdate).toBe(now);
    await expect(readers[0]!.put([rec('d', now)])).rejects.toThrow(/read-only/);
  });

  it('expires a response after nextUpdate plus retention', async () => {
    const now = Date.now();
    const short = new RedisWriter({ redis: { host: '127.0.0.1', port: cluster.primary.port }, heartbeatMs: 0, expiredRetentionMs: 0 });
    await short.put([rec('e', now - 10_000, { nextUpdate: now + 300 })]);
    expect(await short.get(ISSUER, 'e')).toBeDefined();
    await new Promise((r) => setTimeout(r, 600));
    expect(await short.get(ISSUER, 'e')).toBeUndefined();
    await short.close();
  });

  it('a detached replica reports detached and growing heartbeat lag, and recovers after resync', async () => {
    const r0 = cluster.replicas[0]!;
    await cluster.waitInSync(r0);
    const healthy = await readers[0]!.lag();
    expect(healthy.detached).toBe(false);
    expect(healthy.lagMs).toBeLessThan(1000);
    await r0.admin.replicaof('NO', 'ONE');
    const now = Date.now();
    await writer.put([rec('f', now)]);
    await new Promise((r) => setTimeout(r, 1200));
    const broken = await readers[0]!.lag();
    expect(broken.detached).toBe(true);
    expect(broken.lagMs).toBeGreaterThan(700);
    expect(await readers[0]!.get(ISSUER, 'f')).toBeUndefined();
    // The other replica is unaffected.
    const other = await readers[1]!.lag();
    expect(other.detached).toBe(false);
    expect(other.lagMs).toBeLessThan(1000);
    expect(await readers[1]!.get(ISSUER, 'f')).toBeDefined();
    await r0.admin.replicaof('127.0.0.1', String(cluster.primary.port));
    await cluster.waitInSync(r0);
    await writer.beat();
    await cluster.waitInSync(r0);
    const back = await readers[0]!.lag();
    expect(back.detached).toBe(false);
    expect(back.lagMs).toBeLessThan(1000);
    expect(back.bytesBehind).toBeGreaterThanOrEqual(0);
    expect(await readers[0]!.get(ISSUER, 'f')).toBeDefined();
  });

  it('reports an unreachable replica as detached instead of throwing', async () => {
    const dead = new RedisReader({ replica: { host: '127.0.0.1', port: 1, retryStrategy: () => null, commandTimeout: 500 } });
    const lag = await dead.lag();
    expect(lag.detached).toBe(true);
    expect(lag.lagMs).toBe(Infinity);
    dead.replica.disconnect();
  });
});
