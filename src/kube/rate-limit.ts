// The API client's own brakes, as client-go has them: a token bucket in front of every request
// (qps + burst), and the answer to an apiserver that says "later" (429, or 503 with Retry-After).
import type { Clock } from '../base/clock.js';

/**
 * A token bucket that reserves: each caller takes a token at once, going into debt when the bucket
 * is empty, and waits until its token would have been refilled. Callers so leave in arrival order
 * and the long-run rate is `qps`, with up to `burst` requests back to back after a quiet spell.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly qps: number,
    readonly burst: number,
    private readonly clock: Clock,
  ) {
    if (!(qps > 0) || !(burst >= 1)) throw new Error(`rate limit needs qps > 0 and burst >= 1, got qps ${qps} burst ${burst}`);
    this.tokens = burst;
    this.last = clock.now();
  }

  /** Milliseconds the next caller would wait (0 when a token is ready); takes a token. */
  reserve(): number {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.qps) * 1000);
  }

  /** Resolves when this caller may send; returns how long it waited (ms). */
  async acquire(): Promise<number> {
    const wait = this.reserve();
    if (wait > 0) await new Promise<void>((resolve) => this.clock.setTimer(resolve, wait));
    return wait;
  }
}

export interface RetryPolicy {
  /** Retries after the first attempt; the error after the last one is thrown. */
  maxRetries: number;
  /** Cap of any one wait, whatever Retry-After asks for. */
  maxWaitMs: number;
  /** First wait when the answer has no Retry-After; doubled per retry, jittered, capped. */
  baseDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { maxRetries: 5, maxWaitMs: 10_000, baseDelayMs: 250 };

/** Retry-After as delay-seconds or an HTTP-date, in ms from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * How long to wait before retry number `retry` (0-based): the server's Retry-After when it gave
 * one, never less, spread over one more Retry-After so that a burst the server refused at once
 * does not come back at once (client-go waits exactly Retry-After, and a refused burst returns as
 * the same burst); else exponential backoff with full jitter; both capped.
 */
export function throttleRetryDelay(
  policy: RetryPolicy,
  retry: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== undefined) return Math.min(policy.maxWaitMs, Math.round(retryAfterMs * (1 + random())));
  const ceiling = Math.min(policy.maxWaitMs, policy.baseDelayMs * 2 ** Math.min(retry, 20));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
