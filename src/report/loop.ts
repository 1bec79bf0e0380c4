// The pod side of pool reports: every few seconds, look at what this pod sees and write it to its
// key of the pool's report ConfigMap when it says something new (noisy figures rounded first:
// quantizeReport). A pod at rest writes nothing; no heartbeat is needed, because whether a report
// still counts is judged from the pod's readiness, not from the report's age. A failed write is
// logged and retried at the next tick; it never stops the pod from signing or serving.
import type { Logger } from 'pino';
import type { KubeApi } from '../kube/api.js';
import { KubeClient } from '../kube/client.js';
import { loadClusterAccess } from '../kube/cluster-access.js';
import { systemClock, type Clock, type Timer } from '../base/clock.js';
import { quantizeReport, sameReport, writeReport, type Report } from './protocol.js';

export interface ReportLoop {
  /** Looks now (after a signing round), besides the periodic looks; writes if the report changed. */
  flush(): Promise<void>;
  /** Reports written so far (each one a write to the apiserver). */
  readonly writes: number;
  stop(): void;
}

export function startReportLoop(o: {
  pool: string;
  everyMs: number;
  produce: () => Report | undefined;
  log: Logger;
  clock?: Clock;
  /** The API the reports go to (a test passes the in-memory one); by default the pod's own client. */
  client?: KubeApi;
}): ReportLoop {
  const namespace = process.env.POD_NAMESPACE;
  if (!namespace || !process.env.POD_NAME)
    throw new Error('--report-pool needs POD_NAME and POD_NAMESPACE in the environment (the downward API)');
  const client: KubeApi = o.client ?? new KubeClient(loadClusterAccess(), { userAgent: 'ocsp-operator-pool-pod', timeoutMs: 10_000 });
  const clock = o.clock ?? systemClock;
  let timer: Timer | undefined;
  let stopped = false;
  let failing = false;
  let written: Report | undefined;
  let writes = 0;
  let inFlight: Promise<void> | undefined;
  const write = async (): Promise<void> => {
    // One write at a time, so `written` is what the apiserver holds.
    while (inFlight) await inFlight.catch(() => undefined);
    const produced = o.produce();
    if (!produced) return;
    const report = quantizeReport(produced);
    if (sameReport(report, written)) return;
    const attempt = writeReport(client, { namespace, pool: o.pool, report });
    inFlight = attempt;
    try {
      await attempt;
      written = report;
      writes++;
      if (failing) o.log.info({ pool: `${namespace}/${o.pool}` }, 'pool report written again');
      failing = false;
    } catch (err) {
      if (!failing)
        o.log.warn(
          { pool: `${namespace}/${o.pool}`, err: err instanceof Error ? err.message : String(err) },
          'could not write the pool report',
        );
      failing = true;
    } finally {
      inFlight = undefined;
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
    get writes() {
      return writes;
    },
    stop() {
      stopped = true;
      timer?.cancel();
    },
  };
}

export const podName = (): string => process.env.POD_NAME ?? '';
