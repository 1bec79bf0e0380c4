// The primary of a responder pod. It runs `workers` copies of the responder command (the same
// command line: cluster.fork re-runs it, and the copy knows it is a worker), each with its own
// store reader, all on one listening port. The workers accept from the shared socket themselves
// (SCHED_NONE) rather than through the primary (the cluster module's round-robin): round-robin
// accepts in the primary as fast as connections arrive and queues them for the workers, so a
// flood of connections piles up descriptors in a process no cap applies to; shared, a connection
// waits in the kernel's listen backlog (bounded) until a worker accepts it, under that worker's
// cap (connection-guard.ts). The primary serves nothing itself. It
//   - restarts a worker that dies, after a delay that doubles with each death that follows a
//     short life (a worker that cannot open its store must not fork in a tight loop);
//   - keeps each worker's last report and tells every worker the pod's readiness, which is what
//     /readyz answers whichever worker a probe reaches;
//   - puts the pod's metrics together when a worker is asked for /metrics, or serves them itself
//     on the metrics port (`--metrics-addr`, metrics-server.ts);
//   - on stop(), has every worker close (SIGTERM), killing any that outstay the deadline.
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { isPodMessage, type FromPrimary, type FromWorker, type MetricsSnapshot } from './pod-protocol.js';
import { PodMetrics } from './pod-metrics.js';
import { podReadiness, type Readiness, type WorkerStatus } from './readiness.js';

export interface SupervisorOptions {
  workers: number;
  log: Logger;
  /** How often the workers probe their stores; one silent for 4 probes counts as not ready. */
  lagPollMs: number;
}

interface Slot {
  worker: Worker | undefined;
  /** Until its server listens, a worker is starting, whatever its store says. */
  listening: boolean;
  status: WorkerStatus | undefined;
  startedAt: number;
  /** Deaths in a row, each within BACKOFF.stableMs of its start. */
  quickDeaths: number;
  restart: NodeJS.Timeout | undefined;
}

/** First restart delay, its ceiling, and how long a worker must live for the delay to start over. */
const BACKOFF = { firstMs: 250, maxMs: 30_000, stableMs: 30_000 };
/** How long workers get to close on stop() before they are killed. */
const STOP_TIMEOUT_MS = 10_000;
/** How long a scrape waits for the workers' metrics before it counts the silent ones as last reported. */
const COLLECT_TIMEOUT_MS = 1_000;
/** The variable that tells a worker which slot it fills (for its logs). */
export const WORKER_SLOT_ENV = 'OCSP_RESPONDER_WORKER';

export class Supervisor {
  private readonly slots: Slot[];
  private readonly metrics: PodMetrics;
  private readonly timer: NodeJS.Timeout;
  private view: Readiness;
  private stopping = false;
  private round = 0;
  private readonly rounds = new Map<number, { pending: Set<number>; done: () => void }>();

  constructor(private readonly o: SupervisorOptions) {
    cluster.schedulingPolicy = cluster.SCHED_NONE; // see the top of this file
    // Structured clone rather than JSON: metric values may be NaN or Infinity.
    cluster.setupPrimary({ serialization: 'advanced' });
    this.slots = Array.from({ length: o.workers }, () => ({
      worker: undefined,
      listening: false,
      status: undefined,
      startedAt: 0,
      quickDeaths: 0,
      restart: undefined,
    }));
    this.metrics = new PodMetrics(() => ({
      wanted: o.workers,
      running: this.slots.filter((s) => s.worker !== undefined).length,
      ready: this.view.workers?.ready ?? 0,
    }));
    this.view = this.evaluate();
    this.slots.forEach((_, i) => this.fork(i));
    // Readiness also changes when nothing is said: a worker that stops reporting goes stale.
    this.timer = setInterval(() => this.publish(), o.lagPollMs);
  }

  readiness(): Readiness {
    return this.view;
  }

  /** The pod's metrics, for the primary's own metrics port (`--metrics-addr`). */
  metricsText(): Promise<string> {
    return this.collect();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    const exits: Promise<void>[] = [];
    for (const s of this.slots) {
      clearTimeout(s.restart);
      const w = s.worker;
      if (w === undefined) continue;
      exits.push(
        new Promise<void>((resolve) => {
          const kill = setTimeout(() => {
            this.o.log.warn({ workerPid: w.process.pid }, 'worker did not close in time: killing it');
            w.process.kill('SIGKILL');
          }, STOP_TIMEOUT_MS);
          w.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
        }),
      );
      w.process.kill('SIGTERM');
    }
    await Promise.all(exits);
  }

