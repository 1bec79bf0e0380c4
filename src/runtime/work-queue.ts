// A work queue in the client-go style: a key is queued at most once, never handed to two workers
// at once (a key added while it is processing is re-queued when it is done), failures back off
// per key exponentially, and time-driven work waits in a delay list until it falls due.
import type { Clock } from '../base/clock.js';
import { backoffDelay, defaultBackoff, type BackoffPolicy } from '../base/backoff.js';
import { DelayedKeys } from './delayed-keys.js';

export interface WorkQueueHooks {
  onAdd?(): void;
  onRetry?(): void;
  onDepth?(depth: number): void;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed: DelayedKeys;
  private readonly waiters: Array<(key: string | undefined) => void> = [];
  private shuttingDown = false;

  constructor(
    private readonly clock: Clock,
    private readonly backoff: BackoffPolicy = defaultBackoff,
    private readonly hooks: WorkQueueHooks = {},
  ) {
    this.delayed = new DelayedKeys(clock, (key) => this.add(key));
  }

  /** Queues a key now. A no-op when it is already queued; deferred when it is processing. */
  add(key: string): void {
    if (this.shuttingDown) return;
    this.hooks.onAdd?.();
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.processing.add(key);
      waiter(key);
      return;
    }
    this.queued.add(key);
    this.queue.push(key);
    this.hooks.onDepth?.(this.queue.length);
  }

  /** Queues a key after a delay; an earlier pending delay for the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    this.delayed.schedule(key, this.clock.now() + delayMs);
  }

  /** Queues a key after its per-key backoff; each call counts one more failure. */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = backoffDelay(this.backoff, n);
    this.hooks.onRetry?.();
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears a key's failure count (after a success). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Waits for the next key; undefined once the queue shuts down. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.queued.delete(key);
      this.processing.add(key);
      this.hooks.onDepth?.(this.queue.length);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks a key's processing finished; re-queues it if it was added meanwhile. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  len(): number {
    return this.queue.length;
  }

  /** Keys waiting on a delay (scheduled refreshes and backoffs). */
  delayedKeys(): number {
    return this.delayed.size;
  }

  isProcessing(key: string): boolean {
    return this.processing.has(key);
  }

  shutDown(): void {
    this.shuttingDown = true;
    this.delayed.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}
