// Staple lifecycle over time, with the controller's clock in the test's hand: a staple that cannot
// be refreshed is removed at its nextUpdate; renewal policies; revoked and must-staple
// certificates. Real apiserver, real `openssl ocsp` behind a fault proxy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certIdFor, signOcspResponse, softwareSigner } from '../../src/ocsp/index.js';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { CrdType, OcspStapleType, CertificateType, type KubeObject } from '../../src/kube/types.js';
import { ManualClock } from '../../src/base/clock.js';
import { ANNOTATION_SERIAL } from '../../src/api/annotations.js';
import { STAPLE_KEY } from '../../src/staple/staple-secret.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { createNamespace, kubeClient, putSecret, tlsSecret, waitFor, type EventObject, eventsAbout } from '../support/kube.js';
import { startOpensslResponder, type ResponderHandle } from '../support/openssl.js';
import { createCa, issueLeaf, issueResponderCert, type Ca, type Issued } from '../support/pki.js';
import { SecretType } from '../../src/kube/types.js';
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

const MIN = 60_000;

let ca: Ca;
let proxy: FaultProxy;
let responder: ResponderHandle;
let ns: { name: string; remove(): Promise<void> };
let h: Harness; // the system clock, for what the real responder's times must agree with
let timeNs: { name: string; remove(): Promise<void> };
let timed: Harness; // a clock the test moves: hours pass in milliseconds
let clock: ManualClock;
const leaf: Record<string, Issued> = {};

beforeAll(async () => {
  proxy = await startFaultProxy();
  ca = await createCa({ keyAlg: 'P-256', name: 'CN=Lifecycle Test CA' });
  for (const name of ['expiry', 'signerexp', 'keep1', 'keep2', 'publish1', 'publish2', 'revoked', 'reissue'])
    leaf[name] = await issueLeaf(ca, { ocspUrl: proxy.url, dnsNames: [`${name}.test`] });
  leaf.muststaple = await issueLeaf(ca, { ocspUrl: proxy.url, dnsNames: ['muststaple.test'], mustStaple: true });
  const entries = Object.entries(leaf).map(([name, l]) =>
    name === 'revoked' || name === 'reissue'
      ? { cert: l.cert, status: 'R' as const, revokedAt: new Date(Date.now() - 3600_000), reason: 'keyCompromise' }
      : { cert: l.cert, status: 'V' as const },
  );
  responder = await startOpensslResponder({ ca, indexEntries: entries, nmin: 60 });
  proxy.upstream = responder.url;
  ns = await createNamespace(kubeClient(), 'lifecycle');
  h = await startStapleController(ns.name);
  timeNs = await createNamespace(kubeClient(), 'lifecycle-time');
  clock = new ManualClock(Date.now());
  timed = await startStapleController(timeNs.name, { clock });
});

afterAll(async () => {
  await h?.stop();
  await timed?.stop();
  await ns?.remove();
  await timeNs?.remove();
  await proxy?.close();
  await responder?.stop();
});

const eventsFor = (name: string, namespace = ns.name): Promise<EventObject[]> => eventsAbout(h.client, namespace, name);

async function stapled(name: string, cert: Issued, namespace = ns.name): Promise<void> {
  await putSecret(h.client, tlsSecret(namespace, `${name}-tls`, { certPem: cert.chainPem, keyPem: cert.keyPem }));
  await createStaple(h.client, namespace, name, { secretName: `${name}-tls`, refresh: { retryInitial: '1m', retryMax: '10m' } });
  await waitForReason(h.client, namespace, name, 'Stapled');
}

