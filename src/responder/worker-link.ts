// A worker's side of its pod: it reports its store lag to the primary after every probe, and
// answers /readyz and /metrics with what the primary says about the whole pod. When the primary
// dies the IPC channel closes and Node's cluster module exits the worker at once, so a worker
// never outlives its primary (test/responder/workers.test.ts kills the primary to prove it).
import type { Registry } from 'prom-client';
import type { StoreLag } from '../store/types.js';
import { isPodMessage, type FromPrimary, type FromWorker } from './pod-protocol.js';
import { processReadiness, type Readiness } from './readiness.js';

/** What a responder server needs from the pod it belongs to. */
export interface Pod {
  /** The responder's own metrics, which the pod's include. Called once, at start. */
  join(registry: Registry): void;
  /** After each lag probe. */
  report(ready: boolean, lag: StoreLag): void;
  readiness(): Readiness;
  /** The pod's metrics in Prometheus text format. */
  metrics(): Promise<string>;
}

const METRICS_TIMEOUT_MS = 5_000;

export class WorkerLink implements Pod {
  private registry: Registry | undefined;
  private view: Readiness = { ready: false, lagMs: null, detached: null, detail: 'no word from the primary yet' };
  private nextId = 0;
  private readonly waiting = new Map<number, (text: string | Error) => void>();

  constructor(private readonly channel: NodeJS.Process = process) {
    channel.on('message', (m: unknown) => {
      if (isPodMessage<FromPrimary>(m)) this.receive(m);
    });
  }

  join(registry: Registry): void {
    this.registry = registry;
  }

  report(ready: boolean, lag: StoreLag): void {
    const r = processReadiness(ready, lag);
    this.send({ pod: 'status', ready, lagMs: r.lagMs, detached: lag.detached, detail: r.detail });
  }

  readiness(): Readiness {
    return this.view;
  }

  metrics(): Promise<string> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => settle(new Error(`the primary did not answer for metrics within ${METRICS_TIMEOUT_MS} ms`)),
        METRICS_TIMEOUT_MS,
      );
      const settle = (r: string | Error): void => {
        clearTimeout(timer);
        this.waiting.delete(id);
        if (r instanceof Error) reject(r);
        else resolve(r);
      };
      this.waiting.set(id, settle);
      this.send({ pod: 'metrics?', id });
    });
  }

  private receive(m: FromPrimary): void {
    switch (m.pod) {
      case 'readiness':
        this.view = m.readiness;
        return;
      case 'collect':
        this.registry?.getMetricsAsJSON().then(
          (metrics) => this.send({ pod: 'snapshot', round: m.round, metrics }),
          () => undefined,
        );
        return;
      case 'metrics':
        this.waiting.get(m.id)?.(m.text);
        return;
    }
  }

  private send(m: FromWorker): void {
    // A failed send means the primary is gone, and the cluster module is already exiting us.
    if (this.channel.connected) this.channel.send?.(m, undefined, undefined, () => undefined);
  }
}
