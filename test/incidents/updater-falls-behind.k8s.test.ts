// Incident replay 1: "a large CA's OCSP updater fell behind under DB load; responses expired after
// 4 days". Replayed with the real signing loop (ResponseSigner over an EmbeddedStore) whose key is
// slowed to a trickle (one signature at a time, 100 ms each, a few per round) while certificates
// keep arriving, the real pool controller (real apiserver) fed the signer's reports as a signer pod
// writes them, and the real responder over the same store. One ManualClock drives the signer, the
// pool controller and the responder, so days pass in seconds.
//
// Asserted: the backlog grows and the pool scales its signer StatefulSet out; Fresh goes
// ResponsesStale at the warning age and ResponsesCritical before any response expires (one Event
// each); a response past its nextUpdate is answered tryLater, never served; with the slowdown
// removed the backlog drains, Fresh recovers and the signers scale back after the stabilization
// window.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOcspRequest, serialHex, softwareSigner, validateOcspResponse, type OcspSigner } from '../../src/ocsp/index.js';
import { OcspResponderPoolType, type KubeObject, StatefulSetType } from '../../src/kube/types.js';
import { ManualClock, systemClock, type Clock } from '../../src/base/clock.js';
import { Manager } from '../../src/runtime/manager.js';
import { POOL_RESYNC_MS } from '../../src/pool/reconciler.js';
import { writeReport } from '../../src/report/protocol.js';
import { issuerIdOf, startResponder, type Responder } from '../../src/responder/index.js';
import { ResponseSigner, type RoundResult } from '../../src/signer/index.js';
import type { CertificateInfo } from '../../src/signer/index.js';
import { EmbeddedStore } from '../../src/store/index.js';
import { createNamespace, kubeClient, metricValue, waitFor, eventsAbout } from '../support/kube.js';
import { createCa, issueLeaf, type Ca, type Issued } from '../support/pki.js';
import { Timeline } from '../support/timeline.js';
import { createCaObjects, reconcileCount, reconciledAgain, startPoolController } from '../support/pool-harness.js';
import { storeStats } from '../support/store-stats.js';

const H = 3_600_000;
const POOL = 'updater';
const INITIAL = 200;
const ARRIVALS_PER_STEP = 20;
const STEP_MS = 12 * H;
const SLOW_MS = 100;
const TRICKLE = 8; // signatures per round while slowed
const VALIDITY = 168 * H;
const TRY_LATER_HEX = '30030a0103';

interface PoolObj extends KubeObject {
  status?: {
    conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
    backlog?: number;
    missing?: number;
    signers?: { desired?: number; ready?: number; signaturesPerSecond?: number };
    oldestResponseAge?: string;
  };
}

const client = kubeClient();
const clock = new ManualClock(Date.now());
const t0 = clock.now();
const tl = new Timeline('updater-falls-behind (signing slowed to a trickle while certificates keep arriving)', clock);
let ns: { name: string; remove(): Promise<void> };
let manager: Manager;
let ca: Ca;
let dir: string;
let store: EmbeddedStore;
let responder: Responder;
const registry = new Registry();
const certs: CertificateInfo[] = [];
const leaves = new Map<string, Issued>();
const addedAt = new Map<string, number>();
let firstLeaf: Issued;
let slow: ResponseSigner; // the slowed signer pod, one for the whole incident (one metrics registry)

const cond = (p: PoolObj | undefined, type: string) => p?.status?.conditions?.find((c) => c.type === type);
const getPool = () => client.get<PoolObj>(OcspResponderPoolType, ns.name, POOL);
const replicas = async () =>
  (await client.getOrUndefined<KubeObject & { spec?: { replicas?: number } }>(StatefulSetType, ns.name, `${POOL}-signer`))?.spec?.replicas;
const hours = (ms: number) => `${Math.round(ms / H)}h`;

const poolEvents = () => eventsAbout(client, ns.name, POOL);

async function arrive(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const l = await issueLeaf(ca);
    const serial = serialHex(l.cert);
    leaves.set(serial, l);
    addedAt.set(serial, clock.now());
    certs.push({ serial, notAfter: l.cert.notAfter.getTime() });
  }
}

/** One serialized signature at a time, `delayMs` each: an HSM starved of threads. */
function slowed(inner: OcspSigner, delayMs: number): OcspSigner {
  let chain: Promise<unknown> = Promise.resolve();
  return {
    algorithm: inner.algorithm,
    ...(inner.publicKeyDer ? { publicKeyDer: inner.publicKeyDer } : {}),
    sign(tbs) {
      const p = chain.then(async () => {
        await new Promise((r) => setTimeout(r, delayMs));
        return inner.sign(tbs);
      });
      chain = p.catch(() => undefined);
      return p;
    },
  };
}

