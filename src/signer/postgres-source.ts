// A PostgreSQL certificate source as the signer uses it: each round reads the database (the lag of
// the server read first), and a read from a server lagging more than the source's
// maxReplicationLag is refused: the round signs nothing (a lagging replica shows revoked
// certificates as valid), says so in the log, in metrics and in the pod's report, and the next
// round tries again. An unreachable database or a failed read fails the round the same way; the
// store is untouched, so every response already signed is still served.
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CertificateInfo } from '../ca-db/index-txt.js';
import type { PostgresCertificateReader } from '../ca-db/postgres.js';
import type { SignerReport } from '../report/protocol.js';

export type SourceState = NonNullable<SignerReport['sources']>[number];

/** A round refused because a source could not be trusted or read: nothing was signed from it. */
export class SourceUnusableError extends Error {
  constructor(
    message: string,
    readonly state: SourceState,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'SourceUnusableError';
  }
}

class SourceMetrics {
  readonly lag: Gauge<'source'>;
  readonly reads: Counter<'source' | 'result'>;
  readonly certificates: Gauge<'source'>;
  readonly problems: Gauge<'source'>;
  readonly duration: Histogram<'source'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.lag = new Gauge({
      name: 'ocsp_signer_source_replication_lag_seconds',
      help: 'Replication lag of the database server a source was last read from (0 on a primary, +Inf when it cannot tell)',
      labelNames: ['source'],
      registers,
    });
    this.reads = new Counter({
      name: 'ocsp_signer_source_reads_total',
      help: 'Reads of a database source, by result: read, lagging (refused: nothing signed), failed',
      labelNames: ['source', 'result'],
      registers,
    });
    this.certificates = new Gauge({
      name: 'ocsp_signer_source_certificates',
      help: 'Certificates (rows) the last successful read of a source returned',
      labelNames: ['source'],
      registers,
    });
    this.problems = new Gauge({
      name: 'ocsp_signer_source_problem_rows',
      help: 'Rows of the last successful read that could not be used',
      labelNames: ['source'],
      registers,
    });
    this.duration = new Histogram({
      name: 'ocsp_signer_source_read_duration_seconds',
      help: 'One whole read of a source (all its pages)',
      labelNames: ['source'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    });
  }
}

export interface PostgresSourceOptions {
  reader: PostgresCertificateReader;
  /** The source as the user wrote it: `<namespace>/<pool> sources[2].postgres`, in every message. */
  name: string;
  maxLagMs: number;
  now?: () => number;
  registry?: Registry;
  log: Logger;
}

/**
 * A read is handed out again until this many times its own duration has passed since it began:
 * rounds that follow each other at once (a backlog being signed) would otherwise each read the
 * whole table (2.2 s at a million rows, and a change column does not narrow a read while the rows
 * are fresh) before signing for a quarter of a second. Reading then takes at most about a
 * quarter of the signer's time, and a change waits at most that many reads' time and a round.
 * A quick read (a small table, a read for changes) is never handed out again: it costs little,
 * and every round then sees the database as it is.
 */
const READ_SPACING = 4;
const QUICK_READ_MS = 250;

export class PostgresSource {
  private readonly metrics: SourceMetrics | undefined;
  private last: SourceState;
  private lastRead: { startedAt: number; durationMs: number; certificates: readonly CertificateInfo[] } | undefined;

  constructor(private readonly o: PostgresSourceOptions) {
    this.metrics = o.registry ? new SourceMetrics(o.registry) : undefined;
    for (const result of ['read', 'lagging', 'failed']) this.metrics?.reads.inc({ source: o.name, result }, 0);
    this.last = { name: o.name, state: 'pending', maxLagMs: o.maxLagMs };
  }

  /** What the last read found, for the pod's report. */
  get state(): SourceState {
    return this.last;
  }

