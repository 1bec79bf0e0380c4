// A small LRU map from the exact bytes of a DER object (a certificate, an AlgorithmIdentifier) to
// what was derived from them. Keyed by content, not by object, so that the same certificate arriving
// in another response, or in a freshly parsed X509Certificate, is parsed and its key imported once.
import { equalBytes } from './der.js';

// The key is a hash of the length and the last bytes: for a certificate those are its signature,
// as good as random. A collision (or a crafted lookalike) costs only a parse, never a wrong answer,
// because a hit needs equal bytes. A number keeps the lookup free of allocation.
const TAIL = 32;

function keyOf(bytes: Uint8Array): number {
  let h = 0x811c9dc5 ^ bytes.length; // FNV-1a
  for (let i = Math.max(0, bytes.length - TAIL); i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h;
}

export class BytesCache<V> {
  private readonly entries = new Map<number, { bytes: Uint8Array; value: V }>();
  private newest: number | undefined;

  constructor(private readonly max: number) {}

  /**
   * The value derived from bytes equal to `bytes`, deriving it with `make` on a miss. `make` gets
   * a private copy, so nothing it keeps changes when the caller reuses its buffer.
   */
  get(bytes: Uint8Array, make: (own: Uint8Array) => V): V {
    const key = keyOf(bytes);
    const e = this.entries.get(key);
    if (e && equalBytes(e.bytes, bytes)) {
      // Move to the back, so that the first entry in the Map is the least recently used.
      if (key !== this.newest) {
        this.entries.delete(key);
        this.entries.set(key, e);
        this.newest = key;
      }
      return e.value;
    }
    const own = bytes.slice();
    const value = make(own);
    this.entries.delete(key);
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { bytes: own, value });
    this.newest = key;
    return value;
  }
}
