// How many signer pods a pool needs: enough to drain the backlog within the target time at the
// measured per-pod rate, between min and max. Like the HorizontalPodAutoscaler, scale-up is
// immediate (a growing backlog is how responses end up expiring) and scale-down waits until every
// recommendation within the stabilization window was lower, so a steady trickle does not flap.

export interface ScalingInput {
  backlog: number;
  /** Measured signatures per second of one signer pod; undefined before any measurement. */
  perPodRate: number | undefined;
  targetDrainMs: number;
  minReplicas: number;
  maxReplicas: number;
  current: number;
}

export interface Recommendation {
  at: number;
  replicas: number;
}

export function recommendReplicas(i: ScalingInput): number {
  const clamp = (n: number) => Math.min(i.maxReplicas, Math.max(i.minReplicas, n));
  if (i.backlog <= 0) return clamp(i.minReplicas);
  if (!i.perPodRate || i.perPodRate <= 0) {
    // No rate yet: grow one step at a time rather than guess.
    return clamp(Math.max(i.current, i.minReplicas) + 1);
  }
  const needed = Math.ceil(i.backlog / (i.perPodRate * (i.targetDrainMs / 1000)));
  return clamp(needed);
}

/**
 * The replicas to set now, given this moment's recommendation and the ones before it (which the
 * caller keeps). Returns the decision and the history to keep (the window's recommendations).
 */
export function stabilize(o: {
  now: number;
  recommendation: number;
  current: number;
  history: readonly Recommendation[];
  windowMs: number;
}): { replicas: number; history: Recommendation[] } {
  const history = [...o.history.filter((r) => o.now - r.at < o.windowMs), { at: o.now, replicas: o.recommendation }];
  if (o.recommendation >= o.current) return { replicas: o.recommendation, history };
  const highest = Math.max(...history.map((r) => r.replicas));
  return { replicas: Math.min(o.current, highest), history };
}
