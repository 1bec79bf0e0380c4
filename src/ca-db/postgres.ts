// A CA's own PostgreSQL database as a certificate source. The signers read it themselves, round
// after round, instead of through the pool's index ConfigMap (1 MiB, about 10,000 certificates,
// refreshed by the kubelet about once a minute). A read is one REPEATABLE READ snapshot, taken in
// pages by keyset pagination on the serial (memory per page is bounded by the page size), after
// measuring how far the server lags its primary: a replica behind its primary would have a signer
// sign `good` for certificates the primary already shows revoked (a CA's OCSP served stale data
// when its database replicas stopped replicating; this is that incident one layer down).
//
// Default table shape (any other through `table`/`columns` or a whole `query`):
//   serial      text         the serial in hex (case, leading zeros and colons do not matter)
//   not_after   timestamptz  expiry (a `timestamp` without zone is read as UTC)
//   revoked_at  timestamptz  NULL while the certificate is not revoked
//   reason      text         NULL, an RFC 5280 CRLReason name (any case) or its number
//
// With a change column (`changedAt`: a timestamptz the CA sets on every insert and update, indexed),
// a read after the first asks only for the rows changed since the previous read began, less
// CHANGE_OVERLAP_MS (a transaction stamps its rows with its start time and may commit after a read
// began; a replica shows commits late by its lag), and a full read still runs every
// `fullReadEveryMs` to catch what no change stamp says: deleted rows, a transaction longer than
// the overlap, a stamp the CA forgot. Unchanged results come back as the very same array, which is
// how the signer knows it has nothing new to plan.
import pg from 'pg';
import { CRL_REASON_BY_CODE } from '../ocsp/oids.js';
import { canonicalSerial } from '../store/keys.js';
import type { CertificateInfo, IndexProblem } from './index-txt.js';

export interface PostgresColumns {
  serial: string;
  notAfter: string;
  revokedAt: string;
  reason: string;
}

export const POSTGRES_DEFAULT_TABLE = 'certificates';
export const POSTGRES_DEFAULT_COLUMNS: PostgresColumns = {
  serial: 'serial',
  notAfter: 'not_after',
  revokedAt: 'revoked_at',
  reason: 'reason',
};
export const POSTGRES_DEFAULT_PAGE_SIZE = 5_000;

/** Where the rows come from: a table (with its column names), or a query that returns serial, not_after, revoked_at, reason. */
export type PostgresRowSource = { table?: string; columns?: Partial<PostgresColumns> } | { query: string };

const quoteIdent = (s: string): string => `"${s.replace(/"/g, '""')}"`;
/** `schema.table` or `table`, each part quoted as written. */
const quoteTable = (s: string): string => s.split('.').map(quoteIdent).join('.');

/**
 * The rows as the four columns every source yields (and the change column, when there is one),
 * before pagination. A user's query returns the change column under its own name.
 */
export function innerQuery(src: PostgresRowSource, changedAt?: string): string {
  if ('query' in src) {
    const q = src.query.replace(/[\s;]+$/, '').trim();
    if (q === '') throw new Error('postgres source: the query is empty');
    return q;
  }
  const c = { ...POSTGRES_DEFAULT_COLUMNS, ...src.columns };
  const change = changedAt !== undefined ? `, ${quoteIdent(changedAt)}` : '';
  return `SELECT ${quoteIdent(c.serial)} AS serial, ${quoteIdent(c.notAfter)} AS not_after, ${quoteIdent(c.revokedAt)} AS revoked_at, ${quoteIdent(c.reason)} AS reason${change} FROM ${quoteTable(src.table ?? POSTGRES_DEFAULT_TABLE)}`;
}

/**
 * One page: the rows after `$1` in serial order, at most `$2`; with `changedAt`, only those whose
 * change column is at or after `$3` (epoch ms). Times come back as epoch milliseconds (float8: a
 * JS number, whatever the column's time type); the predicates and the order are on the source's
 * own columns, so a plain table's indexes serve them.
 */
export function pageQuery(src: PostgresRowSource, changedAt?: string): string {
  return [
    'SELECT source.serial::text AS serial,',
    '  (extract(epoch FROM source.not_after) * 1000)::float8 AS not_after,',
    '  (extract(epoch FROM source.revoked_at) * 1000)::float8 AS revoked_at,',
    '  source.reason::text AS reason',
    `FROM (${innerQuery(src, changedAt)}) AS source`,
    changedAt === undefined
      ? 'WHERE source.serial > $1'
      : `WHERE source.serial > $1 AND source.${quoteIdent(changedAt)} >= to_timestamp($3::float8 / 1000)`,
    'ORDER BY source.serial',
    'LIMIT $2',
  ].join('\n');
}

