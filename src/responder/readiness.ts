// What /readyz says. A responder process on its own is ready when its store does not lag. A pod
// of workers sharing one port is ready only when every one of them is: the port hands each new
// connection to any worker, so one lagging (or dead, or hung) worker would answer a share of the
// pod's clients from a stale store while the pod stayed in rotation.
import type { StoreLag } from '../store/types.js';

export interface Readiness {
  ready: boolean;
  /** The largest store lag among the workers that report (ms), null when unknown. */
  lagMs: number | null;
  detached: boolean | null;
  detail: string | null;
  /** Present for a pod of workers: how many it runs and how many of them are ready. */
  workers?: { wanted: number; ready: number };
}

/** One worker's last report to the primary. */
export interface WorkerStatus {
  ready: boolean;
  lagMs: number | null;
  detached: boolean;
  detail: string | null;
  /** When the primary received it (epoch ms). */
  at: number;
}

export function processReadiness(ready: boolean, lag: StoreLag | undefined): Readiness {
  return {
    ready,
    lagMs: lag && Number.isFinite(lag.lagMs) ? lag.lagMs : null,
    detached: lag?.detached ?? null,
    detail: lag?.detail ?? null,
  };
}

/**
 * `slots` holds one entry per worker the pod should run, undefined where none is running (it died
 * and waits for its restart). A worker that has not reported for `staleMs` counts as not ready:
 * a worker whose event loop is stuck stops reporting, and still receives connections.
 */
export function podReadiness(slots: readonly (WorkerStatus | undefined)[], now: number, staleMs: number): Readiness {
  let ready = 0;
  let maxLag = -Infinity;
  let lagKnown = true;
  let detached = false;
  let detail: string | null = null;
  for (const [i, s] of slots.entries()) {
    if (s === undefined) {
      detail ??= `worker ${i} is not running`;
      continue;
    }
    if (now - s.at > staleMs) {
      detail ??= `worker ${i} has not reported for ${now - s.at} ms`;
      continue;
    }
    if (s.ready) ready++;
    else detail ??= s.detail ?? `worker ${i} lags`;
    detached ||= s.detached;
    if (s.lagMs === null) lagKnown = false;
    else maxLag = Math.max(maxLag, s.lagMs);
  }
  const lagMs = lagKnown && maxLag >= 0 ? maxLag : null;
  return { ready: slots.length > 0 && ready === slots.length, lagMs, detached, detail, workers: { wanted: slots.length, ready } };
}
