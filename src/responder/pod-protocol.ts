// The messages a responder pod's primary and its workers exchange over the cluster IPC channel
// (structured clone, so NaN and Infinity in metric values survive). Workers report their store
// lag; the primary answers /readyz and /metrics for the pod through whichever worker the request
// reached, since the port hands a request to any of them.
import type { Registry } from 'prom-client';
import type { Readiness } from './readiness.js';

/** One registry's metrics as prom-client's getMetricsAsJSON gives them. */
export type MetricsSnapshot = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

export type FromWorker =
  /** After every lag probe: the worker's own readiness. Doubles as its heartbeat. */
  | { pod: 'status'; ready: boolean; lagMs: number | null; detached: boolean; detail: string | null }
  /** A client asked this worker for /metrics: the pod's, please. */
  | { pod: 'metrics?'; id: number }
  /** This worker's metrics, for collection round `round`. */
  | { pod: 'snapshot'; round: number; metrics: MetricsSnapshot };

export type FromPrimary =
  /** The pod's readiness, sent to every worker whenever it changes. */
  { pod: 'readiness'; readiness: Readiness } | { pod: 'collect'; round: number } | { pod: 'metrics'; id: number; text: string };

/**
 * Whether an IPC message is one of ours (the cluster module and others use the same channel).
 * Both ends are this program, so the tag is all there is to check.
 */
export function isPodMessage<T extends FromWorker | FromPrimary>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { pod?: unknown }).pod === 'string';
}
