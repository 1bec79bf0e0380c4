// The pod's metrics as the primary puts them together: sums of the workers' counters, the worst
// lag, and counters that never go down when a worker dies.
import { Counter, Gauge, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { PodMetrics } from '../../src/responder/pod-metrics.js';

/** A worker's registry: a request counter and a lag gauge that aggregates by max. */
function worker(requests: number, lagSeconds: number): Registry {
  const r = new Registry();
  new Counter({ name: 'requests_total', help: 'h', registers: [r] }).inc(requests);
  new Gauge({ name: 'lag_seconds', help: 'h', aggregator: 'max', registers: [r] }).set(lagSeconds);
  return r;
}

function value(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

describe('pod metrics', () => {
  it('combines workers by each metric’s aggregator, with the primary’s own', async () => {
    const pod = new PodMetrics(() => ({ wanted: 2, running: 2, ready: 2 }));
    pod.update(1, await worker(5, 0.2).getMetricsAsJSON());
    pod.update(2, await worker(7, 1.5).getMetricsAsJSON());
    const text = await pod.text();
    expect(value(text, 'requests_total')).toBe(12);
    expect(value(text, 'lag_seconds')).toBe(1.5);
    expect(value(text, 'ocsp_responder_workers{state="running"}')).toBe(2);
  });

  it('keeps what a dead worker counted, and forgets its gauges', async () => {
    const pod = new PodMetrics(() => ({ wanted: 2, running: 1, ready: 1 }));
    pod.update(1, await worker(5, 9).getMetricsAsJSON());
    pod.update(2, await worker(7, 1).getMetricsAsJSON());
    pod.retire(1);
    pod.restarts.inc();
    let text = await pod.text();
    expect(value(text, 'requests_total')).toBe(12);
    expect(value(text, 'lag_seconds')).toBe(1);
    // Its replacement starts from zero; twice retired, still counted once each.
    pod.update(3, await worker(2, 0).getMetricsAsJSON());
    pod.retire(2);
    text = await pod.text();
    expect(value(text, 'requests_total')).toBe(14);
    expect(value(text, 'ocsp_responder_worker_restarts_total')).toBe(1);
  });
});
