// Where each live response sits in an embedded log, not the response itself: a million responses
// of half a kilobyte would otherwise cost every process that opens the log (the signer and each
// responder worker) most of a gigabyte, and their start-up the time to copy it all. Lookups read
// the frame back from the file (the page cache, shared by those processes). Newer thisUpdate
// wins, so a slow signer finishing late cannot replace a fresher response with an older one; on a
// tie the later write wins.
//
// Every key lives in typed arrays, none as a JS string or Map entry: an open-addressing table of
// slots keyed by a hash of (issuer, serial), the serial's bytes in one arena. A million string
// keys in a Map cost each opening process seconds of inserts and garbage collection (half of a
// start-up's CPU) and a hundred bytes a key; here a key costs its serial and a dozen bytes.
import type { EntryHead } from './codec.js';

/** Where a frame is: its file offset and whole length (header included). */
export interface FramePlace {
  at: number;
  frameLength: number;
}

const EMPTY = -1;

/** Everything an index is, as plain arrays (index-snapshot.ts writes and reads it); `n` slots used. */
export interface LogIndexState {
  issuerIds: string[];
  n: number;
  issuer: Uint32Array<ArrayBuffer>;
  serialAt: Uint32Array<ArrayBuffer>;
  serialLength: Uint8Array<ArrayBuffer>;
  at: Float64Array<ArrayBuffer>;
  frameLength: Uint32Array<ArrayBuffer>;
  thisUpdate: Float64Array<ArrayBuffer>;
  nextUpdate: Float64Array<ArrayBuffer>;
  serials: Uint8Array<ArrayBuffer>;
  table: Int32Array<ArrayBuffer>;
}

export class LogIndex {
  /** Issuers are few (a pool's CAs): their ids stay strings, numbered in order of appearance. */
  private readonly issuerNumbers = new Map<string, number>();
  private readonly issuerIds: string[] = [];
  private n = 0;
  // Per slot.
  private issuer = new Uint32Array(1024);
  private serialAt = new Uint32Array(1024);
  private serialLength = new Uint8Array(1024);
  private at = new Float64Array(1024);
  private frameLength = new Uint32Array(1024);
  private thisUpdate = new Float64Array(1024);
  private nextUpdate = new Float64Array(1024);
  /** The serials' bytes (latin1, as the codec stores them), back to back. */
  private serials = new Uint8Array(64 * 1024);
  private serialsEnd = 0;
  /** Open addressing, linear probing: a slot or EMPTY; at most half full. */
  private table = new Int32Array(2048).fill(EMPTY);

  get size(): number {
    return this.n;
  }

  /** The arrays as they are (not copies), cut to what is used, except the table. */
  state(): LogIndexState {
    const n = this.n;
    return {
      issuerIds: [...this.issuerIds],
      n,
      issuer: this.issuer.subarray(0, n),
      serialAt: this.serialAt.subarray(0, n),
      serialLength: this.serialLength.subarray(0, n),
      at: this.at.subarray(0, n),
      frameLength: this.frameLength.subarray(0, n),
      thisUpdate: this.thisUpdate.subarray(0, n),
      nextUpdate: this.nextUpdate.subarray(0, n),
      serials: this.serials.subarray(0, this.serialsEnd),
      table: this.table,
    };
  }

  /** An index holding `state`, which it takes over; the caller checked that the arrays agree. */
  static restore(state: LogIndexState): LogIndex {
    const index = new LogIndex();
    state.issuerIds.forEach((id, i) => {
      index.issuerIds.push(id);
      index.issuerNumbers.set(id, i);
    });
    index.n = state.n;
    index.issuer = state.issuer;
    index.serialAt = state.serialAt;
    index.serialLength = state.serialLength;
    index.at = state.at;
    index.frameLength = state.frameLength;
    index.thisUpdate = state.thisUpdate;
    index.nextUpdate = state.nextUpdate;
    index.serials = state.serials;
    index.serialsEnd = state.serials.length;
    index.table = state.table;
    return index;
  }

  /** The sum of the indexed frames' lengths: the live bytes of a log. */
  liveBytes(): number {
    let sum = 0;
    for (let slot = 0; slot < this.n; slot++) sum += this.frameLength[slot]!;
    return sum;
  }

  /** The slot of a key, or -1. */
  slotOf(issuerId: string, serial: string): number {
    const issuer = this.issuerNumbers.get(issuerId);
    if (issuer === undefined) return -1;
    const t = this.find(issuer, serial);
    return t < 0 ? -1 : this.table[t]!;
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
    const issuer = this.issuerNumberOf(head.issuerId);
    const t = this.find(issuer, head.serial);
    let slot: number;
    if (t >= 0) {
      slot = this.table[t]!;
      if (this.thisUpdate[slot]! > head.thisUpdate) return false;
      onReplace?.(this.frameLength[slot]!);
    } else {
      slot = this.add(issuer, head.serial, -t - 1);
    }
    this.at[slot] = at;
    this.frameLength[slot] = frameLength;
    this.thisUpdate[slot] = head.thisUpdate;
    this.nextUpdate[slot] = head.nextUpdate;
    return true;
  }