  /**
   * The source's certificates (the same array as last time when nothing changed), or a
   * SourceUnusableError naming the source and why nothing may be signed from it.
   */
  async certificates(): Promise<readonly CertificateInfo[]> {
    const { name, maxLagMs } = this.o;
    const now = this.o.now ?? Date.now;
    const startedAt = now();
    const last = this.lastRead;
    if (last && last.durationMs >= QUICK_READ_MS && startedAt - last.startedAt < READ_SPACING * last.durationMs) return last.certificates;
    const t0 = performance.now();
    let r;
    try {
      r = await this.o.reader.read({ maxLagMs });
    } catch (e) {
      this.metrics?.reads.inc({ source: name, result: 'failed' });
      const message = `${name}: ${e instanceof Error ? e.message : String(e)}; nothing signed this round, responses already signed are still served`;
      this.last = { name, state: 'failed', maxLagMs, message: message.slice(0, 512) };
      this.o.log.error({ source: name, err: e }, 'certificate source unreadable');
      throw new SourceUnusableError(message, this.last, { cause: e });
    } finally {
      this.metrics?.duration.observe({ source: name }, (performance.now() - t0) / 1000);
    }
    this.metrics?.lag.set({ source: name }, r.lagMs / 1000);
    if (r.kind === 'lagging') {
      this.metrics?.reads.inc({ source: name, result: 'lagging' });
      const lag = Number.isFinite(r.lagMs) ? `${Math.round(r.lagMs / 1000)}s` : 'unknown (no transaction replayed yet)';
      const message = `${name}: the database server lags its primary by ${lag}, more than maxReplicationLag ${Math.round(maxLagMs / 1000)}s; nothing signed from it until it catches up`;
      this.last = { name, state: 'lagging', maxLagMs, lagMs: r.lagMs, message };
      this.o.log.warn(
        {
          source: name,
          lagSeconds: r.lagMs / 1000,
          maxLagSeconds: maxLagMs / 1000,
          pendingBytes: r.sample.pendingBytes,
          receiverRunning: r.sample.receiverRunning,
        },
        'certificate source lags more than its maximum: refusing this read',
      );
      throw new SourceUnusableError(message, this.last);
    }
    this.metrics?.reads.inc({ source: name, result: 'read' });
    this.metrics?.certificates.set({ source: name }, r.certificates.length);
    this.metrics?.problems.set({ source: name }, r.problems.length);
    // A bad row is named (the first few) and skipped; the rest of the CA is still signed.
    for (const p of r.problems.slice(0, 5))
      this.o.log.warn({ source: name, row: p.line, problem: p.message }, 'certificate source row unusable');
    const message = r.problems.length
      ? `${name}: ${r.problems.length} rows unusable (skipped), first: ${r.problems[0]!.message}`.slice(0, 512)
      : undefined;
    // Said at info when the source's state or its certificates change (back from lagging, new
    // problems, rows added or revoked), else at debug: rounds run every few seconds.
    const news = this.last.state !== 'read' || this.last.message !== message || r.changed > 0;
    this.o.log[news ? 'info' : 'debug'](
      {
        source: name,
        certificates: r.certificates.length,
        rows: r.rows,
        pages: r.pages,
        incremental: r.incremental,
        changed: r.changed,
        problems: r.problems.length,
        lagSeconds: r.lagMs / 1000,
        durationMs: Math.round(r.durationMs),
      },
      'certificate source read',
    );
    this.last = {
      name,
      state: 'read',
      maxLagMs,
      lagMs: r.lagMs,
      certificates: r.certificates.length,
      problems: r.problems.length,
      ...(message ? { message } : {}),
    };
    this.lastRead = { startedAt, durationMs: now() - startedAt, certificates: r.certificates };
    return r.certificates;
  }

  close(): Promise<void> {
    return this.o.reader.close();
  }
}

/** Certificates of several sources as one list: one entry per serial, a revocation never lost in the merge. */
export function mergeCertificates(lists: ReadonlyArray<readonly CertificateInfo[]>): CertificateInfo[] {
  const bySerial = new Map<string, CertificateInfo>();
  for (const l of lists) {
    for (const c of l) {
      const prev = bySerial.get(c.serial);
      if (!prev || (c.revoked && !prev.revoked)) bySerial.set(c.serial, c);
    }
  }
  return [...bySerial.values()];
}