/** How far before the previous read's start a read for changes looks (see the header). */
export const CHANGE_OVERLAP_MS = 5 * 60_000;
export const DEFAULT_FULL_READ_EVERY_MS = 10 * 60_000;

export interface PostgresRow {
  serial: unknown;
  not_after: unknown;
  revoked_at: unknown;
  reason: unknown;
}

/** RFC 5280 CRLReason names lowercased (openssl's spellings are the same), and their numbers. */
const REASONS = new Map<string, string>(
  CRL_REASON_BY_CODE.flatMap((name, code) =>
    name ? [[name.toLowerCase(), name] as [string, string], [String(code), name] as [string, string]] : [],
  ),
);

/**
 * One row to a certificate, or why it cannot be one. A revoked row with a reason we do not know is
 * still revoked (without a reason), named as a problem: a revocation is never dropped for its
 * reason's spelling. A reason on a row that is not revoked is ignored (schemas default it to 0).
 */
export function parseRow(row: PostgresRow): { certificate?: CertificateInfo; problem?: string } {
  if (typeof row.serial !== 'string' || row.serial.trim() === '')
    return { problem: `serial is ${row.serial === null ? 'NULL' : JSON.stringify(row.serial)}` };
  let serial: string;
  try {
    serial = canonicalSerial(row.serial.trim());
  } catch {
    return { problem: `serial ${JSON.stringify(row.serial)} is not hex` };
  }
  if (serial.length > 40) return { problem: `serial ${row.serial} is longer than 20 octets (RFC 5280)` };
  if (typeof row.not_after !== 'number' || !Number.isFinite(row.not_after))
    return { problem: `serial ${serial}: not_after is ${row.not_after === null ? 'NULL' : 'not a time'}` };
  const notAfter = Math.floor(row.not_after);
  if (row.revoked_at === null || row.revoked_at === undefined) return { certificate: { serial, notAfter } };
  if (typeof row.revoked_at !== 'number' || !Number.isFinite(row.revoked_at))
    return { problem: `serial ${serial}: revoked_at is not a time` };
  const time = Math.floor(row.revoked_at);
  if (row.reason === null || row.reason === undefined || row.reason === '') return { certificate: { serial, notAfter, revoked: { time } } };
  const reason = typeof row.reason === 'string' ? REASONS.get(row.reason.trim().toLowerCase()) : undefined;
  if (!reason)
    return {
      certificate: { serial, notAfter, revoked: { time } },
      problem: `serial ${serial}: unknown revocation reason ${JSON.stringify(row.reason)}; signed as revoked without a reason`,
    };
  return { certificate: { serial, notAfter, revoked: { time, reason } } };
}

/** What the server says about its replication, as LAG_QUERY returns it. */
export interface ReplicationSample {
  inRecovery: boolean;
  /** the server's clock, epoch ms */
  now: number;
  /** commit time (on the primary) of the last transaction replayed here; null before the first */
  replayedAt: number | null;
  /** WAL received but not yet replayed, in bytes; null when nothing was ever streamed */
  pendingBytes: number | null;
  /** a WAL receiver process runs (streaming from a primary, or trying to) */
  receiverRunning: boolean;
}

export const LAG_QUERY = `SELECT pg_is_in_recovery() AS in_recovery,
  (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now,
  (extract(epoch FROM pg_last_xact_replay_timestamp()) * 1000)::float8 AS replayed_at,
  pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::float8 AS pending_bytes,
  EXISTS (SELECT 1 FROM pg_stat_wal_receiver) AS receiver_running`;

/**
 * How stale what this server shows may be, in ms: 0 on a primary; on a replica, the age of the
 * last replayed commit while WAL waits to be replayed. A replica that has replayed all it received
 * from a live stream is current, however old its last commit: an idle primary commits nothing, and
 * `now() - pg_last_xact_replay_timestamp()` alone would grow and refuse a healthy replica. One whose
 * WAL receiver is not running (cut off from its primary, or replaying an archive) is as stale as
 * its last commit. Infinity when it cannot tell (a replica that has replayed no commit yet).
 */
