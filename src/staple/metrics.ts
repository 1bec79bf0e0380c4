// Staple metrics: how long each staple has left (computed at scrape time from the clock, so it
// is right between reconciles), how fetches go, and how often the controller writes.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Clock } from '../base/clock.js';

export class StapleMetrics {
  private readonly usableUntil = new Map<string, number>();
  readonly fetchDuration: Histogram<'result'>;
  readonly fetchFailures: Counter<'reason'>;
  readonly secretWrites: Counter<'kind'>;

  constructor(registry: Registry, clock: Clock) {
    const usableUntil = this.usableUntil;
    new Gauge({
      name: 'ocsp_operator_staple_expiry_seconds',
      help: 'Seconds until the published staple must be removed (nextUpdate, or its signer or certificate expiry if earlier); negative = already past',
      labelNames: ['namespace', 'name'] as const,
      registers: [registry],
      collect() {
        this.reset();
        const now = clock.now();
        for (const [key, until] of usableUntil) {
          const [namespace = '', name = ''] = key.split('/');
          this.set({ namespace, name }, (until - now) / 1000);
        }
      },
    });
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

  setUsableUntil(key: string, until: number | undefined): void {
    if (until === undefined) this.usableUntil.delete(key);
    else this.usableUntil.set(key, until);
  }
}
