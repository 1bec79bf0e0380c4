import { describe, expect, it } from 'vitest';
import { podReadiness, type WorkerStatus } from '../../src/responder/readiness.js';

const NOW = 1_000_000;
const ok = (lagMs: number): WorkerStatus => ({ ready: true, lagMs, detached: false, detail: null, at: NOW - 100 });

describe("a pod's readiness from its workers' reports", () => {
  it('is ready when every worker is, with the worst lag', () => {
    expect(podReadiness([ok(20), ok(300)], NOW, 2_000)).toEqual({
      ready: true,
      lagMs: 300,
      detached: false,
      detail: null,
      workers: { wanted: 2, ready: 2 },
    });
  });

  it('is not ready while a worker lags, and says why', () => {
    const lagging: WorkerStatus = { ready: false, lagMs: 12_000, detached: false, detail: null, at: NOW };
    expect(podReadiness([ok(20), lagging], NOW, 2_000)).toMatchObject({
      ready: false,
      lagMs: 12_000,
      detail: 'worker 1 lags',
      workers: { ready: 1 },
    });
    const detached: WorkerStatus = { ready: false, lagMs: null, detached: true, detail: 'replica promoted', at: NOW };
    expect(podReadiness([detached, ok(20)], NOW, 2_000)).toMatchObject({
      ready: false,
      lagMs: null,
      detached: true,
      detail: 'replica promoted',
    });
  });

  it('is not ready while a worker is missing or silent; the lag is that of those that report', () => {
    expect(podReadiness([ok(20), undefined], NOW, 2_000)).toMatchObject({
      ready: false,
      lagMs: 20,
      detail: 'worker 1 is not running',
      workers: { wanted: 2, ready: 1 },
    });
    const silent = { ...ok(10), at: NOW - 5_000 };
    expect(podReadiness([silent, ok(20)], NOW, 2_000)).toMatchObject({
      ready: false,
      lagMs: 20,
      detail: 'worker 0 has not reported for 5000 ms',
    });
  });

  it('is not ready with no workers', () => {
    expect(podReadiness([], NOW, 2_000).ready).toBe(false);
  });
});