export function replicationLagMs(s: ReplicationSample): number {
  if (!s.inRecovery) return 0;
  const sinceLastCommit = s.replayedAt === null ? Infinity : Math.max(0, s.now - s.replayedAt);
  if (s.pendingBytes !== null && s.pendingBytes > 0) return sinceLastCommit;
  if (s.pendingBytes !== null && s.receiverRunning) return 0;
  return sinceLastCommit;
}

export interface PostgresReaderOptions {
  /** A libpq-style URL: postgres://user:password@host:port/db?sslmode=... */
  url: string;
  source: PostgresRowSource;
  pageSize?: number;
  /** connecting and each statement (default 30 s) */
  timeoutMs?: number;
  applicationName?: string;
  /** The change column: reads after the first ask only for changed rows (see the header). */
  changedAt?: string;
  /** With changedAt: a full read at least this often (default 10 minutes). */
  fullReadEveryMs?: number;
}

export type PostgresRead =
  | { kind: 'lagging'; lagMs: number; sample: ReplicationSample }
  | {
      kind: 'read';
      lagMs: number;
      sample: ReplicationSample;
      /** every certificate: the very same array as the previous read's when nothing changed */
      certificates: readonly CertificateInfo[];
      /** rows that could not be read (the last full read's, and this read's), numbered from 1 in serial order */
      problems: IndexProblem[];
      /** only rows changed since the previous read were asked for */
      incremental: boolean;
      /** certificates new or different from the previous read's (a full read also counts removed ones) */
      changed: number;
      rows: number;
      pages: number;
      durationMs: number;
    };

function sameCertificate(a: CertificateInfo, b: CertificateInfo): boolean {
  return a.notAfter === b.notAfter && a.revoked?.time === b.revoked?.time && a.revoked?.reason === b.revoked?.reason;
}

/** `postgres://host:port/db` of a URL, without its credentials or options: for messages. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return 'an unparseable URL';
  }
}

/** The pause before a second measure of a lag that may be one write's replay (read()). */
const SECOND_LOOK_MS = 250;

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/**
 * Reads the certificates of one PostgreSQL source: a connection kept between reads (one: a read is
 * one snapshot on one server), replaced after an error.
 */
export class PostgresCertificateReader {
  private readonly pool: pg.Pool;
  private readonly sql: string;
  private readonly changesSql: string | undefined;
  private readonly pageSize: number;
  /** What the reads so far found, by serial; the list handed out, until a change. */
  private known = new Map<string, CertificateInfo>();
  private list: readonly CertificateInfo[] = [];
  private fullProblems: IndexProblem[] = [];
  /** The server's clock when the last full read began (NaN: none yet), and when the last read began. */
  private lastFullAt = NaN;
  private lastReadAt = NaN;
  /** The last error of an idle connection (the server went away between reads): said with the next read's error. */
  private idleError: Error | undefined;

