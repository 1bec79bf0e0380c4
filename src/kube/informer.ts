// A list-watch cache of one resource type. Unlike client-node's ListWatch, it never stops on an
// error: it backs off and re-watches (a 410 Gone relists), and it relists on a resync period so
// a watch that went silent cannot leave the cache stale for long. Handlers receive the change and
// map it to work-queue keys; the cache is what reconcilers read.
import type { Logger } from 'pino';
import type { KubeClient } from './client.js';
import type { KubeObject, ResourceType } from './types.js';
import { objectKey } from './types.js';
import type { Clock, Timer } from '../runtime/clock.js';
import { backoffDelay, type BackoffPolicy } from '../runtime/work-queue.js';

export type ChangeKind = 'add' | 'update' | 'delete' | 'resync';
export type ChangeHandler<T> = (kind: ChangeKind, obj: T, old?: T) => void;

export interface InformerOptions {
  namespace?: string;
  labelSelector?: string;
  /** Full relist period: re-delivers every object as `resync` and repairs a silent watch. */
  resyncMs: number;
  clock: Clock;
  log: Logger;
  backoff?: BackoffPolicy;
  onRestart?(reason: string): void;
}

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly handlers: ChangeHandler<T>[] = [];
  private resourceVersion = '';
  private synced = false;
  private stopped = true;
  private failures = 0;
  private abort: AbortController | undefined;
  private resyncTimer: Timer | undefined;
  private retryTimer: Timer | undefined;
  private generation = 0; // guards against a stale watch's callbacks after a restart
  private readonly syncWaiters: Array<() => void> = [];

  constructor(
    private readonly client: KubeClient,
    readonly type: ResourceType,
    private readonly opts: InformerOptions,
  ) {}

  onChange(handler: ChangeHandler<T>): void {
    this.handlers.push(handler);
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(namespace ? `${namespace}/${name}` : name);
  }

  list(namespace?: string): T[] {
    const all = [...this.cache.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata?.namespace === namespace);
  }

  hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(): Promise<void> {
    return this.synced ? Promise.resolve() : new Promise((r) => this.syncWaiters.push(r));
  }

  start(): void {
    if (!this.stopped) return; // one loop per informer, however often start is called
    this.stopped = false;
    void this.relist();
    this.scheduleResync();
  }

  stop(): void {
    this.stopped = true;
    this.generation++;
    this.abort?.abort();
    this.abort = undefined;
    this.resyncTimer?.cancel();
    this.retryTimer?.cancel();
  }

  private scheduleResync(): void {
    this.resyncTimer?.cancel();
    this.resyncTimer = this.opts.clock.setTimer(() => {
      if (this.stopped) return;
      this.opts.log.debug({ resource: this.type.plural }, 'periodic relist');
      this.restart('resync');
      this.scheduleResync();
    }, this.opts.resyncMs);
  }

  private restart(reason: string): void {
    this.generation++;
    this.abort?.abort();
    this.abort = undefined;
    this.resourceVersion = '';
    this.opts.onRestart?.(reason);
    void this.relist(reason === 'resync');
  }

  private async relist(isResync = false): Promise<void> {
    const gen = this.generation;
    let list;
    try {
      list = await this.client.list<T>(this.type, { namespace: this.opts.namespace, labelSelector: this.opts.labelSelector });
    } catch (err) {
      if (gen === this.generation) this.retry(`list failed: ${errorText(err)}`, true);
      return;
    }
    if (gen !== this.generation || this.stopped) return;
    const seen = new Set<string>();
    for (const obj of list.items) {
      const key = objectKey(obj);
      seen.add(key);
      const old = this.cache.get(key);
      this.cache.set(key, obj);
      if (!old) this.emit('add', obj);
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.emit('update', obj, old);
      else if (isResync) this.emit('resync', obj);
    }
    for (const [key, old] of this.cache) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.emit('delete', old);
      }
    }
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
    await this.watch(gen);
  }

  private async watch(gen: number): Promise<void> {
    let gone = false;
    let sawEvent = false;
    const onEvent = (phase: string, raw: unknown) => {
      if (gen !== this.generation) return;
      const obj = raw as T & { code?: number };
      sawEvent = true;
      if (phase === 'ERROR') {
        if (obj.code === 410) gone = true;
        return;
      }
      const rv = obj.metadata?.resourceVersion;
      if (rv) this.resourceVersion = rv;
      if (phase === 'BOOKMARK') return;
      const key = objectKey(obj);
      const old = this.cache.get(key);
      if (phase === 'DELETED') {
        this.cache.delete(key);
        this.emit('delete', old ?? obj);
      } else {
        this.cache.set(key, obj);
        this.emit(old ? 'update' : 'add', obj, old);
      }
    };
    const done = (err: unknown) => {
      if (gen !== this.generation || this.stopped) return;
      this.abort = undefined;
      if (gone) {
        this.restart('410 Gone');
      } else if (err && !isTimeout(err)) {
        this.retry(`watch ended: ${errorText(err)}`, false);
      } else {
        if (sawEvent) this.failures = 0;
        void this.watch(gen); // a normal server- or client-side timeout: resume from the last version
      }
    };
    try {
      // The server ends each watch after a randomized 5–10 minutes so reconnects do not align.
      const timeoutSeconds = 300 + Math.floor(Math.random() * 300);
      this.abort = await this.client.watch(
        this.type,
        { namespace: this.opts.namespace, labelSelector: this.opts.labelSelector, resourceVersion: this.resourceVersion, timeoutSeconds },
        onEvent,
        done,
      );
      if (gen !== this.generation) this.abort.abort();
    } catch (err) {
      if (gen === this.generation) this.retry(`watch failed: ${errorText(err)}`, false);
    }
  }

  private retry(reason: string, relist: boolean): void {
    const delay = backoffDelay(this.opts.backoff ?? { baseDelayMs: 500, maxDelayMs: 10_000 }, this.failures++);
    this.opts.log.warn({ resource: this.type.plural, reason, retryInMs: delay }, 'informer interrupted; retrying');
    this.opts.onRestart?.(reason);
    this.retryTimer?.cancel();
    const gen = this.generation;
    this.retryTimer = this.opts.clock.setTimer(() => {
      if (this.stopped || gen !== this.generation) return;
      if (relist || !this.resourceVersion) void this.relist();
      else void this.watch(gen);
    }, delay);
  }

  private emit(kind: ChangeKind, obj: T, old?: T): void {
    for (const h of this.handlers) {
      try {
        h(kind, obj, old);
      } catch (err) {
        this.opts.log.error({ err, resource: this.type.plural, object: objectKey(obj) }, 'change handler failed');
      }
    }
  }
}

function isTimeout(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: string }).name === 'TimeoutError';
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
  }
  return String(err);
}
