// An index together with the open log file it points into, and the recent reads of that pair:
// what the writer and a follower serve from, replaced as one (a compaction or a reload) so a read
// never pairs offsets of one file with another file.
import type { FileHandle } from 'node:fs/promises';
import { readFrameAt } from './log-format.js';
import { LogIndex } from './log-index.js';
import { RecentFrames } from './recent-frames.js';
import type { StoredEntry } from './types.js';

export class LogView {
  private readonly recent = new RecentFrames();

  constructor(
    readonly fh: FileHandle,
    readonly index = new LogIndex(),
  ) {}

  get(issuerId: string, serial: string): StoredEntry | undefined {
    const slot = this.index.slotOf(issuerId, serial);
    if (slot < 0) return undefined;
    const place = this.index.place(slot);
    const entry = this.recent.read(this.fh.fd, slot, place);
    // An index read from a checkpoint is checked against its log, but only in samples.
    if (entry.serial !== serial || entry.issuerId !== issuerId)
      throw new Error(`response log: the frame at ${place.at} is not ${serial}'s`);
    return entry;
  }
}

/**
 * Every response of the view current when the walk starts, each read back from the view current
 * when it is read (a view replaced mid-walk is looked up again by key). Bypasses the recent reads:
 * a full walk would only push out what clients ask for.
 */
export function* walkEntries(current: () => LogView | undefined): Generator<StoredEntry> {
  const first = current();
  if (first === undefined) return;
  for (const [issuerId, serial, slot] of first.index.slots()) {
    const view = current();
    if (view === undefined) return;
    const now = view === first ? slot : view.index.slotOf(issuerId, serial);
    if (now < 0) continue;
    const { at, frameLength } = view.index.place(now);
    yield readFrameAt(view.fh.fd, at, frameLength);
  }
}
