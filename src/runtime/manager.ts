// The manager runs the controllers of one process: informers start on every replica (so a new
// leader has warm caches), controllers only while this replica holds the lease, and the health
// server answers throughout. Shutdown stops controllers, releases the lease and closes the server.
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Clock } from '../base/clock.js';
import type { Controller, WatchSource } from './controller.js';
import { startHealthServer, type HealthServer } from './health-server.js';
import { OperatorMetrics } from './metrics.js';
import type { KubeApi } from '../kube/api.js';
import { EventRecorder } from '../kube/events.js';
import { Informer, type ChangeHandler } from '../kube/informer.js';
import { LeaderElector } from '../kube/leader-election.js';
import { ObjectCache } from '../kube/object-cache.js';
import { Gauge } from 'prom-client';
import type { KubeObject, ResourceType } from '../kube/types.js';

export interface ManagerOptions {
  client: KubeApi;
  clock: Clock;
  log: Logger;
  /** host:port of /metrics, /healthz, /readyz; port 0 picks a free one. */
  healthAddress: { host: string; port: number };
  leaderElection?: { namespace: string; name: string; leaseDurationMs?: number; renewDeadlineMs?: number; retryPeriodMs?: number };
  /** Watch only these namespaces (namespaced mode); all when empty. */
  namespaces?: string[];
  resyncMs?: number;
  identity?: string;
  metrics?: OperatorMetrics;
  /** Called when the lease is lost while running; the process should exit (as controller-runtime does). */
  onLostLeadership?(): void;
}

export class Manager {
  readonly metrics: OperatorMetrics;
  readonly identity: string;
  readonly events: EventRecorder;
  private readonly informers: Informer<KubeObject>[] = [];
  /** The object caches' informers: started once the others synced, so the interests they filter by are known. */
  private readonly lateInformers: Informer<KubeObject>[] = [];
  private readonly informerSets = new Map<string, InformerSet<KubeObject>>();
  private readonly objectCaches = new Map<string, ObjectCache<KubeObject>>();
  private readonly controllers: Controller[] = [];
  private elector: LeaderElector | undefined;
  private health: HealthServer | undefined;
  private leading = false;
  private stopping = false;

  constructor(readonly opts: ManagerOptions) {
    this.metrics = opts.metrics ?? new OperatorMetrics();
    this.identity = opts.identity ?? `${hostname()}_${process.pid}`;
    this.events = new EventRecorder(opts.client, {
      controller: 'ocsp-operator.dev/controller',
      instance: this.identity,
      clock: opts.clock,
      log: opts.log,
    });
  }

  get client(): KubeApi {
    return this.opts.client;
  }

  get clock(): Clock {
    return this.opts.clock;
  }

  get log(): Logger {
    return this.opts.log;
  }

  isLeader(): boolean {
    return this.leading;
  }

  healthUrl(): string | undefined {
    return this.health?.url;
  }

  /**
   * An informer for a type, one per watched namespace (namespaced mode needs no cluster-wide list
   * permission). Returns a view that reads across them.
   */
  informer<T extends KubeObject>(type: ResourceType, labelSelector?: string): InformerSet<T> {
    // Controllers share one cache per resource type (and selector), as in controller-runtime.
    const cacheKey = `${type.group}/${type.plural}?${labelSelector ?? ''}`;
    const shared = this.informerSets.get(cacheKey);
    if (shared) return shared as unknown as InformerSet<T>;
    const namespaces = type.namespaced && this.opts.namespaces?.length ? this.opts.namespaces : [undefined];
    const set = namespaces.map(
      (namespace) =>
        new Informer<T>(this.opts.client, type, {
          namespace,
          labelSelector,
          resyncMs: this.opts.resyncMs ?? 10 * 60_000,
          clock: this.opts.clock,
          log: this.opts.log,
          onRestart: (reason) => this.metrics.informerRestarts.inc({ resource: type.plural, reason: reason.split(':')[0] ?? reason }),
        }),
    );
    this.informers.push(...(set as unknown as Informer<KubeObject>[]));
    const view = new InformerSet(set);
    this.informerSets.set(cacheKey, view as unknown as InformerSet<KubeObject>);
    return view;
  }

