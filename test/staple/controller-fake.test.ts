// The staple controller end to end without an apiserver: the real manager, informers, work queue,
// controller loop and reconciler on the in-memory API (test/support/fake-kube.ts) and the
// ManualClock, fetching from an in-process OCSP responder that signs real responses (src/ocsp) at
// the ManualClock's time. Hours pass in milliseconds and nothing sleeps: every wait is for a state
// (bounded in turns and time). The same behaviours against the real apiserver: lifecycle.k8s.test.ts.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/base/clock.js';
import type { WriteQuery } from '../../src/kube/api.js';
import { OcspStapleType, SecretType, type KubeObject, type ResourceType, type Secret } from '../../src/kube/types.js';
import { parseOcspRequest, signOcspResponse, softwareSigner } from '../../src/ocsp/index.js';
import { Manager } from '../../src/runtime/manager.js';
import type { Controller } from '../../src/runtime/controller.js';
import { addStapleController } from '../../src/staple/controller.js';
import { FIELD_MANAGER } from '../../src/staple/reconciler.js';
import { ANNOTATION_THIS_UPDATE } from '../../src/api/annotations.js';
import { STAPLE_KEY } from '../../src/staple/staple-secret.js';
import { FakeKube } from '../support/fake-kube.js';
import { tlsSecret } from '../support/kube.js';
import { createCa, issueLeaf, type Ca, type Issued } from '../support/pki.js';
import { condition, lockstepOf, type StapleObject } from '../support/staple-harness.js';

const NS = 'fake';
const MIN = 60_000;
const HOUR = 60 * MIN;
const WINDOW = 4 * HOUR; // thisUpdate → nextUpdate of every response the responder signs
const RESYNC = 10 * MIN;

/** An OCSP responder on 127.0.0.1 that answers `good` for any certificate of the CA, dated by the ManualClock. */
interface Responder {
  url: string;
  fetches: number;
  close(): Promise<void>;
}

