// Polls the store's lag in the background so that readiness and the lag policy read a field
// instead of asking Redis on every request. Not ready until the first probe has answered.
import type { Logger } from 'pino';
import type { ResponseStore, StoreLag } from '../store/types.js';

export class LagMonitor {
  private last: StoreLag | undefined;
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  lagging = true;

  constructor(
    private readonly store: ResponseStore,
    private readonly thresholdMs: number,
    private readonly pollMs: number,
    private readonly log: Logger,
    private readonly onProbe: (lag: StoreLag) => void,
  ) {}

  async start(): Promise<void> {
    await this.probe();
    this.timer = setInterval(() => void this.probe(), this.pollMs);
    this.timer.unref();
  }

  get lastLag(): StoreLag | undefined {
    return this.last;
  }

  async probe(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    try {
      let lag: StoreLag;
      try {
        lag = await this.store.lag();
      } catch (e) {
        lag = { lagMs: Infinity, detached: true, detail: e instanceof Error ? e.message : String(e) };
      }
      this.last = lag;
      const lagging = lag.detached || !(lag.lagMs <= this.thresholdMs);
      if (lagging !== this.lagging) {
        const fields = { lagMs: lag.lagMs, detached: lag.detached, detail: lag.detail, thresholdMs: this.thresholdMs };
        if (lagging) this.log.warn(fields, 'store lags past the threshold: not ready');
        else this.log.info(fields, 'store caught up: ready');
      }
      this.lagging = lagging;
      this.onProbe(lag);
    } finally {
      this.probing = false;
    }
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }
}
