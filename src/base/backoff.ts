// Exponential backoff, shared by the work queue (runtime) and the watchers below it (kube's
// informer, the signer's shard source).

export interface BackoffPolicy {
  /** First retry delay after a failure. */
  baseDelayMs: number;
  /** Cap of the per-key exponential backoff. */
  maxDelayMs: number;
}

export const defaultBackoff: BackoffPolicy = { baseDelayMs: 500, maxDelayMs: 5 * 60_000 };

/** Exponential backoff for the n-th consecutive failure (0-based), capped. */
export function backoffDelay(policy: BackoffPolicy, failures: number): number {
  const exp = policy.baseDelayMs * 2 ** Math.min(failures, 40);
  return Math.min(policy.maxDelayMs, exp);
}
