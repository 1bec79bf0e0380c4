// A list-watch cache of one resource type. Unlike client-node's ListWatch, it never stops on an
// error: it backs off and re-watches (a 410 Gone relists), and it relists on a resync period so
// a watch that went silent cannot leave the cache stale for long. Handlers receive the change and
// map it to work-queue keys; the cache is what reconcilers read.
import type { Logger } from 'pino';
import type { KubeApi } from './api.js';
import type { KubeObject, ObjectMeta, ResourceType } from './types.js';
import { objectKey } from './types.js';
import { heldStrings } from './string-pool.js';
import { KeyFilter } from './key-filter.js';
import type { Clock, Timer } from '../base/clock.js';
import { backoffDelay, type BackoffPolicy } from '../base/backoff.js';

export type ChangeKind = 'add' | 'update' | 'delete' | 'resync';
export type ChangeHandler<T> = (kind: ChangeKind, obj: T, old?: T) => void;

export interface InformerOptions<T extends KubeObject = KubeObject> {
  namespace?: string;
  labelSelector?: string;
  /** Full relist period: re-delivers every object as `resync` and repairs a silent watch. */
  resyncMs: number;
  clock: Clock;
  log: Logger;
  backoff?: BackoffPolicy;
  onRestart?(reason: string): void;
  /** List and watch PartialObjectMetadata: the cache holds metadata only (see object-cache.ts). */
  metadataOnly?: boolean;
  /**
   * Which objects the cache holds; every change is still delivered to the handlers. An object that
   * stops being kept leaves the cache on its next event or relist.
   */
  keep?(obj: T): boolean;
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * What a cache holds of an object: no managedFields and no last-applied annotation (a whole Secret,
 * data included), as controller-runtime's TransformStripManagedFields does. Nothing here reads
 * them, and an update sent without managedFields leaves the server's untouched.
 */
export function slim<T extends KubeObject>(obj: T): T {
  // managedFields comes from the apiserver; ObjectMeta does not name it, as nothing reads it.
  const m: (ObjectMeta & { managedFields?: unknown }) | undefined = obj.metadata;
  if (!m) return obj;
  const { managedFields: _dropped, ...metadata } = m;
  if (metadata.annotations && LAST_APPLIED in metadata.annotations) {
    const { [LAST_APPLIED]: _applied, ...annotations } = metadata.annotations;
    metadata.annotations = annotations;
  }
  return { ...obj, metadata };
}

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  /** The keys of objects seen and not kept since the last list (see mayHaveDropped). */
  private dropped = new KeyFilter();
  /** A list completed and its watch has not failed since: the cache and `dropped` follow the server. */
  private following = false;
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
  private listed = 0;
  private readonly listWaiters: Array<() => void> = [];

  constructor(
    private readonly client: KubeApi,
    readonly type: ResourceType,
    private readonly opts: InformerOptions<T>,
  ) {}

  onChange(handler: ChangeHandler<T>): void {
    this.handlers.push(handler);
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(namespace ? `${namespace}/${name}` : name);
  }

  /**
   * Puts an object read outside the watch (a live GET) into the cache if it is one to keep and is
   * not there yet; a metadata-only cache takes its metadata alone, as the watch would send it.
   */
  adopt(obj: T): void {
    const key = objectKey(obj);
    if (this.opts.namespace && obj.metadata?.namespace !== this.opts.namespace) return;
    if (this.cache.has(key) || !this.kept(obj)) return;
    const held = slim(obj);
    this.hold(key, this.opts.metadataOnly ? ({ apiVersion: held.apiVersion, kind: held.kind, metadata: held.metadata } as T) : held);
  }

  /**
   * Whether an object this cache does not hold may exist all the same: false only while the cache
   * follows the server (a list completed, its watch unbroken) and no list or watch event since
   * that list named it, so it either does not exist or was created too recently for the watch to
   * have told (as after a GET that found nothing).
   */
  mayHaveDropped(namespace: string | undefined, name: string): boolean {
    if (!this.following) return true; // listing again, or the watch failed: what it missed is unknown
    if (this.opts.namespace && namespace !== this.opts.namespace) return false;
    return this.dropped.mightHave(namespace ? `${namespace}/${name}` : name);
  }

  /** Keeps an object, its repeated strings shared with the other held objects (string-pool.ts). */
  private hold(key: string, obj: T): void {
    this.cache.set(key, heldStrings.internAll(obj));
  }

