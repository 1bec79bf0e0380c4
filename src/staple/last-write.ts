// What the staple reconciler last wrote about each staple, held until its cache shows it (the
// cache lags the reconciler's own writes):
//  - the status write: the staple Secret's event re-queues the key at once, and a reconcile that
//    still saw the old status would fetch again and PUT against a stale resourceVersion (a 409);
//  - the refresh request served: a reconcile that reads the staple before the annotation's removal
//    arrives must not take the same request for a new one and fetch twice.
import type { KubeObject } from '../kube/types.js';
import type { RefreshRequest } from './refresh-request.js';

interface Written {
  /** The status write: the resourceVersion it replaced, and the object it stored. */
  status?: { from: string; obj: KubeObject };
  /** The refresh request (annotation value) served last. */
  refresh?: string;
}

export class LastWrites {
  private readonly byKey = new Map<string, Written>();

  /**
   * The cached staple, or the one last written when the cache still has the version that write
   * replaced (a PUT with that resourceVersion succeeded, so nothing came in between).
   */
  newest(key: string, cached: KubeObject | undefined): KubeObject | undefined {
    const w = this.byKey.get(key)?.status;
    if (!w) return cached;
    if (cached && cached.metadata?.resourceVersion === w.from) return w.obj;
    this.set(key, { status: undefined }); // the cache caught up (or the staple is gone)
    return cached;
  }

  /**
   * A status write that replaced `from` and stored `obj`. Not held when the cache already shows it:
   * its watch event can arrive before the write's own answer, and nothing would drop it then until
   * the staple's next reconcile (a status object a staple, ten thousand after a fill).
   */
  wroteStatus(key: string, from: string, obj: KubeObject, cached: KubeObject | undefined): void {
    const shown = cached !== undefined && cached.metadata?.resourceVersion === obj.metadata?.resourceVersion;
    this.set(key, { status: shown ? undefined : { from, obj } });
  }

  /** The request pending on the staple, unless it is the one already served. */
  pending(key: string, requested: RefreshRequest | undefined): RefreshRequest | undefined {
    if (!requested) {
      this.set(key, { refresh: undefined }); // the cache shows the annotation gone
      return undefined;
    }
    return this.byKey.get(key)?.refresh === requested.value ? undefined : requested;
  }

  /** The request was served and its annotation removed: a patch that also moved the staple past the status write held. */
  servedRefresh(key: string, value: string): void {
    this.set(key, { refresh: value, status: undefined });
  }

  /** Staples with something held, for tests and diagnostics. */
  get size(): number {
    return this.byKey.size;
  }

  forget(key: string): void {
    this.byKey.delete(key);
  }

  private set(key: string, change: Written): void {
    const next = { ...this.byKey.get(key), ...change };
    if (next.status === undefined && next.refresh === undefined) this.byKey.delete(key);
    else this.byKey.set(key, next);
  }
}
