// Time comes from a Clock so that refresh schedules, backoff and leases can be tested by moving
// time instead of sleeping.

export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once `ms` from now (by this clock). */
  setTimer(fn: () => void, ms: number): Timer;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    // Not unref'ed: a loop that waits on this clock (the signer between rounds) is what keeps its
    // process alive; stopping is explicit (cancel, abort signals).
    const t = setTimeout(fn, Math.max(0, ms));
    return { cancel: () => clearTimeout(t) };
  },
};

interface PendingTimer {
  due: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A clock that moves only when told to; timers fire in due order during `advance`. */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private pending: PendingTimer[] = [];

  constructor(start: number | Date = Date.UTC(2026, 0, 1)) {
    this.current = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.current;
  }

  setTimer(fn: () => void, ms: number): Timer {
    const timer: PendingTimer = { due: this.current + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.pending.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  /** Moves time forward, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const next = this.pending.filter((t) => !t.cancelled && t.due <= target).sort((a, b) => a.due - b.due || a.seq - b.seq)[0];
      if (!next) break;
      this.current = Math.max(this.current, next.due);
      next.cancelled = true;
      next.fn();
    }
    this.pending = this.pending.filter((t) => !t.cancelled);
    this.current = target;
  }

  pendingTimers(): number {
    return this.pending.filter((t) => !t.cancelled).length;
  }
}
