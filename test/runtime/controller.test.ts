// The controller loop on the in-memory API and the ManualClock: an informer feeds a work queue and
// workers call a reconciler. What it promises: a burst of changes to one object while it is being
// reconciled costs one more reconcile, not one per change; a requeueAfter fires when the clock gets
// there and not before; a failing key backs off exponentially on the clock.
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/base/clock.js';
import { Informer } from '../../src/kube/informer.js';
import { SecretType, objectKey, type Secret } from '../../src/kube/types.js';
import { Controller, type ReconcileResult } from '../../src/runtime/controller.js';
import { OperatorMetrics } from '../../src/runtime/metrics.js';
import { FakeKube } from '../support/fake-kube.js';

const log = pino({ level: 'silent' });
let clock: ManualClock;
let fake: FakeKube;
let informer: Informer<Secret>;
let controller: Controller | undefined;

beforeEach(async () => {
  clock = new ManualClock();
  fake = new FakeKube({ clock });
  informer = new Informer<Secret>(fake, SecretType, { namespace: 'ns', resyncMs: 24 * 3_600_000, clock, log });
  informer.start();
  await informer.waitForSync();
});

afterEach(async () => {
  await controller?.stop();
  informer.stop();
});

/** Turns the event loop until `probe` holds, twice in a row, at most 10,000 turns. */
async function until(what: string, probe: () => boolean): Promise<void> {
  let held = 0;
  for (let i = 0; i < 10_000; i++) {
    await new Promise((r) => setImmediate(r));
    held = probe() ? held + 1 : 0;
    if (held >= 2) return;
  }
  throw new Error(`gave up waiting for ${what}`);
}

const idle = () => fake.delivered() && controller!.queue.len() === 0 && !controller!.queue.isProcessing('ns/s');
const secret = (data: Record<string, string> = {}): Secret => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 's', namespace: 'ns' },
  data,
});

function start(reconcile: (key: string) => Promise<ReconcileResult | void>): string[] {
  const calls: string[] = [];
  controller = new Controller({
    name: 'test',
    workers: 2,
    clock,
    log,
    metrics: new OperatorMetrics(),
    reconciler: { reconcile: (key) => (calls.push(key), reconcile(key)) },
  });
  controller.watch(informer, (o) => [objectKey(o)]);
  controller.start();
  return calls;
}

describe('the controller loop', () => {
  it('reconciles a key once more, not once per change, for a burst of changes during its reconcile', async () => {
    let release: () => void = () => {};
    let gated = true;
    const calls = start(() => (gated ? new Promise<void>((r) => (release = r)) : Promise.resolve()));
    await fake.create(SecretType, secret());
    await until('the first reconcile to start', () => calls.length === 1);
    for (let i = 0; i < 5; i++)
      await fake.mergePatch(SecretType, { namespace: 'ns', name: 's' }, { data: { n: Buffer.from(String(i)).toString('base64') } });
    await until('the burst delivered', () => fake.delivered() && informer.get('ns', 's')?.data?.n === Buffer.from('4').toString('base64'));
    expect(calls).toHaveLength(1); // never two workers on one key
    gated = false;
    release();
    await until('idle', idle);
    expect(calls).toEqual(['ns/s', 'ns/s']);
  });

  it('fires a requeueAfter when the clock reaches it, and not before', async () => {
    const calls = start(async () => ({ requeueAfterMs: 60_000 }));
    await fake.create(SecretType, secret());
    await until('idle', () => calls.length === 1 && idle());
    clock.advance(59_999);
    // The controller had its chance: the timer is still pending and nothing was queued.
    await until('idle', idle);
    expect(controller!.queue.delayedKeys()).toBe(1);
    expect(calls).toHaveLength(1);
    clock.advance(1);
    await until('the requeue', () => calls.length === 2 && idle());
    expect(controller!.queue.delayedKeys()).toBe(1); // and planned again
  });

  it('backs a failing key off exponentially on the clock, and a success resets it', async () => {
    let failing = true;
    const calls = start(async () => {
      if (failing) throw new Error('boom');
    });
    await fake.create(SecretType, secret());
    await until('the first failure', () => calls.length === 1 && idle());
    for (const [wait, n] of [
      [500, 2],
      [1000, 3],
      [2000, 4],
    ] as const) {
      clock.advance(wait - 1);
      await until('idle', idle);
      expect(calls).toHaveLength(n - 1);
      clock.advance(1);
      await until(`retry ${n}`, () => calls.length === n && idle());
    }
    expect(controller!.queue.numRequeues('ns/s')).toBe(4);
    failing = false;
    clock.advance(4000);
    await until('the success', () => calls.length === 5 && idle());
    expect(controller!.queue.numRequeues('ns/s')).toBe(0);
    expect(controller!.queue.delayedKeys()).toBe(0);
  });
});