function signer(o: { slow: boolean }): ResponseSigner {
  return new ResponseSigner({
    issuer: ca.cert,
    identity: { signer: o.slow ? slowed(softwareSigner(ca.keyObject), SLOW_MS) : softwareSigner(ca.keyObject) },
    certificates: () => certs,
    store,
    responseValidityMs: VALIDITY,
    refreshAgeMs: 72 * H,
    concurrency: o.slow ? 1 : 4,
    ...(o.slow ? { maxPerRound: TRICKLE } : {}),
    clock,
    registry: o.slow ? registry : new Registry(),
  });
}

/** What a signer pod reports after a round, at the test clock's time; resolves with the report's backlog. */
async function report(s: ResponseSigner, round: RoundResult): Promise<{ due: number; missing: number; oldestAgeMs: number | undefined }> {
  const now = clock.now();
  const b = s.backlog(now);
  const stats = await storeStats(store);
  const missingSerials = certs.filter((c) => store.get(s.issuerId, c.serial) === undefined).map((c) => c.serial);
  const oldest = missingSerials.sort((a, b2) => addedAt.get(a)! - addedAt.get(b2)!)[0];
  await writeReport(client, {
    namespace: ns.name,
    pool: POOL,
    report: {
      kind: 'signer',
      pod: `${POOL}-signer-0`,
      time: now,
      certificates: b.certificates,
      due: b.due,
      missing: b.missing,
      revoked: b.revoked,
      ...(b.oldestAgeMs !== undefined ? { oldestThisUpdate: now - b.oldestAgeMs } : {}),
      ...(stats.soonestNextUpdate !== undefined ? { soonestNextUpdate: stats.soonestNextUpdate } : {}),
      ...(oldest ? { oldestMissing: { serial: oldest, since: addedAt.get(oldest)! } } : {}),
      ...(round.rate > 0 ? { rate: round.rate } : {}),
      outlivingTheirSigner: 0,
    },
  });
  return { due: b.due, missing: b.missing, oldestAgeMs: b.oldestAgeMs };
}

/** The pool after it has reconciled a report with this backlog. */
function poolAt(due: number, extra: (p: PoolObj) => boolean = () => true): Promise<PoolObj> {
  return waitFor(
    `pool status with backlog ${due}`,
    async () => {
      const p = await getPool();
      return p.status?.backlog === due && extra(p) ? p : undefined;
    },
    20_000,
  );
}

async function ask(leaf: Issued): Promise<Buffer> {
  const res = await fetch(responder.url, {
    method: 'POST',
    body: buildOcspRequest({ cert: leaf.cert, issuer: ca.cert }).der,
    headers: { 'content-type': 'application/ocsp-request' },
  });
  return Buffer.from(await res.arrayBuffer());
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'incident-updater-'));
  ns = await createNamespace(client, 'incident-updater');
  ca = await createCa({ keyAlg: 'P-256', name: 'CN=Updater Incident CA' });
  await arrive(INITIAL);
  firstLeaf = leaves.get(certs[0]!.serial)!;
  store = await EmbeddedStore.open({ path: join(dir, 'responses.log'), now: () => clock.now() });
  responder = await startResponder({ store, issuers: [ca.cert], lagPolicy: 'ServeWhatItHas', logLevel: 'silent', now: () => clock.now() });
  await createCaObjects(client, ns.name, ca, [...leaves.values()]);
  // The controller reads the test's clock; its short timers (conflict retries) run on real time,
  // and its periodic look-again (every 15 s) is left to the report writes, which trigger a
  // reconcile each. So a jump of 12 hours is instantaneous, as if the signer pod had reported
  // throughout, and never a moment in which the last report looks 12 hours old.
  const poolClock: Clock = {
    now: () => clock.now(),
    setTimer: (fn, ms) => (ms >= POOL_RESYNC_MS ? { cancel: () => {} } : systemClock.setTimer(fn, ms)),
  };
  manager = await startPoolController(client, ns.name, poolClock);
  await client.create(OcspResponderPoolType, {
    apiVersion: 'ocsp-operator.dev/v1alpha1',
    kind: 'OcspResponderPool',
    metadata: { name: POOL, namespace: ns.name },
    spec: {
      issuer: { secretName: 'ca' },
      signing: { softwareKey: { secretName: 'ca' } },
      sources: [{ opensslIndex: { configMapName: 'ca-db' } }],
      store: { type: 'Redis', redis: { primaryURL: 'redis://127.0.0.1:6390', replicaURLs: ['redis://127.0.0.1:6391'] } },
      responseValidity: '168h',
      refreshAge: '72h',
      thresholds: { freshnessWarningAge: '96h', freshnessCriticalAge: '144h' },
      signers: { minReplicas: 1, maxReplicas: 10, stabilizationWindow: '1h', targetDrainTime: '10s' },
    },
  } as KubeObject);
}, 120_000);