  private fork(i: number): void {
    const slot = this.slots[i]!;
    slot.restart = undefined;
    const w = cluster.fork({ [WORKER_SLOT_ENV]: String(i) });
    slot.worker = w;
    slot.listening = false;
    slot.status = undefined;
    slot.startedAt = Date.now();
    this.o.log.info({ worker: i, workerPid: w.process.pid }, 'worker started');
    w.once('listening', () => {
      slot.listening = true;
      this.publish();
    });
    w.on('message', (m: unknown) => {
      if (isPodMessage<FromWorker>(m)) this.receive(i, w, m);
    });
    w.on('error', (err) => this.o.log.warn({ worker: i, err: err.message }, 'worker channel error'));
    w.once('exit', (code, signal) => this.exited(i, w, code, signal));
  }

  private exited(i: number, w: Worker, code: number | null, signal: string | null): void {
    const slot = this.slots[i]!;
    slot.worker = undefined;
    slot.status = undefined;
    this.metrics.retire(w.id);
    for (const r of this.rounds.values()) if (r.pending.delete(w.id) && r.pending.size === 0) r.done();
    if (this.stopping) return;
    const lived = Date.now() - slot.startedAt;
    slot.quickDeaths = lived < BACKOFF.stableMs ? slot.quickDeaths + 1 : 0;
    const delay = Math.min(BACKOFF.maxMs, BACKOFF.firstMs * 2 ** Math.max(0, slot.quickDeaths - 1));
    this.o.log.warn(
      { worker: i, workerPid: w.process.pid, code, signal, livedMs: lived, restartInMs: delay },
      'worker exited; restarting it',
    );
    slot.restart = setTimeout(() => {
      this.metrics.restarts.inc();
      this.fork(i);
    }, delay);
    this.publish();
  }

  private receive(i: number, w: Worker, m: FromWorker): void {
    switch (m.pod) {
      case 'status':
        this.slots[i]!.status = { ready: m.ready, lagMs: m.lagMs, detached: m.detached, detail: m.detail, at: Date.now() };
        // A worker that just started missed what was published before it listened: answer it.
        if (!this.publish()) this.send(w, { pod: 'readiness', readiness: this.view });
        return;
      case 'metrics?':
        this.collect().then(
          (text) => this.send(w, { pod: 'metrics', id: m.id, text }),
          (err: unknown) => this.o.log.error({ err: String(err) }, 'could not put the pod metrics together'),
        );
        return;
      case 'snapshot':
        this.snapshot(w.id, m.round, m.metrics);
        return;
    }
  }

  /** Asks every worker for its metrics; those that do not answer in time are counted as last reported. */
  private async collect(): Promise<string> {
    const round = this.round++;
    const live = this.slots.flatMap((s) => (s.worker !== undefined && s.worker.isConnected() ? [s.worker] : []));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(finish, COLLECT_TIMEOUT_MS);
      const rounds = this.rounds;
      function finish(): void {
        clearTimeout(timer);
        rounds.delete(round);
        resolve();
      }
      this.rounds.set(round, { pending: new Set(live.map((w) => w.id)), done: finish });
      if (live.length === 0) finish();
      for (const w of live) this.send(w, { pod: 'collect', round });
    });
    return this.metrics.text();
  }

  private snapshot(workerId: number, round: number, metrics: MetricsSnapshot): void {
    this.metrics.update(workerId, metrics);
    const r = this.rounds.get(round);
    if (r !== undefined && r.pending.delete(workerId) && r.pending.size === 0) r.done();
  }

  private evaluate(): Readiness {
    const now = Date.now();
    const statuses = this.slots.map((s) =>
      s.worker === undefined
        ? undefined
        : s.listening && s.status !== undefined
          ? s.status
          : { ready: false, lagMs: null, detached: false, detail: 'starting', at: now },
    );
    return podReadiness(statuses, now, 4 * this.o.lagPollMs);
  }

  /** Recomputes the pod's readiness and tells every worker if it changed; true if it did. */
  private publish(): boolean {
    const next = this.evaluate();
    const changed = JSON.stringify(next) !== JSON.stringify(this.view);
    if (next.ready !== this.view.ready)
      this.o.log[next.ready ? 'info' : 'warn']({ detail: next.detail, workers: next.workers }, next.ready ? 'pod ready' : 'pod not ready');
    this.view = next;
    if (changed) for (const s of this.slots) if (s.worker !== undefined) this.send(s.worker, { pod: 'readiness', readiness: next });
    return changed;
  }

  private send(w: Worker, m: FromPrimary): void {
    // A worker that has just died cannot be told anything; its exit is handled on its own.
    if (w.isConnected()) w.send(m, undefined, () => undefined);
  }
}
