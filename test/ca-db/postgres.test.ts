// The PostgreSQL source's pure parts: the SQL it pages with, how a row becomes a certificate (or a
// named problem), and how the lag is judged from what the server says about its replication.
import { describe, expect, it } from 'vitest';
import { innerQuery, pageQuery, parseRow, replicationLagMs, type ReplicationSample } from '../../src/ca-db/postgres.js';
import { lagBucketMs, quantizeReport, readReports, type SignerReport } from '../../src/report/protocol.js';

const T = Date.UTC(2030, 0, 1);

describe('the SQL', () => {
  it('reads the documented table by default, quoting every name', () => {
    expect(innerQuery({})).toBe(
      'SELECT "serial" AS serial, "not_after" AS not_after, "revoked_at" AS revoked_at, "reason" AS reason FROM "certificates"',
    );
  });

  it('takes a schema-qualified table and other column names', () => {
    expect(innerQuery({ table: 'pki.certs', columns: { serial: 'sn', reason: 'why' } })).toBe(
      'SELECT "sn" AS serial, "not_after" AS not_after, "revoked_at" AS revoked_at, "why" AS reason FROM "pki"."certs"',
    );
  });

  it("wraps a user's query without its trailing semicolon, and pages on the serial with a keyset", () => {
    const q = pageQuery({ query: '  SELECT a AS serial, b AS not_after, c AS revoked_at, d AS reason FROM t ;\n' });
    expect(q).toContain('FROM (SELECT a AS serial, b AS not_after, c AS revoked_at, d AS reason FROM t) AS source');
    expect(q).toMatch(/WHERE source\.serial > \$1\nORDER BY source\.serial\nLIMIT \$2$/);
    expect(() => pageQuery({ query: ' ; ' })).toThrow(/query is empty/);
  });
});

describe('parseRow', () => {
  it('canonicalises the serial and keeps the times as epoch ms', () => {
    expect(parseRow({ serial: '00:0A:Bc', not_after: T + 0.7, revoked_at: null, reason: null })).toEqual({
      certificate: { serial: 'abc', notAfter: T },
    });
  });

  it.each([
    ['keyCompromise', 'keyCompromise'],
    ['KEYCOMPROMISE', 'keyCompromise'],
    ['1', 'keyCompromise'],
    ['cessationofoperation', 'cessationOfOperation'],
    ['6', 'certificateHold'],
  ])('reads revocation reason %s as %s', (text, name) => {
    expect(parseRow({ serial: 'ab', not_after: T, revoked_at: T - 1000, reason: text })).toEqual({
      certificate: { serial: 'ab', notAfter: T, revoked: { time: T - 1000, reason: name } },
    });
  });

  it('keeps a revocation whose reason it does not know, without the reason, and names the row', () => {
    expect(parseRow({ serial: 'ab', not_after: T, revoked_at: T - 1000, reason: 'lost it' })).toEqual({
      certificate: { serial: 'ab', notAfter: T, revoked: { time: T - 1000 } },
      problem: 'serial ab: unknown revocation reason "lost it"; signed as revoked without a reason',
    });
    expect(parseRow({ serial: 'ab', not_after: T, revoked_at: T - 1000, reason: '7' }).problem).toMatch(/unknown revocation reason "7"/);
  });

  it('ignores a reason on a row that is not revoked (schemas default it to 0)', () => {
    expect(parseRow({ serial: 'ab', not_after: T, revoked_at: null, reason: '0' })).toEqual({ certificate: { serial: 'ab', notAfter: T } });
  });

  it.each([
    [{ serial: null, not_after: T, revoked_at: null, reason: null }, 'serial is NULL'],
    [{ serial: 'xyz', not_after: T, revoked_at: null, reason: null }, 'serial "xyz" is not hex'],
    [{ serial: 'a'.repeat(41), not_after: T, revoked_at: null, reason: null }, 'longer than 20 octets'],
    [{ serial: 'ab', not_after: null, revoked_at: null, reason: null }, 'serial ab: not_after is NULL'],
    [{ serial: 'ab', not_after: 'soon', revoked_at: null, reason: null }, 'serial ab: not_after is not a time'],
    [{ serial: 'ab', not_after: T, revoked_at: Number.NaN, reason: null }, 'serial ab: revoked_at is not a time'],
  ])('refuses %j, naming why', (row, message) => {
    const r = parseRow(row);
    expect(r.certificate).toBeUndefined();
    expect(r.problem).toContain(message);
  });
});

describe('replicationLagMs', () => {
  const now = T;
  const s = (o: Partial<ReplicationSample>): ReplicationSample => ({
    inRecovery: true,
    now,
    replayedAt: now - 60_000,
    pendingBytes: 0,
    receiverRunning: true,
    ...o,
  });

  it('is 0 on a primary', () => {
    expect(replicationLagMs(s({ inRecovery: false, replayedAt: null, pendingBytes: null, receiverRunning: false }))).toBe(0);
  });

  it('is 0 on a replica that replayed all it received from a live stream, however old its last commit (an idle primary)', () => {
    expect(replicationLagMs(s({ replayedAt: now - 3_600_000 }))).toBe(0);
  });

  it('is the age of the last replayed commit while received WAL waits (replay paused or slow)', () => {
    expect(replicationLagMs(s({ pendingBytes: 1234 }))).toBe(60_000);
  });

  it('is the age of the last replayed commit when no WAL receiver runs (cut off from the primary, or an archive)', () => {
    expect(replicationLagMs(s({ receiverRunning: false }))).toBe(60_000);
    expect(replicationLagMs(s({ pendingBytes: null, receiverRunning: false }))).toBe(60_000);
  });

  it('is unknown (Infinity) on a replica that has replayed no commit and has WAL waiting', () => {
    expect(replicationLagMs(s({ replayedAt: null, pendingBytes: 10 }))).toBe(Infinity);
  });
});

describe('a database source in the signer report', () => {
  it('travels bucketed, an unknown lag as a day (JSON has no Infinity), and reads back', () => {
    const report: SignerReport = {
      kind: 'signer',
      pod: 'p',
      time: T,
      certificates: 1,
      due: 0,
      missing: 0,
      revoked: 0,
      sources: [
        { name: 'ns/pool sources[0].postgres', state: 'lagging', lagMs: Infinity, maxLagMs: 30_000, message: 'lags' },
        { name: 'x', state: 'read', lagMs: 37_000, maxLagMs: 30_000, certificates: 123_456 },
      ],
    };
    const q = quantizeReport(report);
    expect(q.sources).toEqual([
      { name: 'ns/pool sources[0].postgres', state: 'lagging', lagMs: lagBucketMs(Infinity), maxLagMs: 30_000, message: 'lags' },
      { name: 'x', state: 'read', lagMs: 20_000, maxLagMs: 30_000, certificates: 120_000 },
    ]);
    const back = readReports({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'r' }, data: { 'signer.p': JSON.stringify(q) } });
    expect(back.unreadable).toEqual([]);
    expect(back.signers[0]?.sources?.[0]).toMatchObject({ state: 'lagging', lagMs: 24 * 3_600_000 });
  });
});
