// Keys waiting for a time, behind one timer: a min-heap by due time, the clock's timer armed for the
// earliest. An operator of 10,000 staples has a scheduled look for each; a timer apiece cost ~400
// bytes (Node's Timeout, and a timer list per distinct delay), this an entry in an array.
import type { Clock, Timer } from '../base/clock.js';

interface Entry {
  due: number;
  key: string;
}

export class DelayedKeys {
  /** The due time that counts for each key; heap entries that disagree with it are stale. */
  private readonly dues = new Map<string, number>();
  private readonly heap: Entry[] = [];
  private armed: { due: number; timer: Timer } | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly fire: (key: string) => void,
  ) {}

  /** Schedules `key` at `due` (epoch ms); an earlier pending time for the same key wins. */
  schedule(key: string, due: number): void {
    const existing = this.dues.get(key);
    if (existing !== undefined && existing <= due) return;
    this.dues.set(key, due);
    this.push({ due, key });
    // Superseded entries stay in the heap until popped; rebuild when they outnumber the live ones.
    if (this.heap.length > 2 * this.dues.size + 64) this.rebuild();
    this.arm();
  }

  get size(): number {
    return this.dues.size;
  }

  clear(): void {
    this.armed?.timer.cancel();
    this.armed = undefined;
    this.dues.clear();
    this.heap.length = 0;
  }

  private arm(): void {
    const next = this.heap[0];
    if (!next) return;
    if (this.armed && this.armed.due <= next.due) return;
    this.armed?.timer.cancel();
    const due = next.due;
    this.armed = { due, timer: this.clock.setTimer(() => this.onTimer(), due - this.clock.now()) };
  }

  private onTimer(): void {
    this.armed = undefined;
    const now = this.clock.now();
    const ready: string[] = [];
    for (let top = this.heap[0]; top && top.due <= now; top = this.heap[0]) {
      this.pop();
      if (this.dues.get(top.key) !== top.due) continue; // superseded by an earlier time
      this.dues.delete(top.key);
      ready.push(top.key);
    }
    this.arm();
    for (const key of ready) this.fire(key);
  }

  private rebuild(): void {
    this.heap.length = 0;
    for (const [key, due] of this.dues) this.push({ due, key });
  }

  private push(e: Entry): void {
    const h = this.heap;
    let i = h.push(e) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent] as Entry;
      if (p.due <= e.due) break;
      h[i] = p;
      i = parent;
    }
    h[i] = e;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (!last || h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && (h[r] as Entry).due < (h[l] as Entry).due ? r : l;
      if ((h[c] as Entry).due >= last.due) break;
      h[i] = h[c] as Entry;
      i = c;
    }
    h[i] = last;
  }
}
