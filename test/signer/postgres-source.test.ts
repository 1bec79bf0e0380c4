// A CA database in PostgreSQL, read by the signer from a streaming replica (real servers: initdb,
// pg_basebackup -R, on 127.0.0.1). The signer signs every certificate it reads, signs a revocation
// made on the primary once replicated, refuses to sign from the replica while its replay is paused
// and its lag passes the maximum (the incident: a lagging replica shows revoked certificates as
// valid), and signs the revocation once replay resumes. An idle primary does not make a current
// replica look lagging; an unreachable database or a bad row is named, and nothing signed is lost.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pageQuery, PostgresCertificateReader } from '../../src/ca-db/postgres.js';
import { issuerHashes, softwareSigner, validateOcspResponse } from '../../src/ocsp/index.js';
import { PostgresSource, SourceUnusableError } from '../../src/signer/postgres-source.js';
import { ResponseSigner } from '../../src/signer/signer.js';
import { canonicalSerial, EmbeddedStore, issuerIdFromKeyHash } from '../../src/store/index.js';
import { createCa, issueLeaf, type Ca, type Issued } from '../support/pki.js';
import { startPostgresPair, type PgPair } from '../support/postgres.js';
import { freePort } from '../support/redis.js';
import { storeStats } from '../support/store-stats.js';

const H = 3_600_000;
const MAX_LAG_MS = 2_000;
const SOURCE = 'test/pool sources[0].postgres';
const CLI = resolve(import.meta.dirname, '..', '..', 'dist', 'src', 'cli.js');

let pg: PgPair;
let ca: Ca;
let leaves: Issued[];
let dir: string;
let readerUrl: string;
let store: EmbeddedStore;

beforeAll(async () => {
  pg = await startPostgresPair();
  ca = await createCa({ keyAlg: 'P-256' });
  leaves = [];
  for (let i = 0; i < 20; i++) leaves.push(await issueLeaf(ca));
  dir = await mkdtemp(join(tmpdir(), 'ocsp-pg-signer-'));
  const q = pg.primary.query;
  // The documented shape; the signer connects as a role that may only read it.
  await q('CREATE TABLE certificates (serial text PRIMARY KEY, not_after timestamptz, revoked_at timestamptz, reason text)');
  await q('CREATE TABLE heartbeat (at timestamptz)');
  await q('CREATE ROLE ocsp_reader LOGIN');
  await q('GRANT SELECT ON certificates TO ocsp_reader');
  for (const l of leaves) await q('INSERT INTO certificates (serial, not_after) VALUES ($1, $2)', [l.serial, l.cert.notAfter]);
  await pg.waitReplayed();
  readerUrl = `postgres://ocsp_reader@127.0.0.1:${pg.replica.port}/postgres`;
  store = await EmbeddedStore.open({ path: join(dir, 'store', 'responses.log') });
}, 120_000);

