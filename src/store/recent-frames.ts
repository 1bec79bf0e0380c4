// The responses read back from a log lately, so the ones clients ask for again and again are
// answered without a read and a decode each time. An entry is keyed by its index slot and
// remembers the frame offset it was read from: once the slot points at a newer frame the entry no
// longer matches and is read again, so the cache can never serve a superseded response. Slots
// are numbered per index, so an index that is replaced (a compaction, a reload) comes with a new
// cache.
import { readFrameAt } from './log-format.js';
import type { FramePlace } from './log-index.js';
import type { StoredEntry } from './types.js';

export class RecentFrames {
  private readonly bySlot = new Map<number, { at: number; entry: StoredEntry }>();

  constructor(private readonly capacity = 4096) {}

  read(fd: number, slot: number, { at, frameLength }: FramePlace): StoredEntry {
    const hit = this.bySlot.get(slot);
    if (hit !== undefined && hit.at === at) return hit.entry;
    const entry = readFrameAt(fd, at, frameLength);
    if (hit === undefined && this.bySlot.size >= this.capacity) {
      // Drop the oldest insertion (Map keeps insertion order), as the request resolver does.
      const oldest = this.bySlot.keys().next().value;
      if (oldest !== undefined) this.bySlot.delete(oldest);
    }
    this.bySlot.set(slot, { at, entry });
    return entry;
  }
}
