// The pool controller end to end without an apiserver: the real manager, informers, object caches,
// work queue, controller loop and reconciler on the in-memory API (test/support/fake-kube.ts) and
// the ManualClock. The pod side is the pods' own code path: their report loop (report/loop.ts,
// writeReport) writing to the same API. An EndpointSlice stands in for the endpointslice
// controller's word that the pod is ready. Days pass in milliseconds and nothing sleeps: every wait
// is for a state, bounded in turns and time. Against the real apiserver: pool.k8s.test.ts,
// quiet.k8s.test.ts; with the real pods: test/node/.
import { pino } from 'pino';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { LABEL_POOL } from '../../src/api/annotations.js';
import { ManualClock } from '../../src/base/clock.js';
import {
  ConfigMapType,
  EndpointSliceType,
  EventType,
  OcspResponderPoolType,
  RoleBindingType,
  RoleType,
  ServiceAccountType,
  ServiceType,
  StatefulSetType,
  type KubeObject,
  type ResourceType,
} from '../../src/kube/types.js';
import { PoolConditionType as T, PoolReason as R, READY_GATES } from '../../src/pool/conditions.js';
import { addPoolController } from '../../src/pool/controller.js';
import { LABEL_SERVICE_NAME } from '../../src/pool/liveness.js';
import { POOL_RESYNC_MS } from '../../src/pool/reconciler.js';
import { indexConfigMapName } from '../../src/pool/workloads.js';
import { startReportLoop, type ReportLoop } from '../../src/report/loop.js';
import { reportConfigMapName, writeReport, type ConfigMap, type Report } from '../../src/report/protocol.js';
import type { Controller } from '../../src/runtime/controller.js';
import { Manager } from '../../src/runtime/manager.js';
import { FakeKube } from '../support/fake-kube.js';
import { createCa, issueLeaf, type Ca, type Issued } from '../support/pki.js';
import { createCaObjects } from '../support/pool-harness.js';

const NS = 'fake';
const POOL = 'demo';
const KEY = `${NS}/${POOL}`;
/** The embedded pool's one pod, as its StatefulSet names it: signer and responder share it. */
const POD = `${POOL}-0`;
const SEC = 1000;
const HOUR = 3_600_000;
/** The pool's own thresholds, below the Baseline Requirements' 96 h, so only Fresh moves. */
const WARNING = 24 * HOUR;
const CRITICAL = 48 * HOUR;

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}

interface PoolObj extends KubeObject {
  status?: {
    observedGeneration?: number;
    conditions?: Condition[];
    certificates?: number;
    backlog?: number;
    missing?: number;
    revoked?: number;
    signers?: { desired?: number; ready?: number; signaturesPerSecond?: number };
    responders?: { ready?: number; outOfRotation?: string[] };
    oldestResponse?: string;
    replication?: Array<{ replica: string; lagSeconds?: number; inRotation?: boolean }>;
  };
}

interface EventObj extends KubeObject {
  type?: string;
  reason?: string;
  note?: string;
  regarding?: { kind?: string; name?: string; uid?: string };
}

let ca: Ca;
let leaves: Issued[];
let clock: ManualClock;
let fake: FakeKube;
let manager: Manager;
let controller: Controller;
const loops: ReportLoop[] = [];

beforeAll(async () => {
  ca = await createCa({ keyAlg: 'P-256', name: 'CN=Fake Pool CA' });
  leaves = [];
  for (let i = 0; i < 3; i++) leaves.push(await issueLeaf(ca, { dnsNames: [`p${i}.test`] }));
});

beforeEach(async () => {
  clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000);
  fake = new FakeKube({ clock });
  manager = new Manager({
    client: fake,
    clock,
    log: pino({ level: 'silent' }),
    healthAddress: { host: '127.0.0.1', port: 0 },
    namespaces: [NS],
    // Longer than any test here: the looks that cross thresholds must be the reconciler's own
    // requeue, not an informer relist that happens to fall on the same instant.
    resyncMs: 100 * HOUR,
  });
  controller = addPoolController(manager, { workers: 2, images: { operator: 'ocsp-operator:test', signer: 'ocsp-operator:test-signer' } });
  await manager.start();
  // What the downward API gives the pool's pod; the report loop reads it.
  vi.stubEnv('POD_NAMESPACE', NS);
  vi.stubEnv('POD_NAME', POD);
});

afterEach(async () => {
  for (const l of loops.splice(0)) l.stop();
  vi.unstubAllEnvs();
  await manager?.stop();
});

/** Turns the event loop until `probe` holds twice in a row (bounded in turns and in time; no fixed sleep). */
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

/** Nothing left to do: every watch event delivered, the pool's key neither queued nor being reconciled. */
const settle = () =>
  until(`${KEY} to settle`, () => fake.delivered() && controller.queue.len() === 0 && !controller.queue.isProcessing(KEY));

