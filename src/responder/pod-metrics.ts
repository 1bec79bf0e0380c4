// A pod's metrics, put together in the primary: every worker's registry combined metric by metric
// with the aggregator each metric names (prom-client's AggregatorRegistry.aggregate: request
// counts summed, store lag maxed, readiness min'ed), plus the primary's own (workers, restarts).
//
// Counters must never go down, or Prometheus reads a reset and rate() jumps by the whole total. A
// worker's counters die with it, so the primary keeps the counters and histograms each worker last
// reported, and when a worker exits adds them to a running total of the retired ones. Requests a
// worker served after its last report are lost with it: the sum undercounts, but never decreases.
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import type { MetricsSnapshot } from './pod-protocol.js';

export class PodMetrics {
  /** The primary's own metrics. */
  readonly registry = new Registry();
  readonly restarts = new Counter({
    name: 'ocsp_responder_worker_restarts_total',
    help: 'Workers started again after one died',
    registers: [this.registry],
  });
  private readonly last = new Map<number, MetricsSnapshot>();
  private retired: MetricsSnapshot = [];
  /** Retiring is asynchronous; text() waits for it so that no scrape sees a worker in neither place. */
  private retiring: Promise<void> = Promise.resolve();

  constructor(workers: () => { wanted: number; running: number; ready: number }) {
    new Gauge({
      name: 'ocsp_responder_workers',
      help: 'Worker processes of this pod: wanted (from --workers or the CPU limit), running, and ready',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const w = workers();
        this.set({ state: 'wanted' }, w.wanted);
        this.set({ state: 'running' }, w.running);
        this.set({ state: 'ready' }, w.ready);
      },
    });
  }

  /** A worker's latest metrics; they stand in for it when it does not answer a later round. */
  update(workerId: number, snapshot: MetricsSnapshot): void {
    this.last.set(workerId, snapshot);
  }

  /** The worker exited: fold what it last reported of its counters into the retired total. */
  retire(workerId: number): void {
    const s = this.last.get(workerId);
    this.last.delete(workerId);
    if (s === undefined) return;
    // The typings declare `type` a numeric enum; at run time it is the exposition type's name.
    const monotonic = s.filter((m) => ['counter', 'histogram'].includes(m.type as unknown as string));
    this.retiring = this.retiring.then(async () => {
      this.retired = await AggregatorRegistry.aggregate([this.retired, monotonic]).getMetricsAsJSON();
    });
  }

  async text(): Promise<string> {
    await this.retiring;
    const own = await this.registry.getMetricsAsJSON();
    return AggregatorRegistry.aggregate([...this.last.values(), this.retired, own]).metrics();
  }
}
