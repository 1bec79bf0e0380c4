// Incident replay 5: "a stapling updater accepted responses whose responder certificate was about
// to expire, and tryLater bodies written as 5-byte files". The CA's responder (real `openssl ocsp`
// behind a fault proxy) answers, in turn: tryLater (the 5-byte body 30 03 0a 01 03), a 5-byte body
// cut short, a response signed by a delegated certificate that expires within the hour, and one
// whose delegated certificate has expired. Real apiserver; the staple controller in this process
// on a ManualClock, so the staple's hour of life passes in milliseconds.
//
// Asserted: no staple Secret version ever holds anything but the one validated staple; the last
// good staple is kept until its own nextUpdate, then removed with a Warning Event; each failure
// has a condition that names the problem (and the signer certificate), an Event and a metric.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certIdFor, signOcspResponse, softwareSigner } from '../../src/ocsp/index.js';
import { OcspStapleType, SecretType, type Secret } from '../../src/kube/types.js';
import { ManualClock } from '../../src/base/clock.js';
import { STAPLE_KEY } from '../../src/staple/staple-secret.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import {
  createNamespace,
  kubeClient,
  metricValue,
  putSecret,
  tlsSecret,
  waitFor,
  type EventObject,
  eventsAbout,
  watchCaughtUp,
} from '../support/kube.js';
import { startOpensslResponder, type ResponderHandle } from '../support/openssl.js';
import { createCa, issueLeaf, issueResponderCert, type Ca, type Issued } from '../support/pki.js';
import {
  condition,
  createStaple,
  getSecret,
  getStaple,
  lockstepOf,
  startStapleController,
  waitForReason,
  type Harness,
} from '../support/staple-harness.js';
import { Timeline } from '../support/timeline.js';

const MIN = 60_000;
const NAME = 'mail';

let ca: Ca;
let leaf: Issued;
let proxy: FaultProxy;
let responder: ResponderHandle;
let ns: { name: string; remove(): Promise<void> };
let h: Harness;
let clock: ManualClock;
let tl: Timeline;
const versions: Secret[] = [];
let stopWatch: { abort(): void } | undefined;

beforeAll(async () => {
  proxy = await startFaultProxy();
  ca = await createCa({ keyAlg: 'P-256', name: 'CN=Bad Answers CA' });
  leaf = await issueLeaf(ca, { ocspUrl: proxy.url, dnsNames: ['mail.test'] });
  responder = await startOpensslResponder({ ca, indexEntries: [{ cert: leaf.cert, status: 'V' }], nmin: 60 });
  proxy.upstream = responder.url;
  ns = await createNamespace(kubeClient(), 'incident-bad');
  clock = new ManualClock(Date.now());
  h = await startStapleController(ns.name, { clock });
  tl = new Timeline('bad-responder-answers (tryLater, 5-byte bodies, delegated signer expiring / expired)', clock);
});

afterAll(async () => {
  stopWatch?.abort();
  await h?.stop();
  await ns?.remove();
  await proxy?.close();
  await responder?.stop();
  tl?.print();
});

const events = (): Promise<EventObject[]> => eventsAbout(h.client, ns.name, NAME);

async function failures(reason: string): Promise<number> {
  return metricValue(await h.manager.metrics.registry.metrics(), 'ocsp_operator_staple_failures_total', { reason }) ?? 0;
}

/** A response for our certificate signed by a delegated responder certificate, at the test clock's time. */
async function delegatedResponse(signer: Issued): Promise<Uint8Array> {
  const now = clock.now();
  return signOcspResponse({
    issuer: ca.cert,
    signer: softwareSigner(signer.keyObject),
    responderCert: signer.cert,
    entries: [
      {
        certId: certIdFor(leaf.cert, ca.cert),
        status: { kind: 'good' },
        thisUpdate: new Date(now),
        nextUpdate: new Date(now + 24 * 60 * MIN),
      },
    ],
    producedAt: new Date(now),
  });
}

