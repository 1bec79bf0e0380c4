// A StatefulSet pod's share of the serials, learned at run time: share <ordinal> of the
// StatefulSet's spec.replicas, the ordinal from POD_NAME (`<statefulset>-<ordinal>`). Scaling
// changes spec.replicas only, never the pod template, so no running signer restarts: each one
// moves to its new share when the watch tells it (milliseconds), and a pod whose ordinal is at or
// past the count (being scaled away) owns nothing.
//
// Requests per pod: one GET, then one watch of that StatefulSet alone (a fieldSelector on
// metadata.name, which lets RBAC limit the grant to resourceNames), renewed with a GET when the
// server ends it after 5–10 minutes: about 0.3 requests a minute at rest, whatever the round
// interval. When the API cannot be read, the last known share stays (never a guessed count of 1,
// which would sign everything twice over), said once in the log.
import type { Logger } from 'pino';
import type { KubeClient } from '../kube/client.js';
import type { KubeObject } from '../kube/types.js';
import { StatefulSetType } from '../kube/types.js';
import { systemClock, type Clock, type Timer } from '../base/clock.js';
import { backoffDelay, type BackoffPolicy } from '../base/backoff.js';
import type { Shard } from './planner.js';

interface StatefulSetObj extends KubeObject {
  spec?: { replicas?: number };
}

/** The ordinal of StatefulSet `statefulSet`'s pod `pod`, or an Error saying why there is none. */
export function ordinalOf(pod: string, statefulSet: string): number {
  const m = /^(\d+)$/.exec(pod.startsWith(`${statefulSet}-`) ? pod.slice(statefulSet.length + 1) : '');
  if (!m)
    throw new Error(
      `pod name ${JSON.stringify(pod)} is not <${statefulSet}>-<ordinal>: --shard-from-statefulset needs the StatefulSet's own pod (POD_NAME from the downward API)`,
    );
  return Number(m[1]);
}

export interface StatefulSetShareOptions {
  client: KubeClient;
  namespace: string;
  /** the StatefulSet whose pod this process runs in */
  name: string;
  podName: string;
  log: Logger;
  clock?: Clock;
  backoff?: BackoffPolicy;
}

export class StatefulSetShare {
  readonly ordinal: number;
  /** what this source asked of the apiserver, for the request-rate figure */
  readonly requests = { gets: 0, watches: 0 };
  private count: number | undefined;
  private stopped = false;
  private failures = 0;
  private failing = false;
  private abort: AbortController | undefined;
  private timer: Timer | undefined;
  private waiters: Array<() => void> = [];
  private readonly clock: Clock;

  constructor(private readonly o: StatefulSetShareOptions) {
    this.ordinal = ordinalOf(o.podName, o.name);
    this.clock = o.clock ?? systemClock;
  }

  start(): void {
    void this.sync();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.abort?.abort();
    for (const w of this.waiters.splice(0)) w();
  }

  /** The share now; only after `ready()` resolved with true. */
  current(): Shard {
    if (this.count === undefined) throw new Error('the StatefulSet has not been read yet');
    return { index: this.ordinal, count: this.count };
  }

  /** Resolves true once the StatefulSet was read, false if stopped first. */
  ready(): Promise<boolean> {
    if (this.count !== undefined) return Promise.resolve(true);
    if (this.stopped) return Promise.resolve(false);
    return new Promise((resolve) => this.waiters.push(() => resolve(this.count !== undefined)));
  }

  private observe(sts: StatefulSetObj): void {
    // The API defaults spec.replicas to 1.
    const count = sts.spec?.replicas ?? 1;
    if (count === this.count) return;
    const from = this.count === undefined ? undefined : `${this.ordinal}/${this.count}`;
    this.count = count;
    this.o.log.info(
      {
        statefulSet: this.o.name,
        ordinal: this.ordinal,
        replicas: count,
        from,
        share: `${this.ordinal}/${count}`,
        signsNothing: this.ordinal >= count,
      },
      from ? 'share changed' : 'share learned',
    );
    for (const w of this.waiters.splice(0)) w();
  }

  /** GET, then watch from the version read. */
  private async sync(): Promise<void> {
    if (this.stopped) return;
    let rv: string;
    try {
      this.requests.gets++;
      const sts = await this.o.client.get<StatefulSetObj>(StatefulSetType, this.o.namespace, this.o.name);
      if (this.stopped) return;
      if (this.failing) this.o.log.info({ statefulSet: this.o.name }, 'StatefulSet readable again');
      this.failing = false;
      this.failures = 0;
      this.observe(sts);
      rv = sts.metadata?.resourceVersion ?? '';
    } catch (err) {
      this.retry(`read failed: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    await this.watch(rv);
  }

  private async watch(resourceVersion: string): Promise<void> {
    if (this.stopped) return;
    const started = this.clock.now();
    // The server ends the watch after timeoutSeconds (spread so pods do not reconnect together);
    // a connection that dies silently is given up a minute after that.
    const timeoutSeconds = 300 + Math.floor(Math.random() * 300);
    let ended = false;
    let resync = false;
    const end = (err: unknown) => {
      if (ended) return;
      ended = true;
      guard.cancel();
      this.abort = undefined;
      if (this.stopped) return;
      const lasted = this.clock.now() - started;
      // A clean end after a real watch (or an ERROR event such as 410 Gone): read again at once.
      // An error, or a watch the server ends at once, backs off so a broken path is not hammered.
      if (!err && (resync || lasted >= 5_000)) void this.sync();
      else this.retry(err ? `watch ended: ${err instanceof Error ? err.message : String(err)}` : 'watch ended at once');
    };
    const guard = this.clock.setTimer(
      () => {
        this.abort?.abort();
        end(undefined);
      },
      (timeoutSeconds + 60) * 1000,
    );
    try {
      this.requests.watches++;
      this.abort = await this.o.client.watch(
        StatefulSetType,
        { namespace: this.o.namespace, fieldSelector: `metadata.name=${this.o.name}`, resourceVersion, timeoutSeconds },
        (phase, obj) => {
          if (ended) return;
          if (phase === 'ERROR') resync = true;
          // DELETED: the StatefulSet (and so this pod) is going away; the last share stands.
          else if (phase === 'ADDED' || phase === 'MODIFIED') this.observe(obj as StatefulSetObj);
        },
        end,
      );
      if (ended || this.stopped) this.abort?.abort();
    } catch (err) {
      end(err);
    }
  }

  private retry(reason: string): void {
    if (this.stopped) return;
    const delay = backoffDelay(this.o.backoff ?? { baseDelayMs: 1_000, maxDelayMs: 15_000 }, this.failures++);
    if (!this.failing) {
      this.o.log.warn(
        {
          statefulSet: this.o.name,
          reason,
          retryInMs: delay,
          keeping: this.count === undefined ? 'nothing known yet: not signing' : `${this.ordinal}/${this.count}`,
        },
        'cannot read the StatefulSet; keeping the last known share',
      );
    }
    this.failing = true;
    this.timer = this.clock.setTimer(() => void this.sync(), delay);
  }
}