  /**
   * A metadata-only, interest-filtered cache of a type whose objects are many and mostly not ours
   * (Secrets, ConfigMaps): see kube/object-cache.ts. One per type, shared by the controllers,
   * each of which declares what it wants with `want()` before the manager starts.
   */
  objectCache<T extends KubeObject>(type: ResourceType): ObjectCache<T> {
    const cacheKey = `${type.group}/${type.plural}`;
    const shared = this.objectCaches.get(cacheKey);
    if (shared) return shared as unknown as ObjectCache<T>;
    const cache = new ObjectCache<KubeObject>(this.opts.client, type);
    const namespaces = type.namespaced && this.opts.namespaces?.length ? this.opts.namespaces : [undefined];
    const set = namespaces.map(
      (namespace) =>
        new Informer<KubeObject>(this.opts.client, type, {
          namespace,
          metadataOnly: true,
          keep: cache.wanted,
          resyncMs: this.opts.resyncMs ?? 10 * 60_000,
          clock: this.opts.clock,
          log: this.opts.log,
          onRestart: (reason) => this.metrics.informerRestarts.inc({ resource: type.plural, reason: reason.split(':')[0] ?? reason }),
        }),
    );
    this.lateInformers.push(...set);
    cache.attach(new InformerSet(set));
    if (this.objectCaches.size === 0) {
      const caches = this.objectCaches;
      new Gauge({
        name: 'ocsp_operator_cache_objects',
        help: 'Objects held by the metadata-filtered caches, by resource and form (metadata, full)',
        labelNames: ['resource', 'form'] as const,
        registers: [this.metrics.registry],
        collect() {
          for (const c of caches.values()) {
            const s = c.stats();
            this.set({ resource: c.type.plural, form: 'metadata' }, s.metadata);
            this.set({ resource: c.type.plural, form: 'full' }, s.full);
          }
        },
      });
    }
    this.objectCaches.set(cacheKey, cache);
    return cache as unknown as ObjectCache<T>;
  }

  add(controller: Controller): void {
    this.controllers.push(controller);
  }

  async start(): Promise<void> {
    this.health = await startHealthServer({
      ...this.opts.healthAddress,
      registry: this.metrics.registry,
      healthz: [() => true],
      readyz: [() => [...this.informers, ...this.lateInformers].every((i) => i.hasSynced()) || 'caches not synced'],
    });
    for (const i of this.informers) i.start();
    await Promise.all(this.informers.map((i) => i.waitForSync()));
    // Secrets and ConfigMaps are kept by the staples and pools that refer to them: list those first.
    for (const i of this.lateInformers) i.start();
    await Promise.all(this.lateInformers.map((i) => i.waitForSync()));
    this.opts.log.info({ health: this.health.url, identity: this.identity }, 'caches synced');
    const le = this.opts.leaderElection;
    if (!le) {
      this.startLeading();
      return;
    }
    this.elector = new LeaderElector(this.opts.client, {
      ...le,
      identity: this.identity,
      clock: this.opts.clock,
      log: this.opts.log,
      onStartedLeading: () => this.startLeading(),
      onStoppedLeading: () => {
        if (this.stopping) return;
        void this.stopLeading().then(() => this.opts.onLostLeadership?.());
      },
    });
    this.elector.start();
  }

  private startLeading(): void {
    this.leading = true;
    this.metrics.isLeader.set(1);
    for (const c of this.controllers) c.start();
  }

  private async stopLeading(): Promise<void> {
    this.leading = false;
    this.metrics.isLeader.set(0);
    await Promise.all(this.controllers.map((c) => c.stop()));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.stopLeading();
    await this.elector?.stop();
    for (const i of [...this.informers, ...this.lateInformers]) i.stop();
    await this.health?.close();
  }
}

/** Several informers of one type (one per namespace) read as one cache. */
export class InformerSet<T extends KubeObject> implements WatchSource<T> {
  constructor(readonly members: Informer<T>[]) {}

  onChange(handler: ChangeHandler<T>): void {
    for (const m of this.members) m.onChange(handler);
  }

  get(namespace: string | undefined, name: string): T | undefined {
    for (const m of this.members) {
      const hit = m.get(namespace, name);
      if (hit) return hit;
    }
    return undefined;
  }

  list(namespace?: string): T[] {
    return this.members.flatMap((m) => m.list(namespace));
  }

  adopt(obj: T): void {
    for (const m of this.members) m.adopt(obj);
  }

  mayHaveDropped(namespace: string | undefined, name: string): boolean {
    return this.members.some((m) => m.mayHaveDropped(namespace, name));
  }

  listedCount(): number {
    return Math.min(...this.members.map((m) => m.listedCount()));
  }

  async relistNow(): Promise<void> {
    await Promise.all(this.members.map((m) => m.relistNow()));
  }
}
