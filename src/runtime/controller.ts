// One controller in the controller-runtime shape: informers map changes to keys, a de-duplicating
// work queue holds the keys, a bounded number of workers call the reconciler. The reconciler reads
// the world from the caches and returns when to look again; a thrown error backs off per key.
import type { Logger } from 'pino';
import type { Clock } from '../base/clock.js';
import type { OperatorMetrics } from './metrics.js';
import { WorkQueue } from './work-queue.js';
import type { BackoffPolicy } from '../base/backoff.js';
import type { ChangeHandler, ChangeKind } from '../kube/informer.js';
import type { KubeObject } from '../kube/types.js';

/**
 * Skips updates that only touched status (the controller's own status writes coming back through
 * the watch), as controller-runtime's GenerationChangedPredicate does; periodic resyncs still pass.
 */
export function specOrMetadataChanged<T extends KubeObject>(kind: ChangeKind, obj: T, old?: T): boolean {
  if (kind !== 'update' || !old) return true;
  const a = old.metadata ?? {};
  const b = obj.metadata ?? {};
  return (
    a.generation !== b.generation ||
    a.deletionTimestamp !== b.deletionTimestamp ||
    JSON.stringify(a.labels ?? {}) !== JSON.stringify(b.labels ?? {}) ||
    JSON.stringify(a.annotations ?? {}) !== JSON.stringify(b.annotations ?? {})
  );
}

export interface ReconcileResult {
  /** Look at this key again after this long (a scheduled refresh), even if nothing changes. */
  requeueAfterMs?: number;
}

export interface Reconciler {
  reconcile(key: string): Promise<ReconcileResult | void>;
}

/** What a controller watches: an informer, or several read as one. */
export interface WatchSource<T> {
  onChange(handler: ChangeHandler<T>): void;
  list(): T[];
}

export interface ControllerOptions {
  name: string;
  reconciler: Reconciler;
  workers: number;
  clock: Clock;
  log: Logger;
  metrics: OperatorMetrics;
  backoff?: BackoffPolicy;
}

export class Controller {
  readonly queue: WorkQueue;
  private running = false;
  private workers: Promise<void>[] = [];
  private readonly sources: Array<() => string[]> = [];

  constructor(private readonly opts: ControllerOptions) {
    const labels = { controller: opts.name };
    this.queue = new WorkQueue(opts.clock, opts.backoff, {
      onAdd: () => opts.metrics.workqueueAdds.inc(labels),
      onRetry: () => opts.metrics.workqueueRetries.inc(labels),
      onDepth: (d) => opts.metrics.workqueueDepth.set(labels, d),
    });
  }

  /**
   * Enqueues the keys `map` returns for every change of the informer's objects. `map` turns a
   * related object (a Secret) into the keys of the objects that depend on it (its OcspStaples).
   */
  watch<T extends KubeObject>(
    informer: WatchSource<T>,
    map: (obj: T) => string[],
    predicate?: (kind: ChangeKind, obj: T, old?: T) => boolean,
  ): void {
    informer.onChange((kind, obj, old) => {
      if (!this.running) return; // a follower's caches stay warm, but it queues nothing
      if (predicate && !predicate(kind, obj, old)) return;
      const keys = new Set(map(obj));
      if (old) for (const k of map(old)) keys.add(k);
      for (const k of keys) this.queue.add(k);
    });
    this.sources.push(() => informer.list().flatMap((o) => map(o)));
  }

  /** Starts the workers and queues every key the caches know (the initial level-triggered pass). */
  start(): void {
    if (this.running) return;
    this.running = true;
    for (const source of this.sources) for (const key of source()) this.queue.add(key);
    for (let i = 0; i < this.opts.workers; i++) this.workers.push(this.work());
    this.opts.log.info({ controller: this.opts.name, workers: this.opts.workers }, 'controller started');
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.queue.shutDown();
    await Promise.all(this.workers);
    this.workers = [];
    this.opts.log.info({ controller: this.opts.name }, 'controller stopped');
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      await this.process(key);
      this.queue.done(key);
    }
  }

  private async process(key: string): Promise<void> {
    const { name, metrics, log } = this.opts;
    const end = metrics.reconcileDuration.startTimer({ controller: name });
    try {
      const result = await this.opts.reconciler.reconcile(key);
      this.queue.forget(key);
      if (result?.requeueAfterMs !== undefined) {
        this.queue.addAfter(key, result.requeueAfterMs);
        metrics.reconcileTotal.inc({ controller: name, result: 'requeue' });
      } else {
        metrics.reconcileTotal.inc({ controller: name, result: 'success' });
      }
    } catch (err) {
      const delay = this.queue.addRateLimited(key);
      metrics.reconcileTotal.inc({ controller: name, result: 'error' });
      log.error(
        { controller: name, object: key, err: err instanceof Error ? err.message : String(err), retryInMs: delay },
        'reconcile failed',
      );
    } finally {
      end();
    }
  }
}