afterAll(async () => {
  await manager?.stop();
  await responder?.close();
  await store?.close();
  await ns?.remove();
  if (dir) await rm(dir, { recursive: true, force: true });
  tl.print();
});

describe('incident: the updater falls behind', { timeout: 85_000 }, () => {
  const history: Array<{ at: number; due: number; replicas: number; fresh: string }> = [];
  let staleAt: number | undefined;
  let criticalAt: number | undefined;

  it('a healthy start: every certificate signed, the pool fresh with one signer', async () => {
    const fast = signer({ slow: false });
    const r = await fast.runOnce();
    expect(r.signed).toBe(INITIAL);
    const b = await report(fast, r);
    expect(b.due).toBe(0);
    const p = await poolAt(0, (x) => cond(x, 'Fresh')?.reason === 'ResponsesFresh');
    expect(await waitFor('signer StatefulSet', replicas)).toBe(1);
    expect(p.status?.signers?.desired).toBe(1);
    const good = await ask(firstLeaf);
    expect(validateOcspResponse(new Uint8Array(good), { cert: firstLeaf.cert, issuer: ca.cert, now: new Date(clock.now()) }).ok).toBe(true);
    tl.note(`${INITIAL} certificates signed in one round; Fresh=True, 1 signer`, { condition: 'Fresh=True ResponsesFresh' });
  });

  it('signing slowed to a trickle while certificates keep arriving: backlog grows, signers scale out, Stale at the warning age, Critical before any response expires', async () => {
    slow = signer({ slow: true });
    tl.inject(
      `signing slowed to ${TRICKLE} signatures per round, one at a time (${SLOW_MS} ms each); ${ARRIVALS_PER_STEP} new certificates every ${hours(STEP_MS)}`,
    );
    for (let step = 1; step <= 14 && criticalAt === undefined; step++) {
      clock.advance(STEP_MS);
      await arrive(ARRIVALS_PER_STEP);
      const r = await slow.runOnce();
      expect(r.signed).toBeLessThanOrEqual(TRICKLE);
      const b = await report(slow, r);
      const p = await poolAt(b.due);
      const rep = (await replicas()) ?? 0;
      const fresh = cond(p, 'Fresh')?.reason ?? '';
      history.push({ at: clock.now() - t0, due: b.due, replicas: rep, fresh });
      const m = await registry.metrics();
      const dueMetric = metricValue(m, 'ocsp_signer_backlog', { kind: 'due' });
      if (step === 1 || rep !== history.at(-2)?.replicas) {
        tl.detect(
          `backlog ${b.due} (${b.missing} never signed), ${r.rate.toFixed(1)} signatures/s per pod → signer StatefulSet ${rep} replica(s)`,
          { metric: `ocsp_signer_backlog{kind="due"}=${dueMetric}; pool status.backlog=${p.status?.backlog}` },
        );
      }
      if (fresh === 'ResponsesStale' && staleAt === undefined) {
        staleAt = clock.now() - t0;
        tl.detect(`oldest response ${hours(b.oldestAgeMs ?? 0)} old: "${cond(p, 'Fresh')?.message}"`, {
          condition: 'Fresh=False ResponsesStale',
          event: 'Warning ResponsesStale',
          metric: `ocsp_signer_oldest_response_age_seconds=${metricValue(m, 'ocsp_signer_oldest_response_age_seconds')}`,
        });
      }
      if (fresh === 'ResponsesCritical') {
        criticalAt = clock.now() - t0;
        const stats = await storeStats(store);
        // before any response expires: the soonest nextUpdate of all is still ahead
        expect(stats.soonestNextUpdate!).toBeGreaterThan(clock.now());
        tl.detect(`"${cond(p, 'Fresh')?.message}"; soonest nextUpdate still ${hours(stats.soonestNextUpdate! - clock.now())} away`, {
          condition: 'Fresh=False ResponsesCritical; Ready=False',
          event: 'Warning ResponsesCritical',
        });
        expect(cond(p, 'Ready')?.status).toBe('False');
        expect(cond(p, 'BaselineRequirements')?.status).toBe('False');
        expect(cond(p, 'NewCertificatesServed')?.reason).toBe('NewCertificateWaiting');
      }
    }
    // Stale once the oldest response passed 96 h, Critical once it passed 144 h: no earlier, no later.
    expect(staleAt).toBe(96 * H);
    expect(criticalAt).toBe(144 * H);
    // The backlog only grew, and the signers followed it up.
    for (let i = 1; i < history.length; i++) expect(history[i]!.due).toBeGreaterThan(history[i - 1]!.due);
    for (let i = 1; i < history.length; i++) expect(history[i]!.replicas).toBeGreaterThanOrEqual(history[i - 1]!.replicas);
    expect(history.at(-1)!.replicas).toBeGreaterThan(2);
    expect(history.map((h) => h.fresh)).toContain('ResponsesStale');
    // Two more looks at the same state (an annotation wakes the controller; time stands still):
    // no repeated Events.
    for (let i = 0; i < 2; i++) {
      const since = reconcileCount(`${ns.name}/${POOL}`);
      await client.mergePatch(
        OcspResponderPoolType,
        { namespace: ns.name, name: POOL },
        { metadata: { annotations: { 'example.com/look': String(i) } } },
      );
      await reconciledAgain(`${ns.name}/${POOL}`, since);
    }
    const evs = await poolEvents();
    expect(evs.filter((e) => e.reason === 'ResponsesStale')).toHaveLength(1);
    expect(evs.filter((e) => e.reason === 'ResponsesCritical')).toHaveLength(1);
    expect(evs.find((e) => e.reason === 'ResponsesCritical')?.type).toBe('Warning');
  });

  it('no expired response is served: past its nextUpdate the responder answers tryLater', async () => {
    // Nobody acts on the alert: the first responses reach their nextUpdate (168 h).
    clock.advance(t0 + VALIDITY - clock.now());
    tl.inject(`nobody acts: the clock reaches ${hours(VALIDITY)}, the first responses' nextUpdate`);
    // the slowed signer keeps trickling and reporting
    const b = await report(slow, await slow.runOnce());
    const p = await poolAt(b.due);
    expect(cond(p, 'Fresh')?.reason).toBe('ResponsesCritical');
    const body = await ask(firstLeaf);
    expect(body.toString('hex')).toBe(TRY_LATER_HEX);
    // a recently signed certificate is still served
    const recent = certs.find((c) => addedAt.get(c.serial)! > t0 && store.get(issuerIdOf(ca.cert), c.serial) !== undefined)!;
    const ok = await ask(leaves.get(recent.serial)!);
    expect(
      validateOcspResponse(new Uint8Array(ok), { cert: leaves.get(recent.serial)!.cert, issuer: ca.cert, now: new Date(clock.now()) }).ok,
    ).toBe(true);
    const m = await responder.metrics.registry.metrics();
    expect(metricValue(m, 'ocsp_responder_requests_total', { method: 'POST', result: 'expired' })).toBeGreaterThanOrEqual(1);
    tl.detect(`responder answers tryLater (30 03 0a 01 03) for a response past its nextUpdate, never the expired response`, {
      metric: 'ocsp_responder_requests_total{result="expired"}',
    });
  });

  it('the slowdown removed: the backlog drains, Fresh recovers, signers scale back after the stabilization window', async () => {
    const peak = (await replicas())!;
    expect(peak).toBeGreaterThan(2);
    const fast = signer({ slow: false });
    tl.recover('slowdown removed (full-speed key, no per-round cap)');
    const r = await fast.runOnce();
    expect(r.failed).toBe(0);
    const b = await report(fast, r);
    expect(b.due).toBe(0);
    const p = await poolAt(0, (x) => cond(x, 'Fresh')?.reason === 'ResponsesFresh');
    // scale-down waits for the stabilization window
    expect(await replicas()).toBe(peak);
    tl.recover(
      `${r.signed} responses signed in one round: backlog 0, Fresh=True; signers stay at ${peak} within the 1h stabilization window`,
      { condition: 'Fresh=True ResponsesFresh', event: 'Normal ResponsesFresh' },
    );
    expect(cond(p, 'NewCertificatesServed')?.status).toBe('True');
    await waitFor('a Normal ResponsesFresh Event', async () =>
      (await poolEvents()).some((e) => e.reason === 'ResponsesFresh' && e.type === 'Normal'),
    );
    clock.advance(61 * 60_000);
    const r2 = await fast.runOnce();
    await report(fast, r2);
    const down = await waitFor('signers back to 1', async () => ((await replicas()) === 1 ? Date.now() : undefined), 20_000);
    expect(down).toBeGreaterThan(0);
    tl.recover('61 min later: signer StatefulSet back to 1 replica');
    const again = await ask(firstLeaf);
    expect(validateOcspResponse(new Uint8Array(again), { cert: firstLeaf.cert, issuer: ca.cert, now: new Date(clock.now()) }).ok).toBe(
      true,
    );
    tl.recover('the first certificate is served again, with a fresh response');
  });
});
