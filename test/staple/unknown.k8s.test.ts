// A responder that answers `unknown` (the real `openssl ocsp`, for a serial missing from its
// index.txt): by default that answer is never stapled. It is a failed refresh: the previous
// usable staple stays, or the certificate is published without one; Ready/Fresh say
// ResponderSaysUnknown, a Warning Event says it once, and the retry waits the failure backoff.
// spec.publishUnknown publishes it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OcspStapleType } from '../../src/kube/types.js';
import { buildOcspRequest } from '../../src/ocsp/index.js';
import { STAPLE_KEY } from '../../src/staple/staple-secret.js';
import { createCa, issueLeaf, type Ca, type Issued } from '../support/pki.js';
import { opensslVerifyResponse, postOcsp, startOpensslResponder, type ResponderHandle } from '../support/openssl.js';
import { createNamespace, eventsAbout, kubeClient, metricValue, putSecret, tlsSecret, waitFor, type EventObject } from '../support/kube.js';
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

let ca: Ca;
let known: Issued; // in the first responder's index
let strangers: Issued[]; // in no responder's index but the decoy's
let decoy: Issued;
let knowing: ResponderHandle; // knows `known`
let ignorant: ResponderHandle; // knows only the decoy: says unknown for everything else
let ns: { name: string; remove(): Promise<void> };
let h: Harness;

beforeAll(async () => {
  ca = await createCa({ keyAlg: 'P-256', name: 'CN=Unknown Test CA' });
  // The AIA URL (the default, a closed port) is never used: each staple names its responder in
  // spec.responderURL.
  known = await issueLeaf(ca, { dnsNames: ['known.test'] });
  strangers = [];
  for (let i = 0; i < 2; i++) strangers.push(await issueLeaf(ca, { dnsNames: [`stranger${i}.test`] }));
  decoy = await issueLeaf(ca, { dnsNames: ['decoy.test'] });
  knowing = await startOpensslResponder({ ca, indexEntries: [{ cert: known.cert, status: 'V' }], nmin: 60 });
  ignorant = await startOpensslResponder({ ca, indexEntries: [{ cert: decoy.cert, status: 'V' }], nmin: 60 });
  ns = await createNamespace(kubeClient(), 'unknown');
  h = await startStapleController(ns.name);
});

afterAll(async () => {
  await h?.stop();
  await ns?.remove();
  await knowing?.stop();
  await ignorant?.stop();
});

async function warnings(name: string, reason: string): Promise<EventObject[]> {
  return (await eventsAbout(h.client, ns.name, name)).filter(
    (e) => e.regarding?.kind === 'OcspStaple' && e.type === 'Warning' && e.reason === reason,
  );
}

async function unknownFailures(): Promise<number> {
  return (
    metricValue(await h.manager.metrics.registry.metrics(), 'ocsp_operator_staple_failures_total', { reason: 'ResponderSaysUnknown' }) ?? 0
  );
}

