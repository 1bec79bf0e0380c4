// Counts a store's responses and finds its oldest thisUpdate and soonest nextUpdate by walking
// every entry: what a test checks after the fact. The product never asks a store this (a pool's
// figures come from its signers' reports), so no store keeps it or scans for it.
import type { ResponseStore } from '../../src/store/index.js';

export interface StoreStats {
  count: number;
  oldestThisUpdate: number | undefined;
  soonestNextUpdate: number | undefined;
}

export async function storeStats(store: Pick<ResponseStore, 'entries'>): Promise<StoreStats> {
  let count = 0;
  let oldest: number | undefined;
  let soonest: number | undefined;
  for await (const e of store.entries()) {
    count++;
    if (oldest === undefined || e.thisUpdate < oldest) oldest = e.thisUpdate;
    if (soonest === undefined || e.nextUpdate < soonest) soonest = e.nextUpdate;
  }
  return { count, oldestThisUpdate: oldest, soonestNextUpdate: soonest };
}