  /** Every key with its slot, in the order the keys first appeared. */
  *slots(): Generator<[issuerId: string, serial: string, slot: number]> {
    for (let slot = 0; slot < this.n; slot++) yield [...this.keyOf(slot), slot];
  }

  keyOf(slot: number): [issuerId: string, serial: string] {
    const from = this.serialAt[slot]!;
    return [this.issuerIds[this.issuer[slot]!]!, String.fromCharCode(...this.serials.subarray(from, from + this.serialLength[slot]!))];
  }

  private issuerNumberOf(issuerId: string): number {
    let issuer = this.issuerNumbers.get(issuerId);
    if (issuer === undefined) {
      issuer = this.issuerIds.length;
      this.issuerIds.push(issuerId);
      this.issuerNumbers.set(issuerId, issuer);
    }
    return issuer;
  }

  /** The table position holding the key, or -(the empty position where it would go) - 1. */
  private find(issuer: number, serial: string): number {
    const mask = this.table.length - 1;
    for (let t = keyHash(issuer, serial) & mask; ; t = (t + 1) & mask) {
      const slot = this.table[t]!;
      if (slot === EMPTY) return -t - 1;
      if (this.issuer[slot] === issuer && this.serialIs(slot, serial)) return t;
    }
  }

  private serialIs(slot: number, serial: string): boolean {
    if (this.serialLength[slot] !== serial.length) return false;
    const from = this.serialAt[slot]!;
    for (let i = 0; i < serial.length; i++) if (this.serials[from + i] !== serial.charCodeAt(i)) return false;
    return true;
  }

  private add(issuer: number, serial: string, position: number): number {
    const slot = this.n++;
    if (slot >= this.at.length) this.growSlots();
    if (this.serialsEnd + serial.length > this.serials.length) this.serials = grown(this.serials, serial.length);
    const from = this.serialsEnd;
    for (let i = 0; i < serial.length; i++) this.serials[from + i] = serial.charCodeAt(i);
    this.serialsEnd += serial.length;
    this.issuer[slot] = issuer;
    this.serialAt[slot] = from;
    this.serialLength[slot] = serial.length;
    this.table[position] = slot;
    if (this.n * 2 > this.table.length) this.rehash();
    return slot;
  }

  private growSlots(): void {
    this.issuer = grown(this.issuer);
    this.serialAt = grown(this.serialAt);
    this.serialLength = grown(this.serialLength);
    this.at = grown(this.at);
    this.frameLength = grown(this.frameLength);
    this.thisUpdate = grown(this.thisUpdate);
    this.nextUpdate = grown(this.nextUpdate);
  }

  private rehash(): void {
    const table = new Int32Array(this.table.length * 2).fill(EMPTY);
    const mask = table.length - 1;
    for (let slot = 0; slot < this.n; slot++) {
      const from = this.serialAt[slot]!;
      let t = bytesHash(this.issuer[slot]!, this.serials, from, from + this.serialLength[slot]!) & mask;
      while (table[t] !== EMPTY) t = (t + 1) & mask;
      table[t] = slot;
    }
    this.table = table;
  }
}

// FNV-1a over the issuer number's bytes and the serial's, the same for a string and its bytes,
// then mixed down: FNV's low bits (the table's mask) see only the bytes' low bits, and serials
// differ in a few trailing hex digits.
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function issuerSeed(issuer: number): number {
  let h = FNV_OFFSET;
  for (let s = 0; s < 32; s += 8) h = Math.imul(h ^ ((issuer >>> s) & 0xff), FNV_PRIME);
  return h;
}

function keyHash(issuer: number, serial: string): number {
  let h = issuerSeed(issuer);
  for (let i = 0; i < serial.length; i++) h = Math.imul(h ^ serial.charCodeAt(i), FNV_PRIME);
  return mixed(h);
}

function bytesHash(issuer: number, bytes: Uint8Array, from: number, to: number): number {
  let h = issuerSeed(issuer);
  for (let i = from; i < to; i++) h = Math.imul(h ^ bytes[i]!, FNV_PRIME);
  return mixed(h);
}

/** MurmurHash3's finalizer: every input bit reaches the low bits. */
function mixed(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

type Grown = Float64Array | Uint32Array | Uint8Array;

/** A copy twice as long (at least `extra` longer). */
function grown<T extends Grown>(old: T, extra = 0): T {
  const bigger = new (old.constructor as new (length: number) => T)(Math.max(old.length * 2, old.length + extra, 1024));
  bigger.set(old);
  return bigger;
}
