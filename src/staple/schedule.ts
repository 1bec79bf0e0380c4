// When to look at a staple again. Pure functions of the response's window and the spec, so the
// schedule is testable without a cluster or a clock.
import { createHash } from 'node:crypto';

export interface RefreshPolicy {
  fraction: number; // of the thisUpdate→nextUpdate window
  jitter: number; // ± fraction of the window
  minIntervalMs: number;
}

/**
 * A stable number in [0, 1) for one staple and one response: the same after a restart (so a
 * restarted controller does not reshuffle and storm), different between staples (so thousands
 * of staples with one responder do not refresh in the same second).
 */
export function jitterSeed(...parts: string[]): number {
  const h = createHash('sha256').update(parts.join('\0')).digest();
  return h.readUInt32BE(0) / 2 ** 32;
}

/**
 * The refresh time for a response: `fraction` into its window, moved by up to ±jitter of the
 * window, never sooner than minInterval after `now`, and never later than the moment it stops
 * being usable (then there is nothing left to refresh).
 */
export function refreshTime(o: {
  thisUpdate: number;
  nextUpdate: number;
  usableUntil: number;
  now: number;
  policy: RefreshPolicy;
  seed: number;
}): number {
  const window = o.nextUpdate - o.thisUpdate;
  const offset = (o.seed * 2 - 1) * o.policy.jitter * window;
  const planned = o.thisUpdate + o.policy.fraction * window + offset;
  const earliest = o.now + o.policy.minIntervalMs;
  return Math.min(Math.max(planned, earliest), Math.max(o.usableUntil, earliest));
}

/**
 * The delay before retry number `failures` (1 = first retry): capped exponential, with a little
 * jitter so failed staples of one responder do not retry in step, and never past `deadline` (the
 * moment the current staple must be removed, which must happen on time whatever the backoff says).
 */
export function retryDelay(o: {
  failures: number;
  initialMs: number;
  maxMs: number;
  now: number;
  deadline?: number;
  seed: number;
}): number {
  const exp = Math.min(o.maxMs, o.initialMs * 2 ** Math.max(0, Math.min(o.failures - 1, 40)));
  const delay = exp * (0.9 + 0.2 * o.seed);
  const untilDeadline = o.deadline === undefined ? Infinity : Math.max(0, o.deadline - o.now);
  return Math.max(0, Math.min(delay, untilDeadline));
}
