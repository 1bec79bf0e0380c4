// Incident replay 4: "a mail server stapled the previous certificate's response for two days after
// renewal". Renewal and staple update were not atomic, and the error message did not say which
// certificate the response was for. Replayed: a certificate Secret renewed 30 times in bursts while
// the CA's responder (real `openssl ocsp`) is slow behind a fault proxy, and now and then answers
// with the previous certificate's response (a stale cache in front of the CA). Real apiserver,
// the staple controller in this process.
//
// Asserted: a watch sees every staple Secret version, and none pairs a certificate with another
// certificate's staple; the condition on a wrong response names both serials; the last certificate
// ends up stapled.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certIdFor, signOcspResponse, softwareSigner } from '../../src/ocsp/index.js';
import { EventType, SecretType, type Secret } from '../../src/kube/types.js';
import { ANNOTATION_SERIAL } from '../../src/api/annotations.js';
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
  watchCaughtUp,
} from '../support/kube.js';
import { startOpensslResponder, type ResponderHandle } from '../support/openssl.js';
import { createCa, issueLeaf, type Ca, type Issued } from '../support/pki.js';
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

const RENEWALS = 30;
const SLOW_MS = 250;
const WRONG_AT = new Set([7, 15, 23]); // renewals at which the responder answers with the previous certificate's response

let ca: Ca;
let leaves: Issued[];
let proxy: FaultProxy;
let responder: ResponderHandle;
let ns: { name: string; remove(): Promise<void> };
let h: Harness;
const tl = new Timeline(
  `renewal-without-staple-update (${RENEWALS} renewals, responder slow ${SLOW_MS} ms, previous certificate's response served ${WRONG_AT.size} times)`,
);

beforeAll(async () => {
  proxy = await startFaultProxy();
  ca = await createCa({ keyAlg: 'P-256', name: 'CN=Renewal Incident CA' });
  leaves = [];
  for (let i = 0; i <= RENEWALS; i++) leaves.push(await issueLeaf(ca, { ocspUrl: proxy.url, dnsNames: ['mail.test'] }));
  responder = await startOpensslResponder({ ca, indexEntries: leaves.map((l) => ({ cert: l.cert, status: 'V' as const })), nmin: 60 });
  proxy.upstream = responder.url;
  ns = await createNamespace(kubeClient(), 'incident-renew');
  h = await startStapleController(ns.name);
});

afterAll(async () => {
  await h?.stop();
  await ns?.remove();
  await proxy?.close();
  await responder?.stop();
  tl.print();
});

/** The previous certificate's response, as a stale cache in front of the CA would hand it out. */
async function responseFor(l: Issued): Promise<Uint8Array> {
  const now = Date.now();
  return signOcspResponse({
    issuer: ca.cert,
    signer: softwareSigner(ca.keyObject),
    entries: [
      {
        certId: certIdFor(l.cert, ca.cert),
        status: { kind: 'good' },
        thisUpdate: new Date(now - 60_000),
        nextUpdate: new Date(now + 3_600_000),
      },
    ],
    producedAt: new Date(now - 60_000),
  });
}

