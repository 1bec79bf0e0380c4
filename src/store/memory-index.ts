// The in-memory view both embedded modes serve reads from. Nested maps (issuer → serial → value)
// so a lookup needs no string concatenation. Newer thisUpdate wins, so a slow signer finishing
// late cannot replace a fresher response with an older one; on a tie the later write wins.
import type { StoredEntry, StoredResponse, StoreStats } from './types.js';

export class MemoryIndex {
  private readonly byIssuer = new Map<string, Map<string, StoredResponse>>();
  private n = 0;

  get(issuerId: string, serial: string): StoredResponse | undefined {
    return this.byIssuer.get(issuerId)?.get(serial);
  }

  /**
   * Returns false when an existing response is newer and the entry was not applied; `onReplace`
   * hears of the response an applied entry replaces (one lookup for both).
   */
  apply(e: StoredEntry, onReplace?: (previous: StoredResponse) => void): boolean {
    let serials = this.byIssuer.get(e.issuerId);
    if (serials === undefined) {
      serials = new Map();
      this.byIssuer.set(e.issuerId, serials);
    }
    const prev = serials.get(e.serial);
    if (prev !== undefined && prev.thisUpdate > e.thisUpdate) return false;
    if (prev === undefined) this.n++;
    else onReplace?.(prev);
    serials.set(e.serial, { der: e.der, thisUpdate: e.thisUpdate, nextUpdate: e.nextUpdate, etag: e.etag, status: e.status });
    return true;
  }

  delete(issuerId: string, serial: string): void {
    const serials = this.byIssuer.get(issuerId);
    if (serials?.delete(serial)) this.n--;
  }

  get size(): number {
    return this.n;
  }

  *entries(): Generator<StoredEntry> {
    for (const [issuerId, serials] of this.byIssuer) {
      for (const [serial, r] of serials) yield { issuerId, serial, ...r };
    }
  }

  stats(): StoreStats {
    let oldest: number | undefined;
    let soonest: number | undefined;
    for (const serials of this.byIssuer.values()) {
      for (const r of serials.values()) {
        if (oldest === undefined || r.thisUpdate < oldest) oldest = r.thisUpdate;
        if (soonest === undefined || r.nextUpdate < soonest) soonest = r.nextUpdate;
      }
    }
    return { count: this.n, oldestThisUpdate: oldest, soonestNextUpdate: soonest };
  }
}
