// Staple metrics: how long each staple has left (computed at scrape time from the clock, so it
// is right between reconciles), how fetches go, and how often the controller writes. Per staple
// (removed with `forget` when it is deleted): its conditions (runtime/object-metrics.ts), the
// certificate's notAfter, the served response's nextUpdate and the published staple's usable-until
// as Unix timestamps (the ecosystem's shape for expiry: alerts can say "expires at"), and refresh
// failures by reason. Never per request: the series count per staple is bounded (README).
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Clock } from '../base/clock.js';
import { ObjectConditionMetrics, type ObjectCondition } from '../runtime/object-metrics.js';
import { ScrapedGauge, seriesOf } from '../runtime/scraped-gauge.js';
import { splitKey } from '../kube/types.js';

/** What a reconcile last reported for one staple; times are epoch milliseconds. */
export interface StapleObservation {
  conditions: readonly ObjectCondition[];
  notAfter?: number;
  nextUpdate?: number;
}

function stapleLabels(key: string): { namespace: string; name: string } {
  const { namespace = '', name } = splitKey(key);
  return { namespace, name };
}

export class StapleMetrics {
  private readonly usableUntil = new Map<string, number>();
  readonly fetchDuration: Histogram<'result'>;
  readonly fetchFailures: Counter<'reason'>;
  readonly secretWrites: Counter<'kind'>;
  private readonly conditions: ObjectConditionMetrics;
  private readonly times = new Map<string, { notAfter?: number; nextUpdate?: number }>();
  private readonly refreshFailures: Counter<'namespace' | 'name' | 'reason'>;
  /** The reasons each staple has a failure series for, so deletion can remove exactly those. */
  private readonly failureReasons = new Map<string, Set<string>>();

  constructor(registry: Registry, clock: Clock) {
    const usableUntil = this.usableUntil;
    const times = this.times;
    this.conditions = new ObjectConditionMetrics(registry, 'ocsp_operator_staple', 'OcspStaple');
    const perStaple = (name: string, help: string, keys: () => Iterable<string>, value: (key: string) => number | undefined) =>
      new ScrapedGauge({
        name,
        help,
        labelNames: ['namespace', 'name'] as const,
        registry,
        series: () => seriesOf(keys(), stapleLabels, value),
      });
    const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);
    perStaple(
      'ocsp_operator_staple_not_after_timestamp_seconds',
      "The certificate's notAfter (Unix seconds)",
      () => times.keys(),
      (k) => seconds(times.get(k)?.notAfter),
    );
    perStaple(
      'ocsp_operator_staple_next_update_timestamp_seconds',
      "The served OCSP response's nextUpdate (Unix seconds)",
      () => times.keys(),
      (k) => seconds(times.get(k)?.nextUpdate),
    );
    perStaple(
      'ocsp_operator_staple_usable_until_timestamp_seconds',
      'When the published staple must be removed (Unix seconds): nextUpdate, or its signer or certificate expiry if earlier',
      () => usableUntil.keys(),
      (k) => seconds(usableUntil.get(k)),
    );
    this.refreshFailures = new Counter({
      name: 'ocsp_operator_staple_refresh_failures_total',
      help: 'Failed refreshes of one OcspStaple by reason (since this operator process started leading)',
      labelNames: ['namespace', 'name', 'reason'] as const,
      registers: [registry],
    });
    perStaple(
      'ocsp_operator_staple_expiry_seconds',
      'Seconds until the published staple must be removed (nextUpdate, or its signer or certificate expiry if earlier); negative = already past',
      () => usableUntil.keys(),
      (k) => {
        const until = usableUntil.get(k);
        return until === undefined ? undefined : (until - clock.now()) / 1000;
      },
    );
    this.fetchDuration = new Histogram({
      name: 'ocsp_operator_staple_fetch_duration_seconds',
      help: 'OCSP fetches from CA responders, by result (ok or the failure reason)',
      labelNames: ['result'] as const,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    this.fetchFailures = new Counter({
      name: 'ocsp_operator_staple_failures_total',
      help: 'Failed staple refreshes by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    });
    this.secretWrites = new Counter({
      name: 'ocsp_operator_staple_secret_writes_total',
      help: 'Writes of staple Secrets by kind (stapled: with a staple; unstapled: certificate and key only)',
      labelNames: ['kind'] as const,
      registers: [registry],
    });
  }

  /** A reconcile's outcome for one staple (after its status was written). */
  observe(key: string, o: StapleObservation): void {
    this.conditions.set(key, o.conditions);
    this.times.set(key, { notAfter: o.notAfter, nextUpdate: o.nextUpdate });
  }

  /** A failed refresh of one staple: the global counter by reason and the staple's own. */
  refreshFailed(key: string, reason: string): void {
    this.fetchFailures.inc({ reason });
    this.refreshFailures.inc({ ...stapleLabels(key), reason });
    let reasons = this.failureReasons.get(key);
    if (!reasons) this.failureReasons.set(key, (reasons = new Set()));
    reasons.add(reason);
  }

  /** The staple is gone: all its series go too. */
  forget(key: string): void {
    this.usableUntil.delete(key);
    this.times.delete(key);
    this.conditions.forget(key);
    for (const reason of this.failureReasons.get(key) ?? []) this.refreshFailures.remove({ ...stapleLabels(key), reason });
    this.failureReasons.delete(key);
  }

  setUsableUntil(key: string, until: number | undefined): void {
    if (until === undefined) this.usableUntil.delete(key);
    else this.usableUntil.set(key, until);
  }
}