async function reconciles(): Promise<number> {
  const m = await manager.metrics.reconcileTotal.get();
  return m.values.filter((v) => v.labels.controller === 'pool').reduce((n, v) => n + v.value, 0);
}

/** Settles after at least one more reconcile than `since`: the controller looked. */
async function looked(since: number): Promise<void> {
  await until(`a reconcile of ${KEY}`, async () => (await reconciles()) > since);
  await settle();
}

const pool = () => fake.get<PoolObj>(OcspResponderPoolType, NS, POOL);
const cond = (p: PoolObj, type: string) => p.status?.conditions?.find((c) => c.type === type);
const events = async () =>
  (await fake.list<EventObj>(EventType, { namespace: NS })).items.filter(
    (e) => e.regarding?.kind === 'OcspResponderPool' && e.regarding.name === POOL,
  );
/** The Events recorded since `before` (a list is ordered by name, not by time). */
const eventsSince = async (before: readonly EventObj[]) => {
  const seen = new Set(before.map((e) => e.metadata?.name));
  return (await events()).filter((e) => !seen.has(e.metadata?.name)).map((e) => [e.type, e.reason]);
};
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
/** Status writes sent, whether or not they changed anything. */
const statusWrites = () => fake.writesOf(OcspResponderPoolType, { subresource: 'status' }).length;

/** The pool as a user writes it: embedded store, the CA's index as its source, thresholds of its own. */
async function createPool(): Promise<PoolObj> {
  await createCaObjects(fake, NS, ca, leaves);
  await fake.create(OcspResponderPoolType, {
    apiVersion: 'ocsp-operator.dev/v1alpha1',
    kind: 'OcspResponderPool',
    metadata: { name: POOL, namespace: NS },
    spec: {
      issuer: { secretName: 'ca' },
      signing: { softwareKey: { secretName: 'ca' } },
      delegatedResponder: { mode: 'None' },
      sources: [{ opensslIndex: { configMapName: 'ca-db' } }],
      refreshAge: '12h',
      thresholds: { freshnessWarningAge: '24h', freshnessCriticalAge: '48h' },
    },
  } as KubeObject);
  await settle();
  return pool();
}

