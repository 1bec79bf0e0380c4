// Leader election over a coordination.k8s.io Lease, as client-go does it: the holder renews every
// retry period; a candidate takes over only when it has seen the same renewTime for a whole lease
// duration by its own clock (so clock skew between nodes does not matter); every write carries the
// resourceVersion it read, so two candidates racing get one 409. A leader that cannot renew within
// the renew deadline stops leading: better a gap than two leaders.
import type { Logger } from 'pino';
import { isConflict, isNotFound, type KubeApi } from './api.js';
import { LeaseType, type Lease } from './types.js';
import type { Clock, Timer } from '../base/clock.js';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  clock: Clock;
  log: Logger;
  onStartedLeading(): void;
  onStoppedLeading(): void;
}

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private timer: Timer | undefined;
  private lastRenew = 0;
  private observed: { holder: string; renewTime: string; at: number } | undefined;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;

  constructor(
    private readonly client: KubeApi,
    private readonly opts: LeaderElectionOptions,
  ) {
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.stopped = false;
    void this.tick();
  }

  /** Stops campaigning; a leader gives the lease up so a follower takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    if (!this.leading) return;
    this.setLeading(false);
    try {
      const lease = await this.client.get<Lease>(LeaseType, this.opts.namespace, this.opts.name);
      if (lease.spec?.holderIdentity === this.opts.identity) {
        lease.spec = { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: null, acquireTime: null };
        await this.client.replace(LeaseType, lease);
      }
    } catch (err) {
      this.opts.log.warn({ err: String(err) }, 'could not release the lease; it will expire');
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.opts.clock.setTimer(() => void this.tick(), this.retryPeriodMs);
  }

  private async tick(): Promise<void> {
    try {
      await this.tryAcquireOrRenew();
    } catch (err) {
      this.opts.log.warn({ err: String(err), lease: `${this.opts.namespace}/${this.opts.name}` }, 'lease update failed');
    }
    if (this.leading && this.opts.clock.now() - this.lastRenew > this.renewDeadlineMs) {
      this.opts.log.error(
        { lease: `${this.opts.namespace}/${this.opts.name}` },
        'could not renew the lease within the renew deadline; stepping down',
      );
      this.setLeading(false);
    }
    this.schedule();
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const now = this.opts.clock.now();
    const nowIso = new Date(now).toISOString().replace(/Z$/, '000Z'); // MicroTime wants microseconds
    const lease = await this.client.getOrUndefined<Lease>(LeaseType, this.opts.namespace, this.opts.name);
    const spec = {
      holderIdentity: this.opts.identity,
      leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
      renewTime: nowIso,
    };
    if (!lease) {
      await this.write(() =>
        this.client.create(LeaseType, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.opts.name, namespace: this.opts.namespace },
          spec: { ...spec, acquireTime: nowIso, leaseTransitions: 0 },
        }),
      );
      return;
    }
    const holder = lease.spec?.holderIdentity ?? '';
    const renewTime = lease.spec?.renewTime ?? '';
    if (!this.observed || this.observed.holder !== holder || this.observed.renewTime !== renewTime) {
      this.observed = { holder, renewTime, at: now };
    }
    const durationMs = (lease.spec?.leaseDurationSeconds ?? 15) * 1000;
    const held = holder !== '' && holder !== this.opts.identity && now < this.observed.at + durationMs;
    if (held) {
      if (this.leading) this.setLeading(false);
      return;
    }
    const transitions = (lease.spec?.leaseTransitions ?? 0) + (holder === this.opts.identity ? 0 : 1);
    const acquireTime = holder === this.opts.identity ? lease.spec?.acquireTime : nowIso;
    lease.spec = { ...lease.spec, ...spec, acquireTime, leaseTransitions: transitions };
    await this.write(() => this.client.replace(LeaseType, lease));
  }

  private async write(op: () => Promise<unknown>): Promise<void> {
    try {
      await op();
    } catch (err) {
      if (isConflict(err) || isNotFound(err)) return; // another candidate won this round
      throw err;
    }
    this.lastRenew = this.opts.clock.now();
    if (!this.leading) this.setLeading(true);
  }

  private setLeading(leading: boolean): void {
    if (this.leading === leading) return;
    this.leading = leading;
    this.opts.log.info(
      { lease: `${this.opts.namespace}/${this.opts.name}`, identity: this.opts.identity },
      leading ? 'became leader' : 'stopped leading',
    );
    if (leading) this.opts.onStartedLeading();
    else this.opts.onStoppedLeading();
  }
}