describe('incident: bad responder answers', { timeout: 80_000 }, () => {
  let good: string;
  let goodNextUpdate: number;
  let n = 0;

  it('a good staple is published first', async () => {
    await putSecret(h.client, tlsSecret(ns.name, 'mail-tls', { certPem: leaf.chainPem, keyPem: leaf.keyPem }));
    await createStaple(h.client, ns.name, NAME, {
      secretName: 'mail-tls',
      requestTimeout: '2s',
      refresh: { retryInitial: '1m', retryMax: '5m' },
    });
    const s = await waitForReason(h.client, ns.name, NAME, 'Stapled');
    const secret = (await getSecret(h.client, ns.name, 'mail-tls-ocsp'))!;
    good = secret.data![STAPLE_KEY]!;
    goodNextUpdate = Date.parse(s.status!.staple!.nextUpdate!);
    expect(lockstepOf(secret).verdict?.ok).toBe(true);
    tl.note(`good staple published (openssl ocsp, nextUpdate in ${Math.round((goodNextUpdate - clock.now()) / MIN)} min)`, {
      condition: 'Ready=True Stapled',
    });
    // From here on, every version of the staple Secret is recorded (this one first).
    versions.push(secret);
    stopWatch = await h.client.watch(
      SecretType,
      { namespace: ns.name, resourceVersion: secret.metadata!.resourceVersion!, timeoutSeconds: 600 },
      (phase, obj) => {
        const v = obj as Secret;
        if ((phase === 'ADDED' || phase === 'MODIFIED') && v.metadata?.name === 'mail-tls-ocsp') versions.push(v);
      },
      () => {},
    );
  });

  /** Has the responder answer `body`, makes the controller fetch now (a spec change), waits for the Fresh reason. */
  async function inject(label: string, body: Uint8Array, reason: string): Promise<string> {
    proxy.mode = { kind: 'body', body };
    const before = await failures(reason);
    tl.inject(`responder answers ${label}`);
    n++;
    await h.client.mergePatch(OcspStapleType, { namespace: ns.name, name: NAME }, { spec: { clockSkew: `${300 + n}s` } });
    const s = await waitForReason(h.client, ns.name, NAME, reason, 20_000, 'Fresh');
    expect(condition(s, 'Fresh')?.status).toBe('False');
    expect(condition(s, 'Ready')?.reason).toBe('Stapled'); // still serving the last good staple
    expect((await getSecret(h.client, ns.name, 'mail-tls-ocsp'))?.data?.[STAPLE_KEY]).toBe(good);
    expect(await failures(reason)).toBe(before + 1);
    const ev = await waitFor(`a ${reason} Warning Event`, async () =>
      (await events()).find((e) => e.reason === reason && e.type === 'Warning'),
    );
    const message = condition(s, 'Fresh')?.message ?? '';
    tl.detect(`refused; last good staple kept. "${message.slice(0, 150)}${message.length > 150 ? '…' : ''}"`, {
      condition: `Fresh=False ${reason}`,
      event: `Warning ${ev.reason}`,
      metric: `ocsp_operator_staple_failures_total{reason="${reason}"}`,
    });
    return message;
  }

  it('tryLater (the 5-byte body 30 03 0a 01 03) → TryLater, nothing written', async () => {
    const msg = await inject('tryLater (30 03 0a 01 03)', new Uint8Array([0x30, 0x03, 0x0a, 0x01, 0x03]), 'TryLater');
    expect(msg).toMatch(/tryLater/i);
  });

  it('a 5-byte body cut short → Truncated, nothing written', async () => {
    await inject('a 5-byte truncated body (30 82 01 00 0a)', new Uint8Array([0x30, 0x82, 0x01, 0x00, 0x0a]), 'Truncated');
  });

  it('signed by a delegated certificate that expires within the hour → SignerCertExpiringSoon naming it', async () => {
    const signer = await issueResponderCert(ca, { name: 'CN=Expiring Delegated Responder', notAfter: new Date(clock.now() + 30 * MIN) });
    const msg = await inject(
      'a response signed by a delegated certificate expiring in 30 min',
      await delegatedResponse(signer),
      'SignerCertExpiringSoon',
    );
    expect(msg).toContain('Expiring Delegated Responder');
  });

  it('signed by a delegated certificate that has expired → SignerCertExpired naming it', async () => {
    const signer = await issueResponderCert(ca, {
      name: 'CN=Expired Delegated Responder',
      notBefore: new Date(clock.now() - 2 * 24 * 60 * MIN),
      notAfter: new Date(clock.now() - MIN),
    });
    const msg = await inject(
      'a response signed by a delegated certificate that expired a minute ago',
      await delegatedResponse(signer),
      'SignerCertExpired',
    );
    expect(msg).toContain('Expired Delegated Responder');
    expect(msg).toMatch(/expired at/);
  });

  it('the last good staple stays until its own nextUpdate, then is removed with a Warning Event; the condition names the signer problem', async () => {
    // The responder keeps answering with the expired signer's response; retries fail with backoff.
    const retriesBefore = await failures('SignerCertExpired');
    const failuresBefore = (await getStaple(h.client, ns.name, NAME)).status?.consecutiveFailures ?? 0;
    clock.advance(goodNextUpdate - clock.now() - 2 * MIN);
    tl.inject(`clock moved to 2 min before the good staple's nextUpdate`);
    await waitFor('a retry at the moved clock', async () => (await failures('SignerCertExpired')) > retriesBefore, 20_000);
    // The retry's reconcile must end (its status written, its next wake-up scheduled) before the
    // clock moves again: a wake-up scheduled after the move would be counted from the moved time.
    await waitFor(
      'the retry written to status',
      async () => ((await getStaple(h.client, ns.name, NAME)).status?.consecutiveFailures ?? 0) > failuresBefore,
      20_000,
    );
    expect((await getSecret(h.client, ns.name, 'mail-tls-ocsp'))?.data?.[STAPLE_KEY]).toBe(good);
    const expiry = metricValue(await h.manager.metrics.registry.metrics(), 'ocsp_operator_staple_expiry_seconds', {
      namespace: ns.name,
      name: NAME,
    });
    expect(expiry).toBeGreaterThan(0);
    expect(expiry).toBeLessThanOrEqual(2 * 60 + 1);
    tl.detect(`still the last good staple, ${Math.round(expiry!)} s left`, {
      condition: 'Ready=True Stapled, Fresh=False SignerCertExpired',
      metric: `ocsp_operator_staple_expiry_seconds=${Math.round(expiry!)}`,
    });

    clock.advance(3 * MIN);
    tl.inject("clock moved past the good staple's nextUpdate");
    const s = await waitForReason(h.client, ns.name, NAME, 'StapleExpired');
    const secret = (await getSecret(h.client, ns.name, 'mail-tls-ocsp'))!;
    expect(secret.data?.[STAPLE_KEY]).toBeUndefined();
    expect(secret.data?.['tls.crt']).toBeTruthy();
    const ready = condition(s, 'Ready')!;
    expect(ready.status).toBe('False');
    expect(ready.message).toContain(leaf.serial.toLowerCase());
    expect(ready.message).toContain('Expired Delegated Responder'); // the signer problem, named
    expect(condition(s, 'Fresh')?.reason).toBe('SignerCertExpired');
    const ev = await waitFor('StapleExpired Warning Event', async () =>
      (await events()).find((e) => e.reason === 'StapleExpired' && e.type === 'Warning'),
    );
    expect(ev.note).toContain(leaf.serial.toLowerCase());
    const text = await h.manager.metrics.registry.metrics();
    expect(metricValue(text, 'ocsp_operator_staple_expiry_seconds', { namespace: ns.name, name: NAME })).toBeUndefined();
    expect(metricValue(text, 'ocsp_operator_staple_secret_writes_total', { kind: 'unstapled' })).toBeGreaterThanOrEqual(1);
    tl.detect(`staple removed from the Secret (certificate kept). "${ready.message.slice(0, 160)}…"`, {
      condition: 'Ready=False StapleExpired',
      event: 'Warning StapleExpired',
      metric: 'ocsp_operator_staple_secret_writes_total{kind="unstapled"}; ocsp_operator_staple_expiry_seconds gone',
    });
  });

  it('no staple Secret version ever held anything but the validated staple', async () => {
    await watchCaughtUp(h.client, SecretType, ns.name, 'mail-tls-ocsp', versions);
    stopWatch?.abort();
    expect(versions.length).toBeGreaterThanOrEqual(2); // the good staple, the removal
    const stapled = versions.filter((v) => v.data?.[STAPLE_KEY] !== undefined);
    expect(stapled.length).toBeGreaterThanOrEqual(1);
    expect(stapled.every((v) => v.data?.[STAPLE_KEY] === good)).toBe(true);
    expect(versions.at(-1)?.data?.[STAPLE_KEY]).toBeUndefined();
    const all = await h.client.list<Secret>(SecretType, { namespace: ns.name });
    expect(all.items.filter((x) => x.metadata?.name === 'mail-tls-ocsp')).toHaveLength(1);
    const evs = (await events()).filter((e) => e.type === 'Warning');
    const warnings = evs.map((e) => e.reason);
    for (const r of ['TryLater', 'Truncated', 'SignerCertExpiringSoon', 'SignerCertExpired'])
      expect(
        warnings.filter((x) => x === r),
        r,
      ).toHaveLength(1);
    // The removal is said once: by the Ready transition's Event.
    const expired = evs.filter((e) => e.reason === 'StapleExpired');
    expect(expired).toHaveLength(1);
    tl.note(
      `${versions.length} staple Secret version(s) from the good staple on, ${stapled.length} with a staple, all of them the validated one; one Warning Event per failure reason, ${expired.length} StapleExpired Event(s): ${expired.map((e) => JSON.stringify((e.note ?? '').slice(0, 60))).join(', ')}`,
    );
  });
});