describe('a staple that can no longer be refreshed', () => {
  it('is kept while retries fail, then removed at its nextUpdate with a Warning Event', async () => {
    await stapled('expiry', leaf.expiry!, timeNs.name);
    const s0 = await getStaple(h.client, timeNs.name, 'expiry');
    const nextUpdate = Date.parse(s0.status!.staple!.nextUpdate!);
    proxy.mode = { kind: 'status', code: 503 };
    try {
      // past the planned refresh (about half of the 60-minute window): the refresh fails, the staple stays
      clock.advance(Date.parse(s0.status!.nextRefreshTime!) - clock.now() + 1000);
      const s1 = await waitForReason(h.client, timeNs.name, 'expiry', 'ResponderHttpError', 20_000, 'Fresh');
      expect(condition(s1, 'Ready')?.reason).toBe('Stapled');
      expect((await getSecret(h.client, timeNs.name, 'expiry-tls-ocsp'))?.data?.[STAPLE_KEY]).toBeTruthy();
      // retries keep failing, with backoff, until just before nextUpdate
      clock.advance(nextUpdate - clock.now() - 2 * MIN);
      await waitFor(
        'more failed retries',
        async () => ((await getStaple(h.client, timeNs.name, 'expiry')).status?.consecutiveFailures ?? 0) >= 2,
      );
      expect((await getSecret(h.client, timeNs.name, 'expiry-tls-ocsp'))?.data?.[STAPLE_KEY]).toBeTruthy();
      // nextUpdate passes: the staple goes, the certificate stays
      clock.advance(3 * MIN);
      const s2 = await waitForReason(h.client, timeNs.name, 'expiry', 'StapleExpired');
      expect(condition(s2, 'Ready')?.status).toBe('False');
      const secret = await getSecret(h.client, timeNs.name, 'expiry-tls-ocsp');
      expect(secret?.data?.[STAPLE_KEY]).toBeUndefined();
      expect(secret?.data?.['tls.crt']).toBeTruthy();
      const evs = (await eventsFor('expiry', timeNs.name)).filter((e) => e.reason === 'StapleExpired');
      expect(evs).toHaveLength(1); // said once
      expect(evs.every((e) => e.type === 'Warning')).toBe(true);
      expect(evs[0]?.note).toContain(leaf.expiry!.serial.toLowerCase());
    } finally {
      proxy.mode = { kind: 'pass' };
    }
    // the responder recovers (answering at the moved clock's time): the next retry publishes a staple
    const now = new Date(clock.now());
    proxy.mode = {
      kind: 'body',
      body: await signOcspResponse({
        issuer: ca.cert,
        signer: softwareSigner(ca.keyObject),
        entries: [
          {
            certId: certIdFor(leaf.expiry!.cert, ca.cert),
            status: { kind: 'good' },
            thisUpdate: now,
            nextUpdate: new Date(now.getTime() + 60 * MIN),
          },
        ],
        producedAt: now,
      }),
    };
    try {
      clock.advance(11 * MIN);
      await waitForReason(h.client, timeNs.name, 'expiry', 'Stapled');
    } finally {
      proxy.mode = { kind: 'pass' };
    }
  });
});

describe('a delegated responder certificate near its end', () => {
  it('turns SignerCertificateExpiring True when spec.signerExpiryWarning is reached, on time', async () => {
    const now = clock.now();
    const responderCert = await issueResponderCert(ca, { notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 120 * 3_600_000) });
    const body = await signOcspResponse({
      issuer: ca.cert,
      responderCert: responderCert.cert,
      signer: softwareSigner(responderCert.keyObject),
      entries: [
        {
          certId: certIdFor(leaf.signerexp!.cert, ca.cert),
          status: { kind: 'good' },
          thisUpdate: new Date(now),
          nextUpdate: new Date(now + 48 * 3_600_000),
        },
      ],
      producedAt: new Date(now),
    });
    proxy.mode = { kind: 'body', body };
    try {
      await putSecret(
        h.client,
        tlsSecret(timeNs.name, 'signerexp-tls', { certPem: leaf.signerexp!.chainPem, keyPem: leaf.signerexp!.keyPem }),
      );
      // 120 h left, warning at 108 h: the window opens 12 h from now, long before the refresh (~24 h).
      await createStaple(h.client, timeNs.name, 'signerexp', { secretName: 'signerexp-tls', signerExpiryWarning: '108h' });
      const before = await waitForReason(h.client, timeNs.name, 'signerexp', 'SignerValid', 20_000, 'SignerCertificateExpiring');
      expect(Date.parse(before.status!.nextRefreshTime!) - now).toBeGreaterThan(13 * 3_600_000); // ~24 h less up to 10% jitter of 48 h
      // With the default warning (168h) it would have been True from the start.
      clock.advance(12 * 3_600_000 + 1_000);
      const after = await waitForReason(h.client, timeNs.name, 'signerexp', 'SignerExpiresSoon', 20_000, 'SignerCertificateExpiring');
      expect(condition(after, 'SignerCertificateExpiring')?.status).toBe('True');
      expect(condition(after, 'Ready')?.reason).toBe('Stapled');
    } finally {
      proxy.mode = { kind: 'pass' };
    }
  });
});

