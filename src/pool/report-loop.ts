// The pod side of pool reports: every few seconds, write what this pod sees to its key of the
// pool's report ConfigMap. A failed write is logged and retried at the next tick; it never stops
// the pod from signing or serving.
import type { Logger } from 'pino';
import { KubeClient } from '../kube/client.js';
import { loadKubeConfig } from '../kube/config.js';
import { systemClock, type Clock, type Timer } from '../runtime/clock.js';
import { writeReport, type Report } from './report.js';

export interface ReportLoop {
  /** Writes now (after a signing round), besides the periodic writes. */
  flush(): Promise<void>;
  stop(): void;
}

export function startReportLoop(o: { pool: string; everyMs: number; produce: () => Report | undefined; log: Logger; clock?: Clock; client?: KubeClient }): ReportLoop {
  const namespace = process.env.POD_NAMESPACE;
  if (!namespace || !process.env.POD_NAME) throw new Error('--report-pool needs POD_NAME and POD_NAMESPACE in the environment (the downward API)');
  const client = o.client ?? new KubeClient(loadKubeConfig(), { userAgent: 'ocsp-operator-pool-pod', timeoutMs: 10_000 });
  const clock = o.clock ?? systemClock;
  let timer: Timer | undefined;
  let stopped = false;
  let failing = false;
  const write = async () => {
    const report = o.produce();
    if (!report) return;
    try {
      await writeReport(client, { namespace, pool: o.pool, report });
      if (failing) o.log.info({ pool: `${namespace}/${o.pool}` }, 'pool report written again');
      failing = false;
    } catch (err) {
      if (!failing) o.log.warn({ pool: `${namespace}/${o.pool}`, err: err instanceof Error ? err.message : String(err) }, 'could not write the pool report');
      failing = true;
    }
  };
  const tick = () => {
    if (stopped) return;
    void write().finally(() => {
      if (!stopped) timer = clock.setTimer(tick, o.everyMs);
    });
  };
  tick();
  return {
    flush: write,
    stop() {
      stopped = true;
      timer?.cancel();
    },
  };
}

export const podName = (): string => process.env.POD_NAME ?? '';
