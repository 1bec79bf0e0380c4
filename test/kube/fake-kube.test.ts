// The in-memory API (test/support/fake-kube.ts): the contract it shares with the real apiserver
// (test/kube/kube-contract.k8s.test.ts runs the same cases there), then what only a fake can show
// quickly: the informer's 410 Gone relist, watch timeouts on the ManualClock, and the garbage
// collector's cascade.
import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/base/clock.js';
import { Informer, type ChangeKind } from '../../src/kube/informer.js';
import { SecretType, type Secret } from '../../src/kube/types.js';
import { FakeKube } from '../support/fake-kube.js';
import { kubeContract } from '../support/kube-contract.js';

let fake: FakeKube;
let clock: ManualClock;

beforeEach(() => {
  clock = new ManualClock();
  fake = new FakeKube({ clock });
});

kubeContract('in-memory fake', () => ({ api: fake, namespace: 'contract' }));

const secret = (name: string, labels?: Record<string, string>, extra: Partial<Secret> = {}): Secret => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace: 'ns', labels },
  data: {},
  ...extra,
});

/** Turns the event loop until `probe` holds, at most 1,000 turns. */
async function until(what: string, probe: () => boolean): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (probe()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('the informer on the fake', () => {
  it('relists after a 410 Gone and ends up with what happened meanwhile', async () => {
    const restarts: string[] = [];
    const changes: string[] = [];
    const informer = new Informer<Secret>(fake, SecretType, {
      namespace: 'ns',
      resyncMs: 3_600_000,
      clock,
      log: pino({ level: 'silent' }),
      onRestart: (r) => restarts.push(r),
    });
    informer.onChange((kind: ChangeKind, obj) => changes.push(`${kind} ${obj.metadata?.name}`));
    await fake.create(SecretType, secret('s1'));
    informer.start();
    await informer.waitForSync();
    await until('the watch', () => fake.openWatches() === 1);
    // The apiserver restarts and its history is compacted past the informer's resourceVersion.
    fake.closeWatches();
    await fake.create(SecretType, secret('s2'));
    await fake.delete(SecretType, 'ns', 's1');
    fake.compact();
    const lists = fake.counts.list;
    await until('the relist', () => fake.counts.list > lists && fake.openWatches() === 1 && fake.delivered());
    expect(restarts).toEqual(['410 Gone']);
    expect(informer.list().map((o) => o.metadata?.name)).toEqual(['s2']);
    expect(changes).toEqual(['add s1', 'add s2', 'delete s1']);
    informer.stop();
  });

  it('knows which objects it saw and dropped, and claims nothing while it does not follow the server', async () => {
    const informer = new Informer<Secret>(fake, SecretType, {
      namespace: 'ns',
      resyncMs: 3_600_000,
      clock,
      log: pino({ level: 'silent' }),
      keep: (s) => s.metadata?.name?.startsWith('kept') ?? false,
    });
    await fake.create(SecretType, secret('kept-1'));
    await fake.create(SecretType, secret('other-1'));
    expect(informer.mayHaveDropped('ns', 'never')).toBe(true); // not listed yet
    informer.start();
    await informer.waitForSync();
    await until('the watch', () => fake.openWatches() === 1);
    expect(informer.get('ns', 'other-1')).toBeUndefined();
    expect(informer.mayHaveDropped('ns', 'other-1')).toBe(true); // listed and dropped
    expect(informer.mayHaveDropped('ns', 'never')).toBe(false);
    expect(informer.mayHaveDropped('elsewhere', 'never')).toBe(false); // another namespace's: not this informer's
    await fake.create(SecretType, secret('other-2'));
    await until('other-2 seen and dropped', () => informer.mayHaveDropped('ns', 'other-2'));
    expect(informer.get('ns', 'other-2')).toBeUndefined();
    // A broken watch: what it missed is unknown until a list.
    fake.closeWatches(new Error('connection reset'));
    await until('the informer noticed', () => informer.mayHaveDropped('ns', 'never'));
    await informer.relistNow();
    expect(informer.mayHaveDropped('ns', 'never')).toBe(false);
    expect(informer.mayHaveDropped('ns', 'other-2')).toBe(true);
    informer.stop();
  });

  it('resumes a watch that timed out from its last resourceVersion, without relisting', async () => {
    const informer = new Informer<Secret>(fake, SecretType, {
      namespace: 'ns',
      resyncMs: 3_600_000,
      clock,
      log: pino({ level: 'silent' }),
    });
    informer.start();
    await informer.waitForSync();
    await until('the watch', () => fake.openWatches() === 1);
    const [lists, watches] = [fake.counts.list, fake.counts.watch];
    clock.advance(10 * 60_000); // past the longest timeoutSeconds the informer asks for
    await until('the new watch', () => fake.counts.watch === watches + 1 && fake.openWatches() === 1);
    await fake.create(SecretType, secret('late'));
    await until('the event', () => informer.get('ns', 'late') !== undefined);
    expect(fake.counts.list).toBe(lists);
    informer.stop();
  });
});

describe('fake deletes', () => {
  it('deleting an owner deletes its dependents', async () => {
    const owner = await fake.create(SecretType, secret('owner'));
    const ref = { apiVersion: 'v1', kind: 'Secret', name: 'owner', uid: owner.metadata?.uid ?? '' };
    await fake.create(
      SecretType,
      secret('dependent', undefined, { metadata: { name: 'dependent', namespace: 'ns', ownerReferences: [ref] } }),
    );
    await fake.create(SecretType, secret('bystander'));
    await fake.delete(SecretType, 'ns', 'owner');
    expect((await fake.list(SecretType, { namespace: 'ns' })).items.map((o) => o.metadata?.name)).toEqual(['bystander']);
  });
});
