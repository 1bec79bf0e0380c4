// The operator's Prometheus metrics, on one registry per process so tests can run several
// managers side by side without clashing on the global registry.
import { Counter, Gauge, Histogram } from 'prom-client';
import { ScrapeRegistry } from './scraped-gauge.js';
import { registerDefaultMetrics } from './default-metrics.js';

export class OperatorMetrics {
  readonly registry = new ScrapeRegistry();
  readonly reconcileTotal = new Counter({
    name: 'ocsp_operator_reconcile_total',
    help: 'Reconciles by controller and result (success, error, requeue)',
    labelNames: ['controller', 'result'] as const,
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: 'ocsp_operator_reconcile_duration_seconds',
    help: 'Time spent in one reconcile',
    labelNames: ['controller'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30],
    registers: [this.registry],
  });
  readonly workqueueDepth = new Gauge({
    name: 'ocsp_operator_workqueue_depth',
    help: 'Keys waiting in the work queue',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  readonly workqueueAdds = new Counter({
    name: 'ocsp_operator_workqueue_adds_total',
    help: 'Keys added to the work queue',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  readonly workqueueRetries = new Counter({
    name: 'ocsp_operator_workqueue_retries_total',
    help: 'Keys re-queued with backoff after a failure',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  readonly informerRestarts = new Counter({
    name: 'ocsp_operator_informer_restarts_total',
    help: 'List/watch restarts by resource and reason class',
    labelNames: ['resource', 'reason'] as const,
    registers: [this.registry],
  });
  readonly isLeader = new Gauge({
    name: 'ocsp_operator_leader',
    help: '1 while this process holds the leader lease',
    registers: [this.registry],
  });

  constructor() {
    registerDefaultMetrics(this.registry); // standard process_* and nodejs_* names
  }
}
