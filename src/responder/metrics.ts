// The responder's metrics, in a Registry of its own so that several responders (tests, or a pod
// running other components) never collide on metric names. The per-request ones are lean slots
// bound once per (method, result) (see lean-metrics.ts); the rest are ordinary prom-client gauges.
// Each metric names how a pod of workers combines it (see pod-metrics.ts): counts add up, the
// store lag is the worst worker's, and the pod is ready only if every worker is.
import { Gauge, Registry } from 'prom-client';
import { registerDefaultMetrics } from '../runtime/default-metrics.js';
import type { StoreLag } from '../store/types.js';
import type { ConnectionCounts, ShedReason } from './connection-guard.js';
import { LeanCounter, LeanHistogram, type CounterSlot, type HistogramSlot } from './lean-metrics.js';

export type Method = 'GET' | 'POST' | 'other';
export type Result =
  'ok' | 'not_modified' | 'unauthorized' | 'lagging' | 'expired' | 'unavailable' | 'malformed' | 'too_large' | 'bad_method' | 'error';

const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2];
const MAX_AGE_BUCKETS = [60, 600, 3600, 4 * 3600, 12 * 3600, 86400, 2 * 86400, 4 * 86400, 7 * 86400, 10 * 86400];

export class ResponderMetrics {
  readonly registry = new Registry();
  private readonly requests = new LeanCounter(
    'ocsp_responder_requests_total',
    'OCSP requests by method and result',
    ['method', 'result'],
    this.registry,
  );
  private readonly latency = new LeanHistogram(
    'ocsp_responder_request_duration_seconds',
    'Time from request start to response written',
    ['method'],
    LATENCY_BUCKETS,
    this.registry,
  );
  /** Cache-Control max-age handed out with successful responses. */
  readonly maxAge: HistogramSlot = new LeanHistogram(
    'ocsp_responder_max_age_seconds',
    'Cache-Control max-age handed out with successful responses',
    [],
    MAX_AGE_BUCKETS,
    this.registry,
  ).slot();
  readonly unknownSerials: CounterSlot = new LeanCounter(
    'ocsp_responder_unknown_serial_total',
    'Requests for serials (or issuers) the store does not have',
    [],
    this.registry,
  ).slot();
  private readonly lagSeconds = new Gauge({
    name: 'ocsp_responder_store_lag_seconds',
    help: 'Age of the newest freshness proof of the store (-1 when unknown)',
    aggregator: 'max',
    registers: [this.registry],
  });
  private readonly detached = new Gauge({
    name: 'ocsp_responder_store_detached',
    help: '1 when the store is not following its source',
    aggregator: 'max',
    registers: [this.registry],
  });
  private readonly ready = new Gauge({
    name: 'ocsp_responder_ready',
    help: "1 when this process's store does not lag (the pod's /readyz also needs every worker running)",
    aggregator: 'min',
    registers: [this.registry],
  });
  private readonly bound = new Map<string, { requests: CounterSlot; latency: HistogramSlot }>();
  private readonly shedCounter = new LeanCounter(
    'ocsp_responder_connections_shed_total',
    'Connections the responder closed to bound what clients hold: timeout (no complete request within the headers or request timeout), ' +
      'evicted (the oldest connection without a request, closed at the connection cap to admit a new one), refused (at the cap with none to evict)',
    ['reason'],
    this.registry,
  );
  private readonly shedSlots: Record<ShedReason, CounterSlot> = {
    timeout: this.shedCounter.slot('timeout'),
    evicted: this.shedCounter.slot('evicted'),
    refused: this.shedCounter.slot('refused'),
  };

  constructor() {
    registerDefaultMetrics(this.registry);
  }

  observe(method: Method, result: Result, seconds: number): void {
    const k = method + result;
    let b = this.bound.get(k);
    if (b === undefined) {
      b = { requests: this.requests.slot(method, result), latency: this.latency.slot(method) };
      this.bound.set(k, b);
    }
    b.requests.inc();
    b.latency.observe(seconds);
  }

  shed(reason: ShedReason): void {
    this.shedSlots[reason].inc();
  }

  /** Open connections and the cap, read when scraped. */
  watchConnections(c: ConnectionCounts): void {
    new Gauge({
      name: 'ocsp_responder_connections_open',
      help: 'Client connections open now',
      registers: [this.registry],
      collect() {
        this.set(c.open);
      },
    });
    new Gauge({
      name: 'ocsp_responder_connections_max',
      help: 'Client connections held at most: --max-connections per process, summed over the workers of a pod',
      registers: [this.registry],
      collect() {
        this.set(c.max);
      },
    });
  }

  storeLag(lag: StoreLag, ready: boolean): void {
    this.lagSeconds.set(Number.isFinite(lag.lagMs) ? lag.lagMs / 1000 : -1);
    this.detached.set(lag.detached ? 1 : 0);
    this.ready.set(ready ? 1 : 0);
  }
}