  constructor(private readonly o: PostgresReaderOptions) {
    this.sql = pageQuery(o.source);
    this.changesSql = o.changedAt !== undefined ? pageQuery(o.source, o.changedAt) : undefined;
    this.pageSize = o.pageSize ?? POSTGRES_DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(this.pageSize) || this.pageSize < 1)
      throw new Error(`postgres source: page size must be a positive integer, got ${this.pageSize}`);
    const timeout = o.timeoutMs ?? 30_000;
    this.pool = new pg.Pool({
      connectionString: o.url,
      max: 1,
      idleTimeoutMillis: 0,
      connectionTimeoutMillis: timeout,
      statement_timeout: timeout,
      query_timeout: timeout + 1_000,
      application_name: o.applicationName ?? 'ocsp-signer',
    });
    // An idle connection that breaks must not take the process down: the next read reconnects.
    this.pool.on('error', (e) => (this.idleError = e));
  }

  /** The server's replication state and lag, outside any read. */
  async lag(): Promise<{ lagMs: number; sample: ReplicationSample }> {
    const r = await this.pool.query(LAG_QUERY);
    return this.toLag(r.rows[0] as Record<string, unknown>);
  }

  /**
   * One read: the lag first, in the snapshot the pages are read from; when it exceeds `maxLagMs`
   * no page is read (nothing from this server may be signed now).
   */
  async read(o: { maxLagMs?: number } = {}): Promise<PostgresRead> {
    const started = performance.now();
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw this.wrap(e, 'cannot connect');
    }
    this.idleError = undefined;
    let broken: Error | undefined;
    try {
      // REPEATABLE READ: every page sees the snapshot the lag was measured in (allowed on a hot standby).
      let lagMs = 0;
      let sample: ReplicationSample | undefined;
      for (let attempt = 0; ; attempt++) {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        ({ lagMs, sample } = this.toLag((await client.query(LAG_QUERY)).rows[0] as Record<string, unknown>));
        if (o.maxLagMs === undefined || lagMs <= o.maxLagMs) break;
        await client.query('ROLLBACK');
        // The first write after a long idle spell shows, for the few ms it waits to be replayed, a
        // lag as old as the commit before it: look once more before refusing the read.
        if (attempt > 0 || !sample.pendingBytes) return { kind: 'lagging', lagMs, sample };
        await new Promise((r) => setTimeout(r, SECOND_LOOK_MS));
      }
      const startedAt = sample.now;
      const full =
        this.changesSql === undefined ||
        Number.isNaN(this.lastFullAt) ||
        startedAt - this.lastFullAt >= (this.o.fullReadEveryMs ?? DEFAULT_FULL_READ_EVERY_MS);
      const since = this.lastReadAt - CHANGE_OVERLAP_MS;
      const certificates: CertificateInfo[] = [];
      const problems: IndexProblem[] = [];
      let after = '';
      let rows = 0;
      let pages = 0;
      for (;;) {
        const page = await client.query<PostgresRow>(
          full ? { text: this.sql, values: [after, this.pageSize] } : { text: this.changesSql, values: [after, this.pageSize, since] },
        );
        pages++;
        for (const row of page.rows) {
          rows++;
          const r = parseRow(row);
          if (r.certificate) certificates.push(r.certificate);
          if (r.problem) problems.push({ line: rows, message: r.problem });
        }
        if (page.rows.length < this.pageSize) break;
        const last = page.rows[page.rows.length - 1]!.serial;
        if (typeof last !== 'string') throw new Error('a page ended on a row without a serial: cannot page on from it');
        after = last;
      }
      await client.query('COMMIT');
      const changed = full ? this.replaceAll(certificates) : this.update(certificates);
      if (full) {
        this.fullProblems = problems;
        this.lastFullAt = startedAt;
      }
      this.lastReadAt = startedAt;
      return {
        kind: 'read',
        lagMs,
        sample,
        certificates: this.list,
        problems: full
          ? problems
          : [...this.fullProblems, ...problems.filter((p) => !this.fullProblems.some((f) => f.message === p.message))],
        incremental: !full,
        changed,
        rows,
        pages,
        durationMs: performance.now() - started,
      };
    } catch (e) {
      broken = e instanceof Error ? e : new Error(String(e));
      throw this.wrap(e, 'cannot read');
    } finally {
      // After an error the connection's state is unknown: close it, the next read opens another.
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /** A full read's certificates replace what was known; the list keeps its identity if none differs. */
  private replaceAll(certificates: CertificateInfo[]): number {
    const next = new Map<string, CertificateInfo>();
    let changed = 0;
    for (const c of certificates) {
      next.set(c.serial, c);
      const prev = this.known.get(c.serial);
      if (!prev || !sameCertificate(prev, c)) changed++;
    }
    for (const serial of this.known.keys()) if (!next.has(serial)) changed++;
    this.known = next;
    if (changed > 0) this.list = certificates;
    return changed;
  }

  /** Changed rows over what was known; a new list only when one of them differs. */
  private update(certificates: CertificateInfo[]): number {
    let changed = 0;
    for (const c of certificates) {
      const prev = this.known.get(c.serial);
      if (prev && sameCertificate(prev, c)) continue;
      this.known.set(c.serial, c);
      changed++;
    }
    if (changed > 0) this.list = [...this.known.values()];
    return changed;
  }

  private toLag(row: Record<string, unknown>): { lagMs: number; sample: ReplicationSample } {
    const sample: ReplicationSample = {
      inRecovery: row.in_recovery === true,
      now: num(row.now) ?? Date.now(),
      replayedAt: num(row.replayed_at),
      pendingBytes: num(row.pending_bytes),
      receiverRunning: row.receiver_running === true,
    };
    return { lagMs: replicationLagMs(sample), sample };
  }

  private wrap(e: unknown, what: string): Error {
    const msg = e instanceof Error ? e.message : String(e);
    const idle = this.idleError && this.idleError.message !== msg ? ` (the previous connection failed: ${this.idleError.message})` : '';
    return new Error(`${what} ${describeUrl(this.o.url)}: ${msg}${idle}`, { cause: e });
  }
}
