// Where each live response sits in an embedded log, not the response itself: a million responses
// of half a kilobyte would otherwise cost every process that opens the log (the signer and each
// responder worker) most of a gigabyte, and their start-up the time to copy it all. Lookups read
// the frame back from the file (the page cache, shared by those processes). Per response this
// keeps a serial → slot entry and four numbers in typed arrays. Newer thisUpdate wins, so a slow
// signer finishing late cannot replace a fresher response with an older one; on a tie the later
// write wins.
import type { EntryHead } from './codec.js';

/** Where a frame is: its file offset and whole length (header included). */
export interface FramePlace {
  at: number;
  frameLength: number;
}

export class LogIndex {
  private readonly byIssuer = new Map<string, Map<string, number>>();
  private n = 0;
  private at = new Float64Array(1024);
  private frameLength = new Uint32Array(1024);
  private thisUpdate = new Float64Array(1024);
  private nextUpdate = new Float64Array(1024);

  get size(): number {
    return this.n;
  }

  /** The slot of a key, or -1. */
  slotOf(issuerId: string, serial: string): number {
    return this.byIssuer.get(issuerId)?.get(serial) ?? -1;
  }

  place(slot: number): FramePlace {
    return { at: this.at[slot]!, frameLength: this.frameLength[slot]! };
  }

  nextUpdateOf(slot: number): number {
    return this.nextUpdate[slot]!;
  }

  /**
   * Returns false when the key holds a newer response and the frame was not applied;
   * `onReplace` hears the length of the frame an applied one replaces (one lookup for both).
   */
  apply(head: EntryHead, at: number, frameLength: number, onReplace?: (previousFrameLength: number) => void): boolean {
    let serials = this.byIssuer.get(head.issuerId);
    if (serials === undefined) {
      serials = new Map();
      this.byIssuer.set(head.issuerId, serials);
    }
    let slot = serials.get(head.serial);
    if (slot !== undefined) {
      if (this.thisUpdate[slot]! > head.thisUpdate) return false;
      onReplace?.(this.frameLength[slot]!);
    } else {
      slot = this.n++;
      if (slot === this.at.length) this.grow();
      serials.set(head.serial, slot);
    }
    this.at[slot] = at;
    this.frameLength[slot] = frameLength;
    this.thisUpdate[slot] = head.thisUpdate;
    this.nextUpdate[slot] = head.nextUpdate;
    return true;
  }

  /** Every key with its slot, in no particular order. */
  *slots(): Generator<[issuerId: string, serial: string, slot: number]> {
    for (const [issuerId, serials] of this.byIssuer) {
      for (const [serial, slot] of serials) yield [issuerId, serial, slot];
    }
  }

  private grow(): void {
    const size = this.at.length * 2;
    this.at = grown(this.at, new Float64Array(size));
    this.frameLength = grown(this.frameLength, new Uint32Array(size));
    this.thisUpdate = grown(this.thisUpdate, new Float64Array(size));
    this.nextUpdate = grown(this.nextUpdate, new Float64Array(size));
  }
}

function grown<T extends Float64Array | Uint32Array>(old: T, bigger: T): T {
  bigger.set(old);
  return bigger;
}