async function startResponder(ca: Ca, clock: ManualClock): Promise<Responder> {
  const state = { fetches: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.fetches++;
      const { certIds } = parseOcspRequest(new Uint8Array(Buffer.concat(chunks)));
      const now = new Date(clock.now());
      signOcspResponse({
        issuer: ca.cert,
        signer: softwareSigner(ca.keyObject),
        entries: certIds.map((certId) => ({
          certId,
          status: { kind: 'good' as const },
          thisUpdate: now,
          nextUpdate: new Date(now.getTime() + WINDOW),
        })),
        producedAt: now,
      }).then(
        (der) => res.writeHead(200, { 'Content-Type': 'application/ocsp-response' }).end(Buffer.from(der)),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    get fetches() {
      return state.fetches;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

let ca: Ca;
let clock: ManualClock;
let responder: Responder;
let leaf: Issued;
let fake: FakeKube;
let manager: Manager;
let controller: Controller;

beforeAll(async () => {
  ca = await createCa({ keyAlg: 'P-256', name: 'CN=Fake Kube Test CA' });
});

beforeEach(async () => {
  clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000);
  responder = await startResponder(ca, clock);
  leaf = await issueLeaf(ca, { ocspUrl: responder.url, dnsNames: ['fake.test'] });
  fake = new FakeKube({ clock });
  manager = new Manager({
    client: fake,
    clock,
    log: pino({ level: 'silent' }),
    healthAddress: { host: '127.0.0.1', port: 0 },
    namespaces: [NS],
    resyncMs: RESYNC,
  });
  controller = addStapleController(manager, { workers: 2 });
  await manager.start();
});

afterEach(async () => {
  await manager?.stop();
  await responder?.close();
});

/** Nothing left to do: every watch event delivered, no key queued or being reconciled, twice in a row. */
function idle(key: string): boolean {
  return fake.delivered() && controller.queue.len() === 0 && !controller.queue.isProcessing(key);
}

/** Turns the event loop until `probe` holds (bounded in turns and in time; no fixed sleep). */
async function until(what: string, probe: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  let held = 0;
  for (let turn = 0; turn < 100_000 && Date.now() < deadline; turn++) {
    await new Promise((r) => setImmediate(r));
    held = (await probe()) ? held + 1 : 0;
    if (held >= 2) return;
  }
  throw new Error(`gave up waiting for ${what}`);
}

const settle = (name: string) => until(`${NS}/${name} to settle`, () => idle(`${NS}/${name}`));

async function reconciles(result?: string): Promise<number> {
  const m = await manager.metrics.reconcileTotal.get();
  return m.values
    .filter((v) => v.labels.controller === 'staple' && (result === undefined || v.labels.result === result))
    .reduce((n, v) => n + v.value, 0);
}

const staple = (name: string) => fake.get<StapleObject>(OcspStapleType, NS, name);
const lastAttempt = (s: StapleObject): string | undefined => (s.status as { lastAttemptTime?: string } | undefined)?.lastAttemptTime;

async function createStaple(name: string): Promise<void> {
  await fake.create(SecretType, tlsSecret(NS, `${name}-tls`, { certPem: leaf.chainPem, keyPem: leaf.keyPem }));
  // No jitter: the refresh is planned at exactly the window's midpoint.
  await fake.create(OcspStapleType, {
    apiVersion: 'ocsp-operator.dev/v1alpha1',
    kind: 'OcspStaple',
    metadata: { name, namespace: NS },
    spec: { secretName: `${name}-tls`, refresh: { jitter: 0 } },
  });
}

/** Every version of a Secret, as a watch delivers them. */
async function versionsOf(name: string): Promise<{ versions: Secret[]; stop(): void }> {
  const versions: Secret[] = [];
  const abort = await fake.watch(
    SecretType,
    { namespace: NS, resourceVersion: fake.resourceVersion(), fieldSelector: `metadata.name=${name}`, timeoutSeconds: 0 },
    (phase, obj) => {
      if (phase === 'ADDED' || phase === 'MODIFIED') versions.push(obj as Secret);
    },
    () => {},
  );
  return { versions, stop: () => abort.abort() };
}

describe('the staple controller on the in-memory API', () => {
  it('publishes the first staple in lockstep, with its certificate, in one write', async () => {
    const watch = await versionsOf('first-tls-ocsp');
    await createStaple('first');
    await settle('first');
    const s = await staple('first');
    expect(condition(s, 'Ready')).toMatchObject({ status: 'True', reason: 'Stapled' });
    expect(s.status?.observedGeneration).toBe(1);
    expect(responder.fetches).toBe(1);
    // One version of the staple Secret, already carrying a staple validated for its certificate.
    await until('the staple Secret version delivered', () => watch.versions.length >= 1);
    watch.stop();
    expect(watch.versions).toHaveLength(1);
    const ls = lockstepOf(watch.versions[0]!, new Date(clock.now()));
    expect(ls.certSerial).toBe(leaf.serial.toLowerCase());
    expect(ls.verdict?.ok).toBe(true);
    // Created with a POST: the apiserver's cheapest write of a new object.
    expect(fake.writesOf(SecretType, { name: 'first-tls-ocsp' }).map((w) => [w.verb, w.changed])).toEqual([['create', true]]);
  });

  it('refreshes at the window midpoint when the clock gets there, and not before', async () => {
    await createStaple('mid');
    await settle('mid');
    const first = await staple('mid');
    const thisUpdate = Date.parse(first.status!.staple!.thisUpdate!);
    const midpoint = thisUpdate + WINDOW / 2;
    expect(Date.parse(first.status!.nextRefreshTime!)).toBe(midpoint);
    const writes = () =>
      fake
        .writesOf(SecretType, { name: 'mid-tls-ocsp' })
        .filter((w) => w.changed)
        .map((w) => w.verb);
    expect(writes()).toEqual(['create']);

    // Up to a second before the midpoint, in resync steps: every resync makes the controller look
    // (the reconcile counter moves), and it fetches nothing and writes nothing.
    const looked = await reconciles();
    let steps = 0;
    while (clock.now() + RESYNC < midpoint - 1000) {
      clock.advance(RESYNC);
      await settle('mid');
      steps++;
    }
    clock.advance(midpoint - 1000 - clock.now());
    await settle('mid');
    expect(steps).toBeGreaterThan(5);
    expect(await reconciles()).toBeGreaterThanOrEqual(looked + steps);
    expect(responder.fetches).toBe(1);
    expect(writes()).toEqual(['create']);
    expect(lastAttempt(first)).toBeTruthy();
    expect(lastAttempt(await staple('mid'))).toBe(lastAttempt(first));

    // The midpoint: the planned requeue fires, the staple is refreshed and published with its certificate.
    clock.advance(1000);
    await until(
      'the refresh at the midpoint',
      async () => idle(`${NS}/mid`) && Date.parse((await staple('mid')).status?.staple?.thisUpdate ?? '0') === midpoint,
    );
    expect(responder.fetches).toBe(2);
    expect(writes()).toEqual(['create', 'replace']);
    // Both under the controller's one field manager, the name `--show-managed-fields` gives.
    expect(new Set(fake.writesOf(SecretType, { name: 'mid-tls-ocsp' }).map((w) => w.fieldManager))).toEqual(new Set([FIELD_MANAGER]));
    const refreshed = await staple('mid');
    expect(condition(refreshed, 'Ready')?.reason).toBe('Stapled');
    expect(Date.parse(refreshed.status!.nextRefreshTime!)).toBe(midpoint + WINDOW / 2);
    const secret = await fake.get<Secret>(SecretType, NS, 'mid-tls-ocsp');
    expect(lockstepOf(secret, new Date(clock.now())).verdict?.ok).toBe(true);
  });

  it('retries a status write refused with 409 (a concurrent writer) and lands it', async () => {
    // A concurrent writer changes the staple's status just before the controller's first status
    // PUT, so that PUT carries a stale resourceVersion and the API answers 409 Conflict.
    let raced = false;
    fake.beforeWrite(async (w) => {
      if (raced || w.verb !== 'replace' || w.subresource !== 'status' || w.name !== 'race') return;
      raced = true;
      await fake.mergePatch(OcspStapleType, { namespace: NS, name: 'race', subresource: 'status' }, { status: { consecutiveFailures: 0 } });
    });
    await createStaple('race');
    await until('the conflict', async () => fake.counts.conflicts === 1 && (await reconciles('error')) === 1);
    // The staple Secret's write coming back is no news to the reconciler (it wrote it): the retry
    // is the queue's, after its backoff (500 ms for a first failure).
    clock.advance(1_000);
    await until('the retry', async () => idle(`${NS}/race`) && condition(await staple('race'), 'Ready')?.status === 'True');
    const s = await staple('race');
    expect(condition(s, 'Ready')).toMatchObject({ status: 'True', reason: 'Stapled' });
    // Every failed reconcile was a conflict (a retry may meet one more while its cache still lags
    // the concurrent write, as against a real apiserver), and the one retried after it succeeded.
    expect(await reconciles('error')).toBe(fake.counts.conflicts);
    expect(await reconciles('error')).toBeLessThanOrEqual(2);
    const statusWrites = fake.writesOf(OcspStapleType, { verb: 'replace', name: 'race', subresource: 'status' });
    expect(statusWrites.length).toBeGreaterThanOrEqual(1); // the refused one is not among them
    expect(lockstepOf(await fake.get<Secret>(SecretType, NS, 'race-tls-ocsp'), new Date(clock.now())).verdict?.ok).toBe(true);
  });

  it('rewrites its staple Secret at the version read: an edit made meanwhile is a 409, and the retry keeps it', async () => {
    await createStaple('edit');
    await settle('edit');
    const planned = Date.parse((await staple('edit')).status!.nextRefreshTime!);
    // Someone labels and annotates the staple Secret just before the refresh's PUT: that PUT
    // carries the version read before their edit.
    let raced = false;
    fake.beforeWrite(async (w) => {
      if (raced || w.verb !== 'replace' || w.type !== SecretType || w.name !== 'edit-tls-ocsp') return;
      raced = true;
      await fake.mergePatch(
        SecretType,
        { namespace: NS, name: 'edit-tls-ocsp' },
        { metadata: { labels: { team: 'web' }, annotations: { 'example.com/note': 'kept' } } },
      );
    });
    clock.advance(planned - clock.now());
    await until('the conflict', async () => fake.counts.conflicts === 1 && (await reconciles('error')) === 1);
    clock.advance(1_000); // the queue's backoff after a first failure
    await until(
      'the refresh written',
      async () => idle(`${NS}/edit`) && Date.parse((await staple('edit')).status?.staple?.thisUpdate ?? '0') >= planned,
    );
    const secret = await fake.get<Secret>(SecretType, NS, 'edit-tls-ocsp');
    expect(secret.metadata?.labels?.team).toBe('web');
    expect(secret.metadata?.annotations?.['example.com/note']).toBe('kept');
    expect(lockstepOf(secret, new Date(clock.now())).verdict?.ok).toBe(true);
    expect(Date.parse(secret.metadata?.annotations?.[ANNOTATION_THIS_UPDATE] ?? '0')).toBeGreaterThanOrEqual(planned); // the refreshed staple
    expect(await reconciles('error')).toBe(fake.counts.conflicts);
    const written = fake.writesOf(SecretType, { name: 'edit-tls-ocsp' }).filter((w) => w.changed);
    expect(written.map((w) => w.verb)).toEqual(['create', 'mergePatch', 'replace']);
  });

  it('stops looking at a staple once it is deleted', async () => {
    await createStaple('gone');
    await settle('gone');
    const planned = Date.parse((await staple('gone')).status!.nextRefreshTime!);
    expect(controller.queue.delayedKeys()).toBe(1); // the refresh planned at the midpoint
    await fake.delete(OcspStapleType, NS, 'gone');
    await settle('gone');
    // The staple Secret went with its owner; the delete was seen (one more reconcile, which found nothing).
    expect(await fake.getOrUndefined(SecretType, NS, 'gone-tls-ocsp')).toBeUndefined();
    const writes = fake.writes.length;
    // Past the planned refresh and a day beyond: at most the one wake-up already planned, no fetch, no write.
    clock.advance(planned - clock.now() + 1000);
    await settle('gone');
    const afterPlanned = await reconciles();
    for (let i = 0; i < 24; i++) {
      clock.advance(HOUR);
      await settle('gone');
    }
    expect(await reconciles()).toBe(afterPlanned);
    expect(controller.queue.delayedKeys()).toBe(0);
    expect(responder.fetches).toBe(1);
    expect(fake.writes.length).toBe(writes);
    expect(await fake.getOrUndefined(SecretType, NS, 'gone-tls')).toBeDefined(); // not ours: untouched
    expect((await fake.get<Secret>(SecretType, NS, 'gone-tls')).data?.[STAPLE_KEY]).toBeUndefined();
  });

  describe('when the watch shows the staple Secret before the apply answers', () => {
    /**
     * Holds the answer of every write of a Secret until the watch has delivered what followed it
     * (over the wire the two travel apart, and the event often wins); `meanwhile` writes first.
     */
    function answerAfterTheWatch(meanwhile?: (stored: KubeObject) => Promise<void>): void {
      const held = async <T extends KubeObject>(type: ResourceType, stored: T): Promise<T> => {
        if (type !== SecretType) return stored;
        await meanwhile?.(stored);
        await until('the watch to deliver the Secret', () => fake.delivered());
        return stored;
      };
      const [create, replace] = [fake.create.bind(fake), fake.replace.bind(fake)];
      fake.create = async <T extends KubeObject>(type: ResourceType, obj: T, query?: WriteQuery) =>
        held(type, await create(type, obj, query));
      fake.replace = async <T extends KubeObject>(type: ResourceType, obj: T, subresource?: string, query?: WriteQuery) =>
        held(type, await replace(type, obj, subresource, query));
    }

    it('its own version is no news: one reconcile, one write', async () => {
      answerAfterTheWatch();
      await createStaple('own');
      await settle('own');
      expect(condition(await staple('own'), 'Ready')).toMatchObject({ status: 'True', reason: 'Stapled' });
      expect(fake.writesOf(SecretType, { name: 'own-tls-ocsp' })).toHaveLength(1);
      expect(await reconciles()).toBe(1);
    });

    it("someone else's version is: the staple is looked at again and the Secret repaired", async () => {
      let raced = false;
      answerAfterTheWatch(async (stored) => {
        if (raced || stored.metadata?.name !== 'foreign-tls-ocsp') return;
        raced = true;
        await fake.mergePatch(SecretType, { namespace: NS, name: 'foreign-tls-ocsp' }, { data: { [STAPLE_KEY]: null } });
      });
      await createStaple('foreign');
      await until('the Secret repaired', async () => {
        const secret = await fake.getOrUndefined<Secret>(SecretType, NS, 'foreign-tls-ocsp');
        return raced && idle(`${NS}/foreign`) && !!secret?.data?.[STAPLE_KEY];
      });
      expect(lockstepOf(await fake.get<Secret>(SecretType, NS, 'foreign-tls-ocsp'), new Date(clock.now())).verdict?.ok).toBe(true);
      expect(await reconciles()).toBeGreaterThanOrEqual(2);
    });
  });
});