afterAll(async () => {
  await store?.close();
  await pg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function logSink(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return m?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value;
}

/** The stored response's status for a leaf, checked against the certificate and the issuer. */
function statusOf(signer: ResponseSigner, l: Issued): { certStatus: string; revocationReason?: string } | undefined {
  const got = store.get(signer.issuerId, canonicalSerial(l.serial));
  if (!got || got instanceof Promise) return undefined;
  const v = validateOcspResponse(got.der, { cert: l.cert, issuer: ca.cert, now: new Date() });
  if (!v.ok) throw new Error(`${l.serial}: ${v.message}`);
  return { certStatus: v.response.certStatus, ...(v.response.revocationReason ? { revocationReason: v.response.revocationReason } : {}) };
}

async function until<T>(what: string, f: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function signerOver(source: PostgresSource, registry: Registry, logger: pino.Logger): ResponseSigner {
  return new ResponseSigner({
    issuer: ca.cert,
    identity: { signer: softwareSigner(ca.keyObject) },
    certificates: () => source.certificates(),
    store,
    responseValidityMs: 168 * H,
    refreshAgeMs: 72 * H,
    registry,
    logger,
  });
}

describe('the PostgreSQL reader', () => {
  it('pages through every row once, in keyset order, bounded per page; names a bad row and reads the rest', async () => {
    const q = pg.primary.query;
    await q('CREATE TABLE bulk (sn text PRIMARY KEY, expires timestamp, revoked timestamptz, why integer)');
    await q(
      "INSERT INTO bulk SELECT lpad(to_hex(i), 8, '0'), now() + interval '30 days', CASE WHEN i % 100 = 0 THEN now() END, CASE WHEN i % 100 = 0 THEN 1 END FROM generate_series(1, 50000) i",
    );
    await q("INSERT INTO bulk VALUES ('zz-not-hex', now() + interval '1 day', NULL, NULL)");
    await pg.waitReplayed();
    const reader = new PostgresCertificateReader({
      url: pg.replica.url,
      source: { table: 'bulk', columns: { serial: 'sn', notAfter: 'expires', revokedAt: 'revoked', reason: 'why' } },
      pageSize: 5_000,
    });
    try {
      const r = await reader.read();
      if (r.kind !== 'read') throw new Error(`not read: ${r.kind}`);
      console.log(
        `read ${r.rows} rows in ${r.pages} pages from the replica in ${Math.round(r.durationMs)} ms: ${Math.round(r.rows / (r.durationMs / 1000))} rows/s; lag ${r.lagMs} ms`,
      );
      expect(r.rows).toBe(50_001);
      expect(r.pages).toBe(11); // 10 full pages, then the last one with a single row
      expect(r.certificates).toHaveLength(50_000);
      expect(new Set(r.certificates.map((c) => c.serial)).size).toBe(50_000);
      expect(r.certificates.filter((c) => c.revoked)).toHaveLength(500);
      expect(r.certificates.find((c) => c.serial === '64')).toMatchObject({ revoked: { reason: 'keyCompromise' } });
      expect(r.problems).toEqual([{ line: 50_001, message: 'serial "zz-not-hex" is not hex' }]);
      expect(r.lagMs).toBe(0); // caught up, receiver streaming
      // a small page size reaches the same rows
      const small = new PostgresCertificateReader({
        url: pg.replica.url,
        source: {
          query: "SELECT sn AS serial, expires AS not_after, revoked AS revoked_at, why AS reason FROM bulk WHERE sn < '00000400';",
        },
        pageSize: 100,
      });
      try {
        const s = await small.read();
        expect(s).toMatchObject({ kind: 'read', rows: 1023, pages: 11 });
      } finally {
        await small.close();
      }
    } finally {
      await reader.close();
    }
  });

  it('an idle primary does not make a current replica look lagging', async () => {
    const q = pg.primary.query;
    await q('INSERT INTO heartbeat VALUES (now())');
    await pg.waitReplayed();
    const reader = new PostgresCertificateReader({ url: readerUrl, source: {} });
    try {
      // The naive measure grows while nothing is written ...
      await until('the last replayed commit to be older than the maximum lag', async () => {
        const r = await pg.replica.query<{ age: number }>(
          'SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS age',
        );
        return r.rows[0]!.age * 1000 > MAX_LAG_MS + 500 || undefined;
      });
      // ... the reader, unprivileged, sees a replica that replayed all it received from a live stream.
      const l = await reader.lag();
      expect(l.sample).toMatchObject({ inRecovery: true, pendingBytes: 0, receiverRunning: true });
      expect(l.sample.now - l.sample.replayedAt!).toBeGreaterThan(MAX_LAG_MS);
      expect(l.lagMs).toBe(0);
    } finally {
      await reader.close();
    }
  });
});

describe('reads for changes (a change column)', () => {
  it("asks only for rows changed since the last read, through the column's index; unchanged is the same list; a full read sees a deletion", async () => {
    const q = pg.primary.query;
    await q(
      'CREATE TABLE stamped (serial text PRIMARY KEY, not_after timestamptz, revoked_at timestamptz, reason text, updated_at timestamptz NOT NULL DEFAULT now())',
    );
    await q('CREATE INDEX stamped_updated_at ON stamped (updated_at)');
    await q(
      "INSERT INTO stamped SELECT lpad(to_hex(i), 8, '0'), now() + interval '30 days', NULL, NULL, now() - interval '1 hour' FROM generate_series(1, 20000) i",
    );
    await q('ANALYZE stamped');
    await pg.waitReplayed();
    const source = { table: 'stamped' };
    const reader = new PostgresCertificateReader({ url: pg.replica.url, source, changedAt: 'updated_at', fullReadEveryMs: 2_000 });
    const read = async () => {
      const r = await reader.read();
      if (r.kind !== 'read') throw new Error(`not read: ${r.kind}`);
      return r;
    };
    try {
      const first = await read();
      expect(first).toMatchObject({ incremental: false, rows: 20_000, changed: 20_000 });
      const quiet = await read();
      expect(quiet).toMatchObject({ incremental: true, rows: 0, changed: 0 });
      expect(quiet.certificates).toBe(first.certificates);

      await q("UPDATE stamped SET revoked_at = now(), reason = 'keyCompromise', updated_at = now() WHERE serial = '00000007'");
      await q("INSERT INTO stamped (serial, not_after) VALUES ('00abcdef', now() + interval '30 days')");
      await pg.waitReplayed();
      const changed = await read();
      expect(changed).toMatchObject({ incremental: true, rows: 2, changed: 2 });
      expect(changed.certificates).toHaveLength(20_001);
      expect(changed.certificates.find((c) => c.serial === '7')).toMatchObject({ revoked: { reason: 'keyCompromise' } });
      // The same two rows again (inside the overlap), the same values: the same list.
      const again = await read();
      expect(again).toMatchObject({ incremental: true, rows: 2, changed: 0 });
      expect(again.certificates).toBe(changed.certificates);

      // The server does the narrowing: the change read touches the two rows, not the table.
      const plan = await q(`EXPLAIN (ANALYZE, FORMAT JSON) ${pageQuery(source, 'updated_at')}`, ['', 5_000, Date.now() - 60_000]);
      const examined = scannedRows((plan.rows[0] as { 'QUERY PLAN': [{ Plan: PlanNode }] })['QUERY PLAN'][0].Plan);
      expect(examined).toBeLessThan(100);

      // A deleted row carries no stamp: reads for changes keep it, the next full read drops it.
      await q("DELETE FROM stamped WHERE serial = '00000009'");
      await pg.waitReplayed();
      const stale = await read();
      expect(stale.incremental).toBe(true);
      expect(stale.certificates.some((c) => c.serial === '9')).toBe(true);
      const full = await until('a full read', async () => {
        const r = await read();
        return r.incremental ? undefined : r;
      });
      expect(full).toMatchObject({ rows: 20_000, changed: 1 });
      expect(full.certificates.some((c) => c.serial === '9')).toBe(false);
    } finally {
      await reader.close();
    }
  });
});

interface PlanNode {
  'Node Type': string;
  'Actual Rows'?: number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

/** Rows the scans of a plan read (returned or filtered out). */
function scannedRows(n: PlanNode): number {
  const own = / Scan$/.test(n['Node Type']) ? (n['Actual Rows'] ?? 0) + (n['Rows Removed by Filter'] ?? 0) : 0;
  return own + (n.Plans ?? []).reduce((sum, c) => sum + scannedRows(c), 0);
}

describe('rounds back to back', () => {
  it('hand out the last read until four times its duration has passed; a change is read then', async () => {
    const q = pg.primary.query;
    await q('CREATE TABLE spaced (serial text PRIMARY KEY, not_after timestamptz, revoked_at timestamptz, reason text)');
    await q("INSERT INTO spaced SELECT lpad(to_hex(i), 8, '0'), now() + interval '30 days', NULL, NULL FROM generate_series(1, 100) i");
    const registry = new Registry();
    // A clock one second further on at each look: the source looks when a read begins and when
    // it ends, so every read takes 1 s and the next may begin 4 s after it began.
    let now = Date.UTC(2030, 0, 1);
    const source = new PostgresSource({
      reader: new PostgresCertificateReader({ url: pg.primary.url, source: { table: 'spaced' } }),
      name: SOURCE,
      maxLagMs: MAX_LAG_MS,
      now: () => (now += 1_000),
      registry,
      log: logSink().logger,
    });
    const reads = async () =>
      (await registry.getSingleMetric('ocsp_signer_source_reads_total')!.get()).values.find((v) => v.labels.result === 'read')!.value;
    try {
      const first = await source.certificates(); // begins at +1 s, ends at +2 s
      expect(first).toHaveLength(100);
      expect(await reads()).toBe(1);
      await q("UPDATE spaced SET revoked_at = now() WHERE serial = '00000001'");
      expect(await source.certificates()).toBe(first); // +3 s
      expect(await source.certificates()).toBe(first); // +4 s
      expect(await reads()).toBe(1);
      const next = await source.certificates(); // +5 s: 4 s after the first began
      expect(await reads()).toBe(2);
      expect(next.find((c) => c.serial === '1')?.revoked).toBeDefined();
    } finally {
      await source.close();
    }
  });
});

describe('the lag of the first write after an idle spell', () => {
  it('is looked at twice before a read is refused: a replica that replays it at once is read', async () => {
    const reader = new PostgresCertificateReader({ url: readerUrl, source: {} });
    let resumed = false;
    try {
      await reader.lag(); // a connection already open: the first look comes at once
      await pg.replica.query('SELECT pg_wal_replay_pause()');
      await pg.primary.query('INSERT INTO heartbeat VALUES (now())');
      await until('the waiting write to look older than the maximum', async () => {
        const l = await reader.lag();
        return l.lagMs > MAX_LAG_MS + 500 || undefined;
      });
      // Replay resumes 100 ms into the read: the first look sees the lag, the second (250 ms) does not.
      const read = reader.read({ maxLagMs: MAX_LAG_MS });
      setTimeout(() => void pg.replica.query('SELECT pg_wal_replay_resume()').then(() => (resumed = true)), 100);
      const r = await read;
      expect(r).toMatchObject({ kind: 'read', lagMs: 0 });
    } finally {
      await until('replay resumed', () => resumed || undefined, 5_000).catch(() => pg.replica.query('SELECT pg_wal_replay_resume()'));
      await reader.close();
    }
  });
});

describe('the signer reading a replica', () => {
  const registry = new Registry();
  const { logger, lines } = logSink();
  let source: PostgresSource;
  let signer: ResponseSigner;

  beforeAll(() => {
    source = new PostgresSource({
      reader: new PostgresCertificateReader({ url: readerUrl, source: {}, pageSize: 7 }),
      name: SOURCE,
      maxLagMs: MAX_LAG_MS,
      registry,
      log: logger,
    });
    signer = signerOver(source, registry, logger);
  });
  afterAll(async () => source?.close());

  it('signs every certificate it reads from the replica', async () => {
    const r = await signer.runOnce();
    expect(r).toMatchObject({ planned: 20, signed: 20, failed: 0, byReason: { new: 20 } });
    for (const l of leaves) expect(statusOf(signer, l)).toEqual({ certStatus: 'good' });
    expect(source.state).toMatchObject({ name: SOURCE, state: 'read', certificates: 20, problems: 0, lagMs: 0 });
    expect(await metric(registry, 'ocsp_signer_source_reads_total', { source: SOURCE, result: 'read' })).toBe(1);
    expect(await metric(registry, 'ocsp_signer_source_certificates', { source: SOURCE })).toBe(20);
  });

  it('signs a revocation made on the primary once the replica has it', async () => {
    const target = leaves[3]!;
    await pg.primary.query("UPDATE certificates SET revoked_at = now() - interval '1 minute', reason = 'keyCompromise' WHERE serial = $1", [
      target.serial,
    ]);
    await pg.waitReplayed();
    const r = await signer.runOnce();
    expect(r).toMatchObject({ planned: 1, signed: 1, byReason: { status: 1 } });
    expect(statusOf(signer, target)).toEqual({ certStatus: 'revoked', revocationReason: 'keyCompromise' });
  });

  it('refuses to sign from the replica once its lag passes the maximum while replay is paused, and signs the revocation when replay resumes', async () => {
    const target = leaves[5]!;
    // A commit just before the pause: the lag then starts from about 0 and grows.
    await pg.primary.query('INSERT INTO heartbeat VALUES (now())');
    await pg.waitReplayed();
    await pg.replica.query('SELECT pg_wal_replay_pause()');
    let resumed = false;
    const ac = new AbortController();
    const rounds: Array<{ at: number; refused: boolean; lagMs?: number; signedStatus: number }> = [];
    let running: Promise<void> | undefined;
    try {
      await pg.primary.query("UPDATE certificates SET revoked_at = now(), reason = 'superseded' WHERE serial = $1", [target.serial]);
      const revokedAt = Date.now();
      // The replica has received the change but not replayed it: it still says `good`.
      await until('the replica to receive WAL it does not replay', async () => {
        const r = await pg.replica.query<{ pending: number }>(
          'SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::float8 AS pending',
        );
        return r.rows[0]!.pending > 0 || undefined;
      });
      expect(
        (await pg.replica.query<{ r: unknown }>('SELECT revoked_at AS r FROM certificates WHERE serial = $1', [target.serial])).rows[0]!.r,
      ).toBeNull();
      const before = await metric(registry, 'ocsp_signer_source_reads_total', { source: SOURCE, result: 'lagging' });
      // A signer of its own: run()'s abort leaves a signer stopping for good. Its metrics on a
      // registry of their own; the source's stay on `registry`.
      running = signerOver(source, new Registry(), logger).run({
        intervalMs: 200,
        errorBackoffMs: 200,
        signal: ac.signal,
        onRound: (r) =>
          rounds.push(
            r instanceof Error
              ? {
                  at: Date.now(),
                  refused: r instanceof SourceUnusableError,
                  ...(r instanceof SourceUnusableError && r.state.lagMs !== undefined ? { lagMs: r.state.lagMs } : {}),
                  signedStatus: 0,
                }
              : {
                  at: Date.now(),
                  refused: false,
                  ...(source.state.lagMs !== undefined ? { lagMs: source.state.lagMs } : {}),
                  signedStatus: r.byReason.status,
                },
          ),
      });
      // Proof that it looked: refused rounds, counted, with the lag it measured past the maximum.
      await until('three refused rounds', () => rounds.filter((r) => r.refused).length >= 3 || undefined);
      const refused = rounds.filter((r) => r.refused);
      expect(refused.every((r) => (r.lagMs ?? 0) > MAX_LAG_MS)).toBe(true);
      expect(
        (await metric(registry, 'ocsp_signer_source_reads_total', { source: SOURCE, result: 'lagging' }))! - (before ?? 0),
      ).toBeGreaterThanOrEqual(3);
      expect(await metric(registry, 'ocsp_signer_source_replication_lag_seconds', { source: SOURCE })).toBeGreaterThan(MAX_LAG_MS / 1000);
      expect(source.state).toMatchObject({ name: SOURCE, state: 'lagging', maxLagMs: MAX_LAG_MS });
      expect(source.state.message).toMatch(
        /^test\/pool sources\[0\]\.postgres: the database server lags its primary by \d+s, more than maxReplicationLag 2s; nothing signed from it/,
      );
      const refusal = lines.find((l) => l.msg === 'certificate source lags more than its maximum: refusing this read');
      expect(refusal).toMatchObject({ level: 40, source: SOURCE, maxLagSeconds: 2, receiverRunning: true });
      expect(refusal!.lagSeconds as number).toBeGreaterThan(2);
      expect(refusal!.pendingBytes as number).toBeGreaterThan(0);
      // Nothing was signed from the lagging replica; the previous response stands.
      expect(rounds.every((r) => r.signedStatus === 0)).toBe(true);
      expect(statusOf(signer, target)).toEqual({ certStatus: 'good' });

      await pg.replica.query('SELECT pg_wal_replay_resume()');
      resumed = true;
      const resumedAt = Date.now();
      await until('the revocation to be signed', () => (statusOf(signer, target)?.certStatus === 'revoked' ? true : undefined));
      console.log(
        `revocation on the primary signed ${Date.now() - revokedAt} ms later; ${refused.length}+ rounds refused at lag ${refused.map((r) => Math.round((r.lagMs ?? 0) / 100) / 10).join(', ')} s; signed ${Date.now() - resumedAt} ms after replay resumed`,
      );
      expect(statusOf(signer, target)).toEqual({ certStatus: 'revoked', revocationReason: 'superseded' });
      expect(source.state).toMatchObject({ state: 'read', lagMs: 0 });
      expect(lines.some((l) => l.msg === 'signed status change' && l.serial === canonicalSerial(target.serial))).toBe(true);
    } finally {
      ac.abort();
      await running;
      if (!resumed) await pg.replica.query('SELECT pg_wal_replay_resume()').catch(() => undefined);
    }
  });

  it('a bad row is named with its source and skipped; a revocation with an unknown reason is still signed revoked', async () => {
    const extra = await issueLeaf(ca);
    await pg.primary.query(
      "INSERT INTO certificates VALUES ('not-hex', now() + interval '1 day', NULL, NULL), ($1, $2, now(), 'lost it')",
      [extra.serial, extra.cert.notAfter],
    );
    await pg.waitReplayed();
    const r = await signer.runOnce();
    // and leaf 5's revocation, which the previous test's signer stored and this one's view has yet to rescan
    expect(r).toMatchObject({ signed: 2, failed: 0, byReason: { status: 2 } });
    expect(statusOf(signer, extra)).toEqual({ certStatus: 'revoked' });
    expect(source.state).toMatchObject({ state: 'read', certificates: 21, problems: 2 });
    expect(source.state.message).toMatch(/^test\/pool sources\[0\]\.postgres: 2 rows unusable \(skipped\), first: /);
    const named = lines.filter((l) => l.msg === 'certificate source row unusable');
    expect(named.map((l) => [l.level, l.source, l.problem]).sort()).toEqual(
      [
        [40, SOURCE, 'serial "not-hex" is not hex'],
        [40, SOURCE, `serial ${canonicalSerial(extra.serial)}: unknown revocation reason "lost it"; signed as revoked without a reason`],
      ].sort(),
    );
  });

  it('an unreachable database fails the round naming the source and the server; nothing signed is lost', async () => {
    const port = await freePort();
    const registry2 = new Registry();
    const { logger: log2, lines: lines2 } = logSink();
    const down = new PostgresSource({
      reader: new PostgresCertificateReader({ url: `postgres://ocsp_reader:secret@127.0.0.1:${port}/ca`, source: {}, timeoutMs: 3_000 }),
      name: SOURCE,
      maxLagMs: MAX_LAG_MS,
      registry: registry2,
      log: log2,
    });
    try {
      const before = (await storeStats(store)).count;
      const s2 = signerOver(down, registry2, log2);
      const err = await s2.runOnce().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SourceUnusableError);
      expect((err as Error).message).toMatch(
        new RegExp(
          `^test/pool sources\\[0\\]\\.postgres: cannot connect postgres://127\\.0\\.0\\.1:${port}/ca: .*ECONNREFUSED.*; nothing signed this round, responses already signed are still served$`,
        ),
      );
      expect((err as Error).message).not.toContain('secret');
      expect(down.state).toMatchObject({ state: 'failed' });
      expect(await metric(registry2, 'ocsp_signer_source_reads_total', { source: SOURCE, result: 'failed' })).toBe(1);
      expect(lines2.find((l) => l.msg === 'certificate source unreadable')).toMatchObject({ level: 50, source: SOURCE });
      expect((await storeStats(store)).count).toBe(before);
      for (const l of leaves) expect(statusOf(signer, l)?.certStatus).toMatch(/^(good|revoked)$/);
    } finally {
      await down.close();
    }
  });
});

describe('ocsp-operator signer --postgres-url-env', () => {
  function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((done) => {
      execFile(process.execPath, [CLI, 'signer', ...args], { env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
        done({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
      });
    });
  }

  it("--once signs the replica's certificates, declared revocations laid over them; a lagging replica fails the run and names the source", async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    await writeFile(join(dir, 'ca.pem'), ca.certPem);
    await writeFile(join(dir, 'ca.key'), ca.keyPem);
    const declared = leaves[9]!;
    await writeFile(
      join(dir, 'revocations.json'),
      JSON.stringify([{ serial: declared.serial, time: Date.now() - H, reason: 'cessationOfOperation' }]),
    );
    const args = [
      '--ca-cert',
      join(dir, 'ca.pem'),
      '--key-file',
      join(dir, 'ca.key'),
      '--store-dir',
      join(dir, 'cli-store'),
      '--once',
      '--postgres-url-env',
      'CA_DB_URL',
      '--postgres-name',
      SOURCE,
      '--postgres-max-lag',
      '2s',
      '--revocations',
      join(dir, 'revocations.json'),
    ];
    const ok = await cli(args, { CA_DB_URL: readerUrl });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const last = JSON.parse(ok.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    // 21 certificates (the bad row skipped), 3 revoked on the primary and 1 declared
    expect(last).toMatchObject({ planned: 21, signed: 21, failed: 0, byReason: { status: 4, new: 17 } });
    const s = await EmbeddedStore.open({ path: join(dir, 'cli-store', 'responses.log') });
    try {
      const got = s.get(issuerIdFromKeyHash(issuerHashes(ca.cert, 'SHA-256').keyHash), canonicalSerial(declared.serial));
      if (!got || got instanceof Promise) throw new Error('no response for the declared revocation');
      expect(validateOcspResponse(got.der, { cert: declared.cert, issuer: ca.cert, now: new Date() })).toMatchObject({
        ok: true,
        response: { certStatus: 'revoked', revocationReason: 'cessationOfOperation' },
      });
    } finally {
      await s.close();
    }

    // Replay paused and a write waiting: the run refuses and says why, naming the source.
    await pg.primary.query('INSERT INTO heartbeat VALUES (now())');
    await pg.waitReplayed();
    await pg.replica.query('SELECT pg_wal_replay_pause()');
    try {
      await pg.primary.query('INSERT INTO heartbeat VALUES (now())');
      await until('the replica to lag more than 2s', async () => {
        const r = await pg.replica.query<{ lag: number }>(
          'SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS lag',
        );
        return r.rows[0]!.lag > 2.5 || undefined;
      });
      const refused = await cli(args, { CA_DB_URL: readerUrl });
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(
        /test\/pool sources\[0\]\.postgres: the database server lags its primary by \d+s, more than maxReplicationLag 2s/,
      );
    } finally {
      await pg.replica.query('SELECT pg_wal_replay_resume()');
    }
  });
});