describe('renewal while the responder cannot answer', () => {
  it('KeepPreviousPair (the default) keeps the old certificate with its own staple, and says why', async () => {
    await stapled('keep', leaf.keep1!);
    proxy.mode = { kind: 'body', body: new Uint8Array([0x30, 0x03, 0x0a, 0x01, 0x03]) }; // tryLater
    try {
      await putSecret(h.client, tlsSecret(ns.name, 'keep-tls', { certPem: leaf.keep2!.chainPem, keyPem: leaf.keep2!.keyPem }));
      const s = await waitForReason(h.client, ns.name, 'keep', 'TryLater');
      const msg = condition(s, 'Ready')?.message ?? '';
      expect(msg).toContain(leaf.keep2!.serial.toLowerCase()); // the new certificate
      expect(msg).toContain(leaf.keep1!.serial.toLowerCase()); // the pair still published
      const secret = (await getSecret(h.client, ns.name, 'keep-tls-ocsp'))!;
      const ls = lockstepOf(secret);
      expect(ls.certSerial).toBe(leaf.keep1!.serial.toLowerCase());
      expect(ls.verdict?.ok).toBe(true);
    } finally {
      proxy.mode = { kind: 'pass' };
    }
    // the responder is back; a spec change makes the controller look at once instead of after the backoff
    await h.client.mergePatch(OcspStapleType, { namespace: ns.name, name: 'keep' }, { spec: { clockSkew: '4m' } });
    await waitFor('the new pair', async () => {
      const s = await getSecret(h.client, ns.name, 'keep-tls-ocsp');
      return s?.metadata?.annotations?.[ANNOTATION_SERIAL] === leaf.keep2!.serial.toLowerCase() && lockstepOf(s).verdict?.ok;
    });
    // The Event follows the status write, which follows the Secret's: wait for it, do not race it.
    await waitFor('the RenewedCertificateStapled Event', async () =>
      (await eventsFor('keep')).some((e) => e.reason === 'RenewedCertificateStapled'),
    );
  });

  it('PublishWithoutStaple publishes the new certificate with no staple at all', async () => {
    await putSecret(h.client, tlsSecret(ns.name, 'publish-tls', { certPem: leaf.publish1!.chainPem, keyPem: leaf.publish1!.keyPem }));
    await createStaple(h.client, ns.name, 'publish', { secretName: 'publish-tls', onRenewal: 'PublishWithoutStaple' });
    await waitForReason(h.client, ns.name, 'publish', 'Stapled');
    proxy.mode = { kind: 'reset' };
    try {
      await putSecret(h.client, tlsSecret(ns.name, 'publish-tls', { certPem: leaf.publish2!.chainPem, keyPem: leaf.publish2!.keyPem }));
      await waitForReason(h.client, ns.name, 'publish', 'ResponderUnreachable');
      const secret = (await getSecret(h.client, ns.name, 'publish-tls-ocsp'))!;
      expect(secret.metadata?.annotations?.[ANNOTATION_SERIAL]).toBe(leaf.publish2!.serial.toLowerCase());
      expect(secret.data?.[STAPLE_KEY]).toBeUndefined();
    } finally {
      proxy.mode = { kind: 'pass' };
    }
  });
});

