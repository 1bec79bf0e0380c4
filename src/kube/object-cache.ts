// Memory that follows the work, not the cluster. For Secrets and ConfigMaps the operator watches
// metadata only (PartialObjectMetadata), and keeps even that only for the objects some controller
// says it is interested in (a staple's certificate, issuer and staple Secrets, an opted-in
// cert-manager Secret, a pool's issuer and in-scope source Secrets and ConfigMaps). The data of
// those is read with a GET when a reconciler first needs it and held until the watch reports a
// newer version, unless the interest is in metadata only (`wantMetadata`: a reconciler that keeps
// what it derived from the data, and needs the data again only when the version changes); every
// other object passes through as a change notification and is dropped.
import type { KubeApi } from './api.js';
import { slim, type ChangeHandler } from './informer.js';
import { objectKey, type KubeObject, type ResourceType } from './types.js';

/** What the cache reads its metadata from: informers whose `keep` is this cache's `wanted`. */
export interface MetadataSource {
  onChange(handler: ChangeHandler<KubeObject>): void;
  get(namespace: string | undefined, name: string): KubeObject | undefined;
  list(namespace?: string): KubeObject[];
  adopt(obj: KubeObject): void;
  /** Whether an object not held may exist all the same (Informer.mayHaveDropped). */
  mayHaveDropped(namespace: string | undefined, name: string): boolean;
  /** Completed lists (the least over the namespaces' informers). */
  listedCount(): number;
  /** Lists again, so objects a widened interest now keeps are held; resolves when done. */
  relistNow(): Promise<void>;
}

export interface ObjectCacheStats {
  /** Objects whose metadata is held. */
  metadata: number;
  /** Objects held in full (with their data). */
  full: number;
  /** UTF-16 length of the held objects' data values: a floor on the bytes they take. */
  fullDataChars: number;
}

export class ObjectCache<T extends KubeObject & { data?: Record<string, string> }> {
  private readonly full = new Map<string, T>();
  private readonly interests: Array<(meta: KubeObject) => boolean> = [];
  private readonly metadataInterests: Array<(meta: KubeObject) => boolean> = [];
  private readonly loading = new Map<string, Promise<T | undefined>>();
  private metas: MetadataSource | undefined;

  constructor(
    private readonly client: KubeApi,
    readonly type: ResourceType,
  ) {}

  /** Called once by the manager with the metadata informers (created with `keep: wanted`). */
  attach(metas: MetadataSource): void {
    this.metas = metas;
    // Registered before any controller's handler: a changed object's stale data is gone before
    // the reconcile it triggers reads it.
    metas.onChange((kind, obj) => {
      const key = objectKey(obj);
      const held = this.full.get(key);
      if (!held) return;
      if (kind === 'delete' || !this.holdsData(obj) || held.metadata?.resourceVersion !== obj.metadata?.resourceVersion)
        this.full.delete(key);
    });
  }

  /**
   * For an interest that grew by a selector, not by names (a pool's clusterSecrets source): objects
   * already seen and dropped are only found by listing again. `since` is `listedCount()` when the
   * interest appeared; a list completed after it already applied it.
   */
  async widen(since: number): Promise<void> {
    if (this.source().listedCount() > since) return;
    await this.source().relistNow();
  }

  listedCount(): number {
    return this.source().listedCount();
  }

  /** Declares which objects a controller needs: their metadata is kept, their data loadable. */
  want(predicate: (meta: KubeObject) => boolean): void {
    this.interests.push(predicate);
  }

  /**
   * Declares objects a controller needs the metadata of, and whose data it reads (with `load`) but
   * does not need held: `load` reads them live and nothing keeps the data.
   */
  wantMetadata(predicate: (meta: KubeObject) => boolean): void {
    this.metadataInterests.push(predicate);
  }

  readonly wanted = (meta: KubeObject): boolean => this.holdsData(meta) || this.metadataInterests.some((p) => p(meta));

  private holdsData(meta: KubeObject): boolean {
    return this.interests.some((p) => p(meta));
  }

  onChange(handler: ChangeHandler<KubeObject>): void {
    this.source().onChange(handler);
  }

  /** The held metadata of an object (wanted ones only). */
  get(namespace: string | undefined, name: string): KubeObject | undefined {
    return this.source().get(namespace, name);
  }

  list(namespace?: string): KubeObject[] {
    return this.source().list(namespace);
  }

  /**
   * True when the object certainly did not exist as of the watch's latest event: not held, and not
   * seen and dropped since the last list. A GET would answer 404 (unless it was created since,
   * which a GET an instant earlier would not have seen either).
   */
  knownAbsent(namespace: string | undefined, name: string): boolean {
    return !this.source().get(namespace, name) && !this.source().mayHaveDropped(namespace, name);
  }

  /**
   * The whole object, data included: from the cache while the watch reports no newer version,
   * else read live (a miss on an object nobody wanted yet, one that changed, or one wanted for its
   * metadata only). Not found: undefined.
   */
  async load(namespace: string | undefined, name: string): Promise<T | undefined> {
    const key = namespace ? `${namespace}/${name}` : name;
    const meta = this.source().get(namespace, name);
    const held = this.full.get(key);
    if (held && meta && held.metadata?.resourceVersion === meta.metadata?.resourceVersion) return held;
    const pending = this.loading.get(key);
    if (pending) return pending;
    const read = this.client
      .getOrUndefined<T>(this.type, namespace, name)
      .then((live) => {
        if (!live) {
          this.full.delete(key);
          return undefined;
        }
        this.put(live);
        return live;
      })
      .finally(() => this.loading.delete(key));
    this.loading.set(key, read);
    return read;
  }

  /** Loads several, a few at a time (a pool's source Secrets on its first reconcile). */
  async loadAll(metas: KubeObject[], concurrency = 8): Promise<T[]> {
    const out: Array<T | undefined> = new Array<T | undefined>(metas.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < metas.length; i = next++)
        out[i] = await this.load(metas[i]?.metadata?.namespace, metas[i]?.metadata?.name ?? '');
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, metas.length) }, worker));
    return out.filter((o): o is T => !!o);
  }

  /** Holds an object the operator just read or wrote (the answer of its own write): its data only if an interest needs it. */
  put(obj: T): void {
    if (!this.wanted(obj)) return;
    if (this.holdsData(obj)) this.full.set(objectKey(obj), slim(obj));
    else this.full.delete(objectKey(obj));
    this.source().adopt(obj);
  }

  /** Drops the data of an object nobody needs held any more (its staple or pool went away). */
  recheck(namespace: string | undefined, name: string): void {
    const key = namespace ? `${namespace}/${name}` : name;
    const held = this.full.get(key);
    if (held && !this.holdsData(held)) this.full.delete(key);
  }

  /** The keys held in full, for tests and diagnostics. */
  heldInFull(): string[] {
    return [...this.full.keys()];
  }

  stats(): ObjectCacheStats {
    let fullDataChars = 0;
    for (const o of this.full.values()) for (const v of Object.values(o.data ?? {})) fullDataChars += v.length;
    return { metadata: this.source().list().length, full: this.full.size, fullDataChars };
  }

  private source(): MetadataSource {
    if (!this.metas) throw new Error(`object cache for ${this.type.plural} used before the manager attached its informers`);
    return this.metas;
  }
}