describe('a responder that says unknown', () => {
  it('is really saying unknown (openssl reads the answer so)', async () => {
    const req = buildOcspRequest({ cert: strangers[0]!.cert, issuer: ca.cert });
    const r = await postOcsp(ignorant.url, req.der);
    const v = await opensslVerifyResponse({ response: r.body, issuerPem: ca.certPem, certPem: strangers[0]!.certPem, caPem: ca.certPem });
    expect(v.verified, v.output).toBe(true);
    expect(v.status).toBe('unknown');
  });

  it('with no previous staple: the certificate is published without one, Ready=False ResponderSaysUnknown, a Warning, the failure backoff', async () => {
    const before = await unknownFailures();
    await putSecret(h.client, tlsSecret(ns.name, 'first-tls', { certPem: strangers[0]!.chainPem, keyPem: strangers[0]!.keyPem }));
    await createStaple(h.client, ns.name, 'first', {
      secretName: 'first-tls',
      responderURL: ignorant.url,
      refresh: { retryInitial: '30s', retryMax: '5m' },
    });
    const s = await waitForReason(h.client, ns.name, 'first', 'ResponderSaysUnknown');
    expect(condition(s, 'Ready')?.status).toBe('False');
    expect(condition(s, 'Ready')?.message).toContain('unknown');
    expect(condition(s, 'Fresh')).toMatchObject({ status: 'False', reason: 'ResponderSaysUnknown' });
    expect(s.status?.staple).toBeUndefined();
    expect(s.status?.lastFailure?.reason).toBe('ResponderSaysUnknown');
    expect(s.status?.consecutiveFailures).toBe(1);
    // the first retry waits retryInitial (30 s, ±10% jitter), not a refresh plan
    const wait = Date.parse(s.status!.nextRefreshTime!) - Date.parse(s.status!.lastFailure!.time!);
    expect(wait).toBeGreaterThanOrEqual(0.9 * 30_000 - 1000);
    expect(wait).toBeLessThanOrEqual(1.1 * 30_000 + 1000);
    const secret = await waitFor('the staple Secret', () => getSecret(h.client, ns.name, 'first-tls-ocsp'));
    expect(secret.data?.['tls.crt']).toBeTruthy();
    expect(secret.data?.[STAPLE_KEY]).toBeUndefined();
    await waitFor('a ResponderSaysUnknown Warning', async () => (await warnings('first', 'ResponderSaysUnknown')).length > 0);
    expect(await unknownFailures()).toBeGreaterThan(before);
  });

  it('after a good staple: the good staple stays, Ready stays Stapled, Fresh=False ResponderSaysUnknown, one Warning', async () => {
    await putSecret(h.client, tlsSecret(ns.name, 'kept-tls', { certPem: known.chainPem, keyPem: known.keyPem }));
    await createStaple(h.client, ns.name, 'kept', { secretName: 'kept-tls', responderURL: knowing.url });
    await waitForReason(h.client, ns.name, 'kept', 'Stapled');
    const good = (await getSecret(h.client, ns.name, 'kept-tls-ocsp'))!.data![STAPLE_KEY]!;
    // The CA's responder forgets the certificate (a new spec generation is fetched at once).
    await h.client.mergePatch(OcspStapleType, { namespace: ns.name, name: 'kept' }, { spec: { responderURL: ignorant.url } });
    const s = await waitForReason(h.client, ns.name, 'kept', 'ResponderSaysUnknown', 20_000, 'Fresh');
    expect(condition(s, 'Fresh')?.status).toBe('False');
    expect(condition(s, 'Ready')).toMatchObject({ status: 'True', reason: 'Stapled' });
    expect(s.status?.staple?.certStatus).toBe('good');
    expect((await getSecret(h.client, ns.name, 'kept-tls-ocsp'))!.data![STAPLE_KEY]).toBe(good);
    await waitFor('a ResponderSaysUnknown Warning', async () => (await warnings('kept', 'ResponderSaysUnknown')).length === 1);
  });

  it('spec.publishUnknown: the unknown staple is published (Ready=True, Revoked=False Unknown); turned off, it is taken down', async () => {
    await putSecret(h.client, tlsSecret(ns.name, 'allowed-tls', { certPem: strangers[1]!.chainPem, keyPem: strangers[1]!.keyPem }));
    await createStaple(h.client, ns.name, 'allowed', { secretName: 'allowed-tls', responderURL: ignorant.url, publishUnknown: true });
    const s = await waitForReason(h.client, ns.name, 'allowed', 'Stapled');
    expect(s.status?.staple?.certStatus).toBe('unknown');
    expect(condition(s, 'Revoked')).toMatchObject({ status: 'False', reason: 'Unknown' });
    const secret = (await getSecret(h.client, ns.name, 'allowed-tls-ocsp'))!;
    const ls = lockstepOf(secret);
    expect(ls.verdict?.ok && ls.verdict.response.certStatus).toBe('unknown');
    expect(ls.stapleSerial).toBe(ls.certSerial);

    await h.client.mergePatch(OcspStapleType, { namespace: ns.name, name: 'allowed' }, { spec: { publishUnknown: false } });
    const off = await waitForReason(h.client, ns.name, 'allowed', 'ResponderSaysUnknown');
    expect(condition(off, 'Ready')?.status).toBe('False');
    expect(off.status?.staple).toBeUndefined();
    const after = (await getSecret(h.client, ns.name, 'allowed-tls-ocsp'))!;
    expect(after.data?.[STAPLE_KEY]).toBeUndefined();
    expect(after.data?.['tls.crt']).toBe(secret.data?.['tls.crt']);
    expect((await getStaple(h.client, ns.name, 'allowed')).status?.lastFailure?.reason).toBe('ResponderSaysUnknown');
  });
});