describe('what the responder says', () => {
  it('revoked: the truthful revoked staple is served, with a Revoked condition and a Warning Event', async () => {
    await stapled('revoked', leaf.revoked!);
    const s = await getStaple(h.client, ns.name, 'revoked');
    expect(s.status?.staple?.certStatus).toBe('revoked');
    expect(s.status?.staple?.revocationReason).toBe('keyCompromise');
    expect(condition(s, 'Revoked')).toMatchObject({ status: 'True', reason: 'KeyCompromise' });
    expect((await getSecret(h.client, ns.name, 'revoked-tls-ocsp'))?.data?.[STAPLE_KEY]).toBeTruthy();
    await waitFor('Revoked warning', async () =>
      (await eventsFor('revoked')).some((e) => e.reason === 'KeyCompromise' && e.type === 'Warning'),
    );
    // The certificate Secret goes: no condition may still speak of the certificate it held.
    await h.client.delete(SecretType, ns.name, 'revoked-tls');
    const gone = await waitForReason(h.client, ns.name, 'revoked', 'SecretNotFound');
    expect(gone.status?.conditions?.map((c) => c.type)).toEqual(['Ready']);
  });

  it('a must-staple certificate without a staple gets a Warning', async () => {
    proxy.mode = { kind: 'status', code: 500 };
    try {
      await putSecret(
        h.client,
        tlsSecret(ns.name, 'muststaple-tls', { certPem: leaf.muststaple!.chainPem, keyPem: leaf.muststaple!.keyPem }),
      );
      await createStaple(h.client, ns.name, 'muststaple', { secretName: 'muststaple-tls' });
      const s = await waitForReason(h.client, ns.name, 'muststaple', 'MissingStaple', 20_000, 'MustStapleSatisfied');
      expect(condition(s, 'MustStapleSatisfied')?.status).toBe('False');
      await waitFor('MissingStaple warning', async () =>
        (await eventsFor('muststaple')).some((e) => e.reason === 'MissingStaple' && e.type === 'Warning'),
      );
    } finally {
      proxy.mode = { kind: 'pass' };
    }
  });

  it('revoked with onRevoked.reissue: cert-manager is asked for a new certificate and key, once', async () => {
    const crd = parse(await readFile(new URL('../fixtures/cert-manager-certificate-crd.yaml', import.meta.url), 'utf8')) as KubeObject;
    // on a cluster with the real cert-manager, its CRD is used as it is
    if (!(await h.client.getOrUndefined(CrdType, undefined, 'certificates.cert-manager.io'))) await h.client.create(CrdType, crd);
    await waitFor('Certificate CRD established', async () => {
      const c = await h.client.get<KubeObject & { status?: { conditions?: Array<{ type: string; status: string }> } }>(
        CrdType,
        undefined,
        'certificates.cert-manager.io',
      );
      return c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True');
    });
    await h.client.create(CertificateType, {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name: 'reissue', namespace: ns.name },
      spec: { secretName: 'reissue-tls', dnsNames: ['reissue.test'], issuerRef: { name: 'ca' } },
    } as KubeObject);
    await putSecret(
      h.client,
      tlsSecret(
        ns.name,
        'reissue-tls',
        { certPem: leaf.reissue!.chainPem, keyPem: leaf.reissue!.keyPem },
        { 'cert-manager.io/certificate-name': 'reissue' },
      ),
    );
    await createStaple(h.client, ns.name, 'reissue', { secretName: 'reissue-tls', onRevoked: { reissue: true } });
    type Cert = KubeObject & {
      spec?: { privateKey?: { rotationPolicy?: string } };
      status?: { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> };
    };
    const cert = await waitFor('Issuing on the Certificate', async () => {
      const c = await h.client.get<Cert>(CertificateType, ns.name, 'reissue');
      return c.status?.conditions?.some((x) => x.type === 'Issuing' && x.status === 'True') ? c : undefined;
    });
    expect(cert.status?.conditions?.find((x) => x.type === 'Issuing')).toMatchObject({ reason: 'ManuallyTriggered' });
    expect(cert.status?.conditions?.find((x) => x.type === 'Issuing')?.message).toContain(leaf.reissue!.serial.toLowerCase());
    expect(cert.spec?.privateKey?.rotationPolicy).toBe('Always'); // keyCompromise: a new key too
    await waitFor('ReissueRequested event', async () => (await eventsFor('reissue')).some((e) => e.reason === 'ReissueRequested'));
    // while cert-manager is issuing, nothing more is asked
    await h.client.mergePatch(OcspStapleType, { namespace: ns.name, name: 'reissue' }, { spec: { clockSkew: '4m' } });
    await waitFor('second reconcile', async () => (await getStaple(h.client, ns.name, 'reissue')).status?.observedGeneration === 2);
    expect((await eventsFor('reissue')).filter((e) => e.reason === 'ReissueRequested')).toHaveLength(1);
  });
});
