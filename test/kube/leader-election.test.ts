// Leader election on the in-memory API and the ManualClock: one leader at a time, a takeover only
// after the lease went unrenewed for a whole lease duration by the candidate's own clock, and a
// partitioned leader that steps down at its renew deadline, before anyone else can take over.
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/base/clock.js';
import { KubeApiError, type KubeApi } from '../../src/kube/api.js';
import { LeaderElector } from '../../src/kube/leader-election.js';
import { LeaseType, type Lease } from '../../src/kube/types.js';
import { FakeKube } from '../support/fake-kube.js';

let clock: ManualClock;
let fake: FakeKube;
const electors: LeaderElector[] = [];

beforeEach(() => {
  clock = new ManualClock();
  fake = new FakeKube({ clock });
});

afterEach(async () => {
  for (const e of electors.splice(0)) await e.stop();
});

/** The fake as one candidate sees it: `cut` makes every call fail as an unreachable server would. */
function link(api: KubeApi): { api: KubeApi; cut: boolean } {
  const l = { cut: false, api };
  l.api = new Proxy(api, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) =>
        l.cut
          ? Promise.reject(new KubeApiError(0, 'Unreachable', 'partitioned', ''))
          : (v as (...a: unknown[]) => unknown).apply(target, args);
    },
  });
  return l;
}

function candidate(identity: string, api: KubeApi, timeline: string[]): LeaderElector {
  const e = new LeaderElector(api, {
    namespace: 'ns',
    name: 'lease',
    identity,
    clock,
    log: pino({ level: 'silent' }),
    onStartedLeading: () => timeline.push(`${identity} leads at ${clock.now() - start}`),
    onStoppedLeading: () => timeline.push(`${identity} stops at ${clock.now() - start}`),
  });
  electors.push(e);
  return e;
}

let start = 0;

/** Lets every tick that fell due finish its calls to the fake (each is a few promise turns). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

/** Advances the clock one second at a time, letting the candidates act each second. */
async function run(ms: number, check: () => void): Promise<void> {
  for (let t = 0; t < ms; t += 1000) {
    clock.advance(1000);
    await settle();
    check();
  }
}

describe('leader election', () => {
  it('has one leader; a partitioned leader steps down at its renew deadline, before a follower takes over', async () => {
    start = clock.now();
    const timeline: string[] = [];
    const aLink = link(fake);
    const a = candidate('a', aLink.api, timeline);
    const b = candidate('b', fake, timeline);
    const neverTwo = () => expect(a.isLeader() && b.isLeader()).toBe(false);
    a.start();
    await settle();
    b.start();
    await settle();
    expect([a.isLeader(), b.isLeader()]).toEqual([true, false]);
    // A renews every retry period (2 s); B watches the renewals and stays a follower.
    const renewals = fake.writesOf(LeaseType, { verb: 'replace' }).length;
    await run(20_000, neverTwo);
    expect(fake.writesOf(LeaseType, { verb: 'replace' }).length).toBeGreaterThanOrEqual(renewals + 9);
    expect([a.isLeader(), b.isLeader()]).toEqual([true, false]);

    // A loses the apiserver: it stops leading within its renew deadline (10 s); B takes over only
    // once the renewTime it saw has stood for a lease duration (15 s).
    aLink.cut = true;
    const cutAt = clock.now() - start;
    await run(20_000, neverTwo);
    expect([a.isLeader(), b.isLeader()]).toEqual([false, true]);
    const at = (what: string) => Number(/ at (\d+)$/.exec(timeline.find((l) => l.startsWith(what)) ?? '')?.[1]);
    expect(at('a stops') - cutAt).toBeLessThanOrEqual(12_000);
    expect(at('b leads') - cutAt).toBeGreaterThanOrEqual(14_000);
    expect(at('a stops')).toBeLessThan(at('b leads'));
    const lease = await fake.get<Lease>(LeaseType, 'ns', 'lease');
    expect(lease.spec?.holderIdentity).toBe('b');
    expect(lease.spec?.leaseTransitions).toBe(1);

    // A is back: it finds B holding a fresh lease and stays a follower.
    aLink.cut = false;
    await run(10_000, neverTwo);
    expect([a.isLeader(), b.isLeader()]).toEqual([false, true]);
  });

  it('a leader that stops gives the lease up, and the follower takes it at its next try', async () => {
    start = clock.now();
    const timeline: string[] = [];
    const a = candidate('a', fake, timeline);
    const b = candidate('b', fake, timeline);
    a.start();
    await settle();
    b.start();
    await settle();
    await a.stop();
    await run(4_000, () => {});
    expect(b.isLeader()).toBe(true);
    expect(timeline).toEqual(['a leads at 0', 'a stops at 0', expect.stringMatching(/^b leads at [1-4]000$/)]);
  });
});