/** The endpointslice controller's word on the pool's Service: the pod is a ready endpoint. */
async function podReady(): Promise<void> {
  await fake.apply(
    EndpointSliceType,
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${POOL}-abcde`, namespace: NS, labels: { [LABEL_SERVICE_NAME]: POOL, [LABEL_POOL]: POOL } },
      addressType: 'IPv4',
      endpoints: [
        {
          addresses: ['10.0.0.1'],
          conditions: { ready: true, serving: true, terminating: false },
          targetRef: { kind: 'Pod', name: POD, namespace: NS },
        },
      ],
      ports: [{ name: 'ocsp', port: 8080, protocol: 'TCP' }],
    } as KubeObject,
    'endpointslice-controller-stand-in',
  );
}

/** The signer's report after a round that signed every certificate at `signedAt`, as src/cmd/signer.ts builds it. */
const signerReport = (signedAt: number): Report => ({
  kind: 'signer',
  pod: POD,
  time: clock.now(),
  certificates: leaves.length,
  due: 0,
  missing: 0,
  revoked: 0,
  oldestThisUpdate: signedAt,
  rate: 123.4,
  issuerNotAfter: ca.cert.notAfter.getTime(),
  outlivingTheirSigner: 0,
  share: '0/1',
  signedTotal: leaves.length,
});

/** The pod's two report loops (signer every 10 s, responder every 2 s, as their commands start them), writing to the fake. */
async function startPod(signedAt: number): Promise<{ signer: ReportLoop; responder: ReportLoop }> {
  const log = pino({ level: 'silent' });
  const signer = startReportLoop({ pool: POOL, everyMs: 10 * SEC, log, clock, client: fake, produce: () => signerReport(signedAt) });
  const responder = startReportLoop({
    pool: POOL,
    everyMs: 2 * SEC,
    log,
    clock,
    client: fake,
    produce: () => ({ kind: 'responder', pod: POD, time: clock.now(), ready: true, lagMs: 0, detached: false }),
  });
  loops.push(signer, responder);
  await signer.flush();
  await responder.flush();
  return { signer, responder };
}

/** A pool whose pod has signed everything at the current instant and is a ready endpoint. */
async function servingPool(): Promise<{ signedAt: number; pod: { signer: ReportLoop; responder: ReportLoop } }> {
  await createPool();
  await podReady();
  const signedAt = clock.now();
  const pod = await startPod(signedAt);
  await settle();
  expect(cond(await pool(), T.Ready)).toMatchObject({ status: 'True', reason: R.Serving });
  return { signedAt, pod };
}

/** A change to the pool's metadata (not its spec): the controller looks once more, with nothing to act on. */
async function poke(): Promise<void> {
  await fake.mergePatch(
    OcspResponderPoolType,
    { namespace: NS, name: POOL },
    { metadata: { annotations: { 'test.ocsp-operator.dev/poke': String(clock.now()) } } },
  );
}

describe('the pool controller on the in-memory API', () => {
  it('renders the workloads of an embedded pool, owned by it, and says what it knows before any report', async () => {
    const p = await createPool();
    const uid = p.metadata?.uid;
    expect(uid).toBeTruthy();
    const owned: Array<[ResourceType, string]> = [
      [StatefulSetType, POOL],
      [ServiceType, POOL],
      [ServiceAccountType, POOL],
      [RoleType, POOL],
      [RoleBindingType, POOL],
      [ConfigMapType, indexConfigMapName(POOL)],
    ];
    for (const [type, name] of owned) {
      const o = await fake.get<KubeObject>(type, NS, name);
      expect(o.metadata?.ownerReferences, `${type.kind} ${name}`).toEqual([expect.objectContaining({ uid, controller: true, name: POOL })]);
      expect(o.metadata?.labels?.[LABEL_POOL], `${type.kind} ${name}`).toBe(POOL);
    }
    const index = await fake.get<ConfigMap>(ConfigMapType, NS, indexConfigMapName(POOL));
    expect(index.data?.['index.txt']?.trim().split('\n')).toHaveLength(leaves.length);

    // No report yet: the certificates are known from the index, no response is, so Fresh and Ready
    // say so; every other gate is judged (nothing NotEvaluated), with the current generation.
    expect(p.status?.observedGeneration).toBe(1);
    expect(p.status?.certificates).toBe(leaves.length);
    expect(p.status?.signers).toEqual({ desired: 1, ready: 0 });
    expect(p.status?.responders).toEqual({ ready: 0, outOfRotation: [] });
    expect(p.status?.oldestResponse).toBeUndefined();
    expect(cond(p, T.SourcesReadable)).toMatchObject({ status: 'True', reason: R.SourcesRead });
    expect(cond(p, T.Fresh)).toMatchObject({ status: 'False', reason: R.NoResponses });
    expect(cond(p, T.Ready)).toMatchObject({ status: 'False', reason: R.NoResponses });
    for (const g of READY_GATES) expect(cond(p, g.type)?.reason, g.type).not.toBe(R.NotEvaluated);
    for (const c of p.status?.conditions ?? []) expect(c.observedGeneration, c.type).toBe(1);
    // One Event: Fresh's Warning (Ready's, with the same reason, is not said twice).
    expect((await events()).map((e) => [e.type, e.reason])).toEqual([['Warning', R.NoResponses]]);
    // Nothing reported, nothing ready: the report ConfigMap does not exist yet.
    expect(await fake.getOrUndefined(ConfigMapType, NS, reportConfigMapName(POOL))).toBeUndefined();
  });

  it('takes its figures from the pod reports and the endpoint, and is Ready', async () => {
    await createPool();
    const before = await events();
    await podReady();
    const signedAt = clock.now();
    await startPod(signedAt);
    await settle();
    const report = await fake.get<ConfigMap>(ConfigMapType, NS, reportConfigMapName(POOL));
    expect(Object.keys(report.data ?? {}).sort()).toEqual([`responder.${POD}`, `signer.${POD}`]);

    const p = await pool();
    expect(p.status).toMatchObject({
      observedGeneration: 1,
      certificates: leaves.length,
      backlog: 0,
      missing: 0,
      revoked: 0,
      signers: { desired: 1, ready: 1, signaturesPerSecond: 120 }, // the pod's rate, rounded to two figures
      responders: { ready: 1, outOfRotation: [] },
      oldestResponse: iso(signedAt),
      replication: [{ replica: POD, lagSeconds: 0, inRotation: true }],
    });
    expect(cond(p, T.Fresh)).toMatchObject({ status: 'True', reason: R.ResponsesFresh });
    expect(cond(p, T.Ready)).toMatchObject({ status: 'True', reason: R.Serving });
    for (const g of READY_GATES) expect(cond(p, g.type)?.status, g.type).toBe(g.bad === 'False' ? 'True' : 'False');
    // The recoveries are news: Fresh and Ready, each once, Normal.
    expect((await eventsSince(before)).sort()).toEqual([
      ['Normal', R.ResponsesFresh],
      ['Normal', R.Serving],
    ]);
  });

  it('Fresh goes False at the warning age, then at the critical age, not a second before, one Event each', async () => {
    const { signedAt } = await servingPool();
    const transitions: Array<[number, string]> = [
      [signedAt + WARNING, R.ResponsesStale],
      [signedAt + CRITICAL, R.ResponsesCritical],
    ];
    for (const [at, reason] of transitions) {
      const was = cond(await pool(), T.Fresh);
      const writes = statusWrites();
      const said = await events();
      // The periodic look (the reconciler's requeue) at one resync period before the threshold: the
      // next one falls due exactly at it.
      let since = await reconciles();
      clock.advance(at - POOL_RESYNC_MS - clock.now());
      await looked(since);
      expect(cond(await pool(), T.Fresh)).toEqual(was);

      // A second before: the controller looks (made to, by a metadata change) and changes nothing.
      clock.advance(POOL_RESYNC_MS - SEC);
      since = await reconciles();
      await poke();
      await looked(since);
      expect(cond(await pool(), T.Fresh), `Fresh one second before ${reason}`).toEqual(was);
      expect(statusWrites()).toBe(writes);
      expect(await eventsSince(said)).toEqual([]);

      // At the threshold the planned look comes by itself: Fresh False with the threshold's reason,
      // Ready False for it; one status write and one Warning.
      since = await reconciles();
      clock.advance(SEC);
      expect(clock.now()).toBe(at);
      await looked(since);
      const p = await pool();
      expect(cond(p, T.Fresh)).toMatchObject({ status: 'False', reason });
      expect(cond(p, T.Fresh)?.message).toContain(iso(signedAt));
      // lastTransitionTime is when the status last changed (to False, at the warning age), not the reason.
      expect(Date.parse(cond(p, T.Fresh)!.lastTransitionTime!)).toBe(signedAt + WARNING);
      expect(cond(p, T.Ready)).toMatchObject({ status: 'False', reason });
      // Only the pool's own thresholds moved: the Baseline Requirements' 96 h are still far.
      expect(cond(p, T.BaselineRequirements)).toMatchObject({ status: 'True', reason: R.DeadlinesMet });
      expect(statusWrites()).toBe(writes + 1);
      expect(await eventsSince(said)).toEqual([['Warning', reason]]);
    }
  });

  it('quiet at rest: reports that say nothing new, and the looks between them, write nothing', async () => {
    const { signedAt, pod } = await servingPool();
    const rv = (await pool()).metadata?.resourceVersion;
    const reportRv = (await fake.get<ConfigMap>(ConfigMapType, NS, reportConfigMapName(POOL))).metadata?.resourceVersion;
    const writes = fake.writes.length;
    const podWrites = pod.signer.writes + pod.responder.writes;

    // Ten minutes of the pod's report ticks and the controller's periodic looks: nobody writes.
    const since = await reconciles();
    for (let i = 0; i < (10 * 60 * SEC) / POOL_RESYNC_MS; i++) {
      clock.advance(POOL_RESYNC_MS);
      await settle();
    }
    expect(await reconciles()).toBeGreaterThanOrEqual(since + 40);
    expect(pod.signer.writes + pod.responder.writes).toBe(podWrites);
    expect(fake.writes.slice(writes)).toEqual([]);

    // The same report written again, byte for byte (as a pod whose write's answer was lost would):
    // the API keeps the version and sends no event, so nothing is woken.
    const stored = (await fake.get<ConfigMap>(ConfigMapType, NS, reportConfigMapName(POOL))).data?.[`signer.${POD}`];
    await writeReport(fake, { namespace: NS, pool: POOL, report: JSON.parse(stored ?? '') as Report });
    expect(fake.writes.slice(writes).map((w) => [w.verb, w.name, w.changed])).toEqual([['apply', reportConfigMapName(POOL), false]]);
    expect((await fake.get<ConfigMap>(ConfigMapType, NS, reportConfigMapName(POOL))).metadata?.resourceVersion).toBe(reportRv);
    await settle();

    // The pod restarts: its new report loop's first write says the same with a new `time`. The
    // report changes, the controller looks, and writes nothing (no status, workload, index or Event).
    clock.advance(SEC);
    await settle(); // whatever that instant woke is done: the next look is the report's
    const looks = await reconciles();
    const restarted = startReportLoop({
      pool: POOL,
      everyMs: 10 * SEC,
      log: pino({ level: 'silent' }),
      clock,
      client: fake,
      produce: () => signerReport(signedAt),
    });
    loops.push(restarted);
    await restarted.flush();
    expect(restarted.writes).toBe(1);
    await looked(looks);
    expect(fake.writes.slice(writes).map((w) => [w.verb, w.name, w.changed])).toEqual([
      ['apply', reportConfigMapName(POOL), false],
      ['apply', reportConfigMapName(POOL), true],
    ]);
    expect((await pool()).metadata?.resourceVersion).toBe(rv);
  });
});