  private kept(obj: T): boolean {
    return this.opts.keep ? this.opts.keep(obj) : true;
  }

  list(namespace?: string): T[] {
    const all = [...this.cache.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata?.namespace === namespace);
  }

  /** Completed lists so far: a list that completes after a `keep` predicate widened has applied it. */
  listedCount(): number {
    return this.listed;
  }

  /** Lists again now (a `keep` predicate widened); resolves once that list is in the cache, or on stop. */
  relistNow(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const done = new Promise<void>((r) => this.listWaiters.push(r));
    this.restart('interest widened');
    return done;
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
    this.following = false;
    this.generation++;
    this.abort?.abort();
    this.abort = undefined;
    this.resyncTimer?.cancel();
    this.retryTimer?.cancel();
    for (const w of this.listWaiters.splice(0)) w();
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

  /**
   * Lists a page at a time: a relist of ten thousand objects never holds them all at once beside
   * the cache (the periodic resync of a 10,000-staple operator did, and ran out of heap).
   */
  private async relist(isResync = false): Promise<void> {
    const gen = this.generation;
    this.following = false;
    const seen = new Set<string>();
    const dropped = new KeyFilter();
    let resourceVersion = '';
    try {
      for await (const page of this.client.listPages<T>(this.type, {
        namespace: this.opts.namespace,
        labelSelector: this.opts.labelSelector,
        metadataOnly: this.opts.metadataOnly,
      })) {
        if (gen !== this.generation || this.stopped) return;
        resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
        for (const item of page.items) this.applyListed(slim(item), seen, dropped, isResync);
      }
    } catch (err) {
      if (gen === this.generation) this.retry(`list failed: ${errorText(err)}`, true);
      return;
    }
    if (gen !== this.generation || this.stopped) return;
    for (const [key, old] of this.cache) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.emit('delete', old);
      }
    }
    this.resourceVersion = resourceVersion;
    this.dropped = dropped;
    this.following = true;
    this.listed++;
    for (const w of this.listWaiters.splice(0)) w();
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
    await this.watch(gen);
  }

  /** One object of a list: held or dropped, and news to the handlers if it changed. */
  private applyListed(obj: T, seen: Set<string>, dropped: KeyFilter, isResync: boolean): void {
    const key = objectKey(obj);
    const old = this.cache.get(key);
    if (!this.kept(obj)) {
      dropped.add(key);
      // Not held; if it was, the change that made it uninteresting is still news to the handlers.
      if (old) {
        this.cache.delete(key);
        if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.emit('update', obj, old);
      }
      return;
    }
    seen.add(key);
    this.hold(key, obj);
    if (!old) this.emit('add', obj);
    else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.emit('update', obj, old);
    else if (isResync) this.emit('resync', obj);
  }

  private async watch(gen: number): Promise<void> {
    let gone = false;
    let sawEvent = false;
    const onEvent = (phase: string, raw: unknown) => {
      if (gen !== this.generation) return;
      const obj = ((raw as { metadata?: unknown })?.metadata ? slim(raw as T) : raw) as T & { code?: number };
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
        if (this.kept(obj)) this.hold(key, obj);
        else {
          this.cache.delete(key);
          this.dropped.add(key);
        }
        this.emit(old ? 'update' : 'add', obj, old);
      }
    };
    const done = (err: unknown) => {
      if (gen !== this.generation || this.stopped) return;
      this.abort = undefined;
      if (gone) {
        this.restart('410 Gone');
      } else if (err) {
        this.retry(`watch ended: ${errorText(err)}`, false);
      } else {
        if (sawEvent) this.failures = 0;
        void this.watch(gen); // the server's timeoutSeconds ended it: resume from the last version
      }
    };
    try {
      // The server ends each watch after a randomized 5–10 minutes so reconnects do not align.
      const timeoutSeconds = 300 + Math.floor(Math.random() * 300);
      this.abort = await this.client.watch(
        this.type,
        {
          namespace: this.opts.namespace,
          labelSelector: this.opts.labelSelector,
          resourceVersion: this.resourceVersion,
          timeoutSeconds,
          metadataOnly: this.opts.metadataOnly,
        },
        onEvent,
        done,
      );
      if (gen !== this.generation) this.abort.abort();
    } catch (err) {
      if (gen === this.generation) this.retry(`watch failed: ${errorText(err)}`, false);
    }
  }

  private retry(reason: string, relist: boolean): void {
    this.following = false; // until a list: events the failed watch missed are not in `dropped`
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

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
  }
  return String(err);
}
