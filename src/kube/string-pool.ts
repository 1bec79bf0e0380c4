// One copy of the strings that many held objects repeat. Every watch event's JSON arrives with its
// own copy of each string: a namespace, an apiVersion, a CA's name, a responder URL, the second a
// wave of status writes happened in. A 2,000-staple heap held 5.8 MiB of such duplicates (about
// 2.9 KiB a staple). Objects the informers keep have their short strings replaced by a pooled
// equal string: invisible to every reader (equal strings are interchangeable), and the copies the
// event carried are left to the collector.

/** Longer strings (certificates, data, most messages) are rarely repeated byte for byte. */
const MAX_POOLED_LENGTH = 96;
/** Values unique to one object: pooling them would only fill the pool. */
const UNIQUE_KEYS = new Set(['uid', 'resourceVersion']);

export class StringPool {
  private readonly pool = new Map<string, string>();

  /** `maxEntries`: when reached the pool starts over, so strings of objects long gone are not kept. */
  constructor(readonly maxEntries = 50_000) {}

  get size(): number {
    return this.pool.size;
  }

  /** The pooled copy of `s` (pooling it when new). */
  intern(s: string): string {
    const held = this.pool.get(s);
    if (held !== undefined) return held;
    if (this.pool.size >= this.maxEntries) this.pool.clear();
    this.pool.set(s, s);
    return s;
  }

  /**
   * Replaces, in place, the short string values of a freshly parsed object (nested objects and
   * arrays included) by their pooled copies; returns the object. Frozen parts are left as they are.
   */
  internAll<T>(value: T): T {
    this.walk(value);
    return value;
  }

  private walk(value: unknown): void {
    if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const v: unknown = value[i];
        if (typeof v === 'string') {
          if (v.length <= MAX_POOLED_LENGTH) value[i] = this.intern(v);
        } else this.walk(v);
      }
      return;
    }
    const record = value as Record<string, unknown>;
    for (const k of Object.keys(record)) {
      const v = record[k];
      if (typeof v === 'string') {
        if (v.length <= MAX_POOLED_LENGTH && !UNIQUE_KEYS.has(k)) record[k] = this.intern(v);
      } else this.walk(v);
    }
  }
}

/** The pool the informers share: a namespace or a CA name is one string across resource types. */
export const heldStrings = new StringPool();