describe('incident: renewal without staple update', { timeout: 85_000 }, () => {
  it(`${RENEWALS} renewals with a slow responder: no staple Secret version pairs a certificate with another certificate's staple`, async () => {
    await putSecret(h.client, tlsSecret(ns.name, 'mail-tls', { certPem: leaves[0]!.chainPem, keyPem: leaves[0]!.keyPem }));
    await createStaple(h.client, ns.name, 'mail', { secretName: 'mail-tls', refresh: { retryInitial: '1s', retryMax: '2s' } });
    await waitForReason(h.client, ns.name, 'mail', 'Stapled');
    const first = (await getSecret(h.client, ns.name, 'mail-tls-ocsp'))!;
    tl.note(`certificate ${leaves[0]!.serial.toLowerCase()} stapled`, { condition: 'Ready=True Stapled' });

    const versions: Secret[] = [first];
    const abort = await h.client.watch(
      SecretType,
      { namespace: ns.name, resourceVersion: first.metadata!.resourceVersion!, timeoutSeconds: 600 },
      (phase, obj) => {
        const s = obj as Secret;
        if ((phase === 'ADDED' || phase === 'MODIFIED') && s.metadata?.name === 'mail-tls-ocsp') versions.push(s);
      },
      () => {},
    );
    const slow = { kind: 'slow' as const, delayMs: SLOW_MS };
    proxy.mode = slow;
    tl.inject(`responder slowed to ${SLOW_MS} ms per answer; renewals begin`);
    const mismatchMessages: string[] = [];
    try {
      for (let i = 1; i <= RENEWALS; i++) {
        const cur = leaves[i]!;
        const prev = leaves[i - 1]!;
        if (WRONG_AT.has(i)) {
          proxy.mode = { kind: 'body', body: await responseFor(prev) };
          tl.inject(
            `renewal ${i}: ${cur.serial.toLowerCase()} issued; the responder answers with the previous certificate's (${prev.serial.toLowerCase()}) response`,
          );
        }
        await putSecret(h.client, tlsSecret(ns.name, 'mail-tls', { certPem: cur.chainPem, keyPem: cur.keyPem }));
        if (WRONG_AT.has(i)) {
          const s = await waitFor(
            `CertIdMismatch for renewal ${i}`,
            async () => {
              const x = await getStaple(h.client, ns.name, 'mail');
              return x.status?.certificate?.serial === cur.serial.toLowerCase() && condition(x, 'Ready')?.reason === 'CertIdMismatch'
                ? x
                : undefined;
            },
            20_000,
          );
          const msg = condition(s, 'Ready')?.message ?? '';
          mismatchMessages.push(msg);
          expect(msg.toLowerCase()).toContain(cur.serial.toLowerCase());
          expect(msg.toLowerCase()).toContain(prev.serial.toLowerCase());
          expect(condition(s, 'Fresh')?.reason).toBe('CertIdMismatch');
          // whatever is published is still a consistent pair
          const published = (await getSecret(h.client, ns.name, 'mail-tls-ocsp'))!;
          const ls = lockstepOf(published);
          expect(ls.verdict === undefined || ls.verdict.ok).toBe(true);
          const why = msg.slice(Math.max(0, msg.indexOf('rejected: ') + 'rejected: '.length));
          tl.detect(
            `refused; the published pair is ${ls.certSerial} with its own staple. "…${why.slice(0, 220)}${why.length > 220 ? '…' : ''}"`,
            {
              condition: 'Ready=False CertIdMismatch, Fresh=False CertIdMismatch',
              event: 'Warning CertIdMismatch',
              metric: 'ocsp_operator_staple_failures_total{reason="CertIdMismatch"}',
            },
          );
          proxy.mode = slow;
        }
        await new Promise((r) => setTimeout(r, i % 5 === 0 ? 400 : 60)); // bursts and pauses
      }
      const last = leaves[RENEWALS]!.serial.toLowerCase();
      await waitFor(
        'the last certificate stapled',
        async () => {
          const s = await getSecret(h.client, ns.name, 'mail-tls-ocsp');
          return s && lockstepOf(s).certSerial === last && lockstepOf(s).verdict?.ok;
        },
        30_000,
      );
      await waitForReason(h.client, ns.name, 'mail', 'Stapled');
      tl.recover(`responder back to slow-but-correct; last certificate ${last} stapled`, { condition: 'Ready=True Stapled' });
      await watchCaughtUp(h.client, SecretType, ns.name, 'mail-tls-ocsp', versions);
    } finally {
      proxy.mode = { kind: 'pass' };
      abort.abort();
    }

    const checked = versions.map((v) => ({ v, ls: lockstepOf(v) }));
    const mismatched = checked.filter(({ ls }) => ls.verdict && !ls.verdict.ok);
    const annotationDrift = checked.filter(({ v, ls }) => v.metadata?.annotations?.[ANNOTATION_SERIAL] !== ls.certSerial);
    const stapled = checked.filter(({ v }) => v.data?.[STAPLE_KEY]).length;
    const certsPublished = new Set(checked.map(({ ls }) => ls.certSerial)).size;
    expect(versions.length).toBeGreaterThan(RENEWALS / 6); // the watch really saw the churn
    expect(stapled).toBeGreaterThan(RENEWALS / 6);
    expect(mismatched.map(({ ls }) => `${ls.certSerial}: ${ls.verdict && !ls.verdict.ok ? ls.verdict.message : ''}`)).toEqual([]);
    expect(annotationDrift.map(({ v, ls }) => `${ls.certSerial} annotated ${v.metadata?.annotations?.[ANNOTATION_SERIAL]}`)).toEqual([]);
    expect(mismatchMessages).toHaveLength(WRONG_AT.size);

    const text = await h.manager.metrics.registry.metrics();
    const mismatchCount = metricValue(text, 'ocsp_operator_staple_failures_total', { reason: 'CertIdMismatch' }) ?? 0;
    expect(mismatchCount).toBeGreaterThanOrEqual(WRONG_AT.size);
    const evs = (await h.client.list<EventObject>(EventType, { namespace: ns.name })).items.filter((e) => e.regarding?.name === 'mail');
    expect(evs.filter((e) => e.reason === 'CertIdMismatch' && e.type === 'Warning').length).toBeGreaterThanOrEqual(1);
    expect(evs.filter((e) => e.reason === 'RenewedCertificateStapled').length).toBeGreaterThanOrEqual(1);
    tl.detect(
      `watch saw ${versions.length} staple Secret versions (${stapled} with a staple, ${certsPublished} distinct certificates): 0 pair a certificate with another certificate's staple, 0 annotation drift`,
      {
        event: `Normal RenewedCertificateStapled ×${evs.filter((e) => e.reason === 'RenewedCertificateStapled').length}`,
        metric: `ocsp_operator_staple_failures_total{reason="CertIdMismatch"}=${mismatchCount}`,
      },
    );
  });
});
