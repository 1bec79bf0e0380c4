// The staple controller end to end: the real apiserver, the real `openssl ocsp` responder behind
// a fault-injecting proxy, the controller in this process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certIdFor, errorResponse, signOcspResponse, softwareSigner } from '../../src/ocsp/index.js';
import { SecretType, OcspStapleType, type KubeObject, type Secret } from '../../src/kube/types.js';
import { ANNOTATION_SERIAL } from '../../src/api/annotations.js';
import { HAPROXY_OCSP_KEY, HAPROXY_PEM_KEY, STAPLE_KEY } from '../../src/staple/staple-secret.js';
import { createCa, issueLeaf, issueResponderCert, type Ca, type Issued } from '../support/pki.js';
import { startOpensslResponder, type ResponderHandle } from '../support/openssl.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { createNamespace, kubectl, putSecret, tlsSecret, waitFor, type EventObject, eventsAbout, watchCaughtUp } from '../support/kube.js';
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

const RENEWALS = 100;

let ca: Ca;
let leaves: Issued[]; // leaves[0] first, then the renewals
let other: Issued; // a certificate whose response must never be stapled to ours
let proxy: FaultProxy;
let responder: ResponderHandle;
let ns: { name: string; remove(): Promise<void> };
let h: Harness;

beforeAll(async () => {
  proxy = await startFaultProxy();
  ca = await createCa({ keyAlg: 'P-256', name: 'CN=Staple Test CA' });
  leaves = [];
  for (let i = 0; i <= RENEWALS + 2; i++) leaves.push(await issueLeaf(ca, { ocspUrl: proxy.url, dnsNames: [`web${i}.test`] }));
  other = await issueLeaf(ca, { ocspUrl: proxy.url, dnsNames: ['other.test'] });
  responder = await startOpensslResponder({
    ca,
    indexEntries: [...leaves, other].map((l) => ({ cert: l.cert, status: 'V' as const })),
    nmin: 60,
  });
  proxy.upstream = responder.url;
  const { kubeClient } = await import('../support/kube.js');
  ns = await createNamespace(kubeClient(), 'staple');
  h = await startStapleController(ns.name);
});

afterAll(async () => {
  await h?.stop();
  await ns?.remove();
  await proxy?.close();
  await responder?.stop();
});

async function events(name: string): Promise<EventObject[]> {
  return (await eventsAbout(h.client, ns.name, name)).filter((e) => e.regarding?.kind === 'OcspStaple');
}

describe('staple controller', () => {
  it('publishes a validated staple beside its certificate within seconds', async () => {
    const t0 = Date.now();
    await putSecret(h.client, tlsSecret(ns.name, 'web-tls', { certPem: leaves[0]!.chainPem, keyPem: leaves[0]!.keyPem }));
    await createStaple(h.client, ns.name, 'web', { secretName: 'web-tls' });
    const s = await waitForReason(h.client, ns.name, 'web', 'Stapled');
    const took = Date.now() - t0;
    const secret = (await getSecret(h.client, ns.name, 'web-tls-ocsp'))!;
    for (const k of ['tls.crt', 'tls.key', STAPLE_KEY, HAPROXY_PEM_KEY, HAPROXY_OCSP_KEY]) expect(secret.data?.[k], k).toBeTruthy();
    expect(secret.data?.[STAPLE_KEY]).toBe(secret.data?.[HAPROXY_OCSP_KEY]);
    expect(secret.metadata?.annotations?.[ANNOTATION_SERIAL]).toBe(leaves[0]!.serial.toLowerCase());
    const ls = lockstepOf(secret);
    expect(ls.verdict?.ok).toBe(true);
    expect(ls.stapleSerial).toBe(ls.certSerial);
    expect(s.status?.staple?.certStatus).toBe('good');
    expect(s.status?.certificate?.serial).toBe(leaves[0]!.serial.toLowerCase());
    expect(condition(s, 'Fresh')?.reason).toBe('Refreshed');
    expect(condition(s, 'Ready')?.observedGeneration).toBe(s.metadata?.generation);
    // refresh planned at about half of the 60-minute window, with jitter of ±10% of it
    const next = Date.parse(s.status!.nextRefreshTime!) - Date.parse(s.status!.staple!.thisUpdate!);
    expect(next).toBeGreaterThanOrEqual(0.4 * 3600_000 - 1000);
    expect(next).toBeLessThanOrEqual(0.6 * 3600_000 + 1000);
    const out = await kubectl(['get', 'staple', 'web', '-n', ns.name]);
    expect(out.stdout).toMatch(/web\s+web-tls\s+good\s+\S+\s+True\s+Stapled/);
    expect(took).toBeLessThan(10_000);
    process.stderr.write(`first staple published in ${took} ms\n`);
    await waitFor('a Ready event', async () => (await events('web')).some((e) => e.reason === 'Stapled' && e.type === 'Normal'));
  });

  it('a certificate without an OCSP URL is NotApplicable: published without a staple, nothing fetched', async () => {
    const noAia = await issueLeaf(ca, { ocspUrl: null, dnsNames: ['noaia.test'] });
    const before = proxy.requests;
    await putSecret(h.client, tlsSecret(ns.name, 'noaia-tls', { certPem: noAia.chainPem, keyPem: noAia.keyPem }));
    await createStaple(h.client, ns.name, 'noaia', { secretName: 'noaia-tls' });
    const s = await waitForReason(h.client, ns.name, 'noaia', 'NotApplicable');
    expect(condition(s, 'Ready')?.status).toBe('True');
    const secret = await waitFor('unstapled Secret', () => getSecret(h.client, ns.name, 'noaia-tls-ocsp'));
    expect(secret.data?.[STAPLE_KEY]).toBeUndefined();
    expect(secret.data?.['tls.crt']).toBeTruthy();
    expect(proxy.requests).toBe(before);
  });

  it('bad source Secrets get a condition that says what is wrong, and the others keep working', async () => {
    const cases: Array<[string, Secret | undefined, string]> = [
      ['missing', undefined, 'SecretNotFound'],
      ['notpem', { ...tlsSecret(ns.name, 'notpem-tls', { certPem: 'hello', keyPem: 'x' }) }, 'CertificateInvalid'],
      [
        'nokey',
        {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'nokey-tls', namespace: ns.name },
          data: { 'tls.crt': Buffer.from(leaves[1]!.chainPem).toString('base64') },
        },
        'KeyMissing',
      ],
      ['mismatch', tlsSecret(ns.name, 'mismatch-tls', { certPem: leaves[1]!.chainPem, keyPem: ca.keyPem }), 'KeyMismatch'],
      ['noissuer', tlsSecret(ns.name, 'noissuer-tls', { certPem: leaves[1]!.certPem, keyPem: leaves[1]!.keyPem }), 'IssuerNotFound'],
    ];
    for (const [name, secret] of cases) {
      if (secret) await putSecret(h.client, secret);
      await createStaple(h.client, ns.name, name, { secretName: `${name}-tls` });
    }
    for (const [name, , reason] of cases) {
      const s = await waitForReason(h.client, ns.name, name, reason);
      const msg = condition(s, 'Ready')?.message ?? '';
      expect(msg).toContain(`${ns.name}/${name}-tls`);
    }
    const mismatch = condition(await getStaple(h.client, ns.name, 'mismatch'), 'Ready')?.message;
    expect(mismatch).toContain(leaves[1]!.serial.toLowerCase());
    // a fix is picked up: the Secret appears, the staple follows
    await putSecret(h.client, tlsSecret(ns.name, 'missing-tls', { certPem: leaves[2]!.chainPem, keyPem: leaves[2]!.keyPem }));
    await waitForReason(h.client, ns.name, 'missing', 'Stapled');
    expect(condition(await getStaple(h.client, ns.name, 'web'), 'Ready')?.reason).toBe('Stapled');
  });

  it(`renewing the certificate ${RENEWALS} times never publishes a certificate with another certificate's staple`, async () => {
    await putSecret(h.client, tlsSecret(ns.name, 'renew-tls', { certPem: leaves[0]!.chainPem, keyPem: leaves[0]!.keyPem }));
    await createStaple(h.client, ns.name, 'renew', { secretName: 'renew-tls' });
    await waitForReason(h.client, ns.name, 'renew', 'Stapled');
    const first = (await getSecret(h.client, ns.name, 'renew-tls-ocsp'))!;

    // Record every version of the staple Secret from a watch.
    const versions: Secret[] = [];
    const abort = await h.client.watch(
      SecretType,
      { namespace: ns.name, resourceVersion: first.metadata!.resourceVersion!, timeoutSeconds: 600 },
      (phase, obj) => {
        const s = obj as Secret;
        if ((phase === 'ADDED' || phase === 'MODIFIED') && s.metadata?.name === 'renew-tls-ocsp') versions.push(s);
      },
      () => {},
    );
    proxy.mode = { kind: 'slow', delayMs: 30 }; // the responder lags behind the renewals
    try {
      for (let i = 1; i <= RENEWALS; i++) {
        await putSecret(h.client, tlsSecret(ns.name, 'renew-tls', { certPem: leaves[i]!.chainPem, keyPem: leaves[i]!.keyPem }));
        await new Promise((r) => setTimeout(r, i % 10 === 0 ? 400 : 40)); // bursts and pauses
      }
      const last = leaves[RENEWALS]!.serial.toLowerCase();
      await waitFor(
        'the last certificate stapled',
        async () => {
          const s = await getSecret(h.client, ns.name, 'renew-tls-ocsp');
          return s && lockstepOf(s).certSerial === last && lockstepOf(s).verdict?.ok;
        },
        30_000,
      );
      await watchCaughtUp(h.client, SecretType, ns.name, 'renew-tls-ocsp', versions);
    } finally {
      proxy.mode = { kind: 'pass' };
      abort.abort();
    }
    const mismatched = versions.map((v) => lockstepOf(v)).filter((l) => l.verdict && !l.verdict.ok);
    const stapled = versions.filter((v) => v.data?.[STAPLE_KEY]).length;
    process.stderr.write(
      `renewals: ${RENEWALS}, staple Secret versions seen: ${versions.length} (${stapled} with a staple), mismatched: ${mismatched.length}\n`,
    );
    expect(versions.length).toBeGreaterThan(RENEWALS / 4); // the watcher really saw the churn
    expect(stapled).toBeGreaterThan(0);
    expect(mismatched.map((m) => `${m.certSerial}: ${m.verdict && !m.verdict.ok ? m.verdict.message : ''}`)).toEqual([]);
  });

  describe('a responder that misbehaves never replaces the good staple', () => {
    let goodStaple: string;
    let n = 0;

    beforeAll(async () => {
      await putSecret(
        h.client,
        tlsSecret(ns.name, 'faults-tls', { certPem: leaves[RENEWALS + 1]!.chainPem, keyPem: leaves[RENEWALS + 1]!.keyPem }),
      );
      await createStaple(h.client, ns.name, 'faults', {
        secretName: 'faults-tls',
        requestTimeout: '1s',
        refresh: { retryInitial: '30s', retryMax: '5m' },
      });
      await waitForReason(h.client, ns.name, 'faults', 'Stapled');
      goodStaple = (await getSecret(h.client, ns.name, 'faults-tls-ocsp'))!.data![STAPLE_KEY]!;
    });

    afterAll(() => {
      proxy.mode = { kind: 'pass' };
    });

    /** Changes the spec (a new generation is fetched at once) and waits for the Fresh reason. */
    async function refreshWith(reason: string): Promise<void> {
      n++;
      await h.client.mergePatch(OcspStapleType, { namespace: ns.name, name: 'faults' }, { spec: { clockSkew: `${300 + n}s` } });
      const s = await waitForReason(h.client, ns.name, 'faults', reason, 20_000, 'Fresh');
      expect(condition(s, 'Fresh')?.status).toBe('False');
      expect(condition(s, 'Ready')?.reason).toBe('Stapled'); // still serving the good staple
      const secret = (await getSecret(h.client, ns.name, 'faults-tls-ocsp'))!;
      expect(secret.data?.[STAPLE_KEY]).toBe(goodStaple);
    }

    it.each([
      ['down', 'ResponderUnreachable', () => ({ kind: 'reset' as const })],
      ['slow', 'ResponderTimeout', () => ({ kind: 'slow' as const, delayMs: 3000 })],
      ['HTTP 500', 'ResponderHttpError', () => ({ kind: 'status' as const, code: 500 })],
      ['tryLater', 'TryLater', () => ({ kind: 'body' as const, body: errorResponse('tryLater') })],
      ['unauthorized', 'Unauthorized', () => ({ kind: 'body' as const, body: errorResponse('unauthorized') })],
      // 30 03 0a 01 03 is a whole OCSPResponse: the 5-byte tryLater body an updater once wrote as a staple
      ['a 5-byte body cut short', 'Truncated', () => ({ kind: 'body' as const, body: new Uint8Array([0x30, 0x82, 0x01, 0x00, 0x0a]) })],
      [
        'an HTML page',
        'NotOcsp',
        () => ({
          kind: 'body' as const,
          body: new TextEncoder().encode('<html><body>Please log in</body></html>'),
          contentType: 'text/html',
        }),
      ],
    ] as const)('%s → %s', async (_label, reason, mode) => {
      proxy.mode = mode();
      await refreshWith(reason);
    });

    it('a response for another certificate → CertIdMismatch naming both serials', async () => {
      const now = new Date();
      const body = await signOcspResponse({
        issuer: ca.cert,
        signer: softwareSigner(ca.keyObject),
        entries: [
          {
            certId: certIdFor(other.cert, ca.cert),
            status: { kind: 'good' },
            thisUpdate: now,
            nextUpdate: new Date(now.getTime() + 3600_000),
          },
        ],
        producedAt: now,
      });
      proxy.mode = { kind: 'body', body };
      await refreshWith('CertIdMismatch');
      const msg = condition(await getStaple(h.client, ns.name, 'faults'), 'Fresh')?.message ?? '';
      expect(msg.toLowerCase()).toContain(other.serial.toLowerCase());
      expect(msg.toLowerCase()).toContain(leaves[RENEWALS + 1]!.serial.toLowerCase());
    });

    it('an expired response → Expired', async () => {
      const now = Date.now();
      const body = await signOcspResponse({
        issuer: ca.cert,
        signer: softwareSigner(ca.keyObject),
        entries: [
          {
            certId: certIdFor(leaves[RENEWALS + 1]!.cert, ca.cert),
            status: { kind: 'good' },
            thisUpdate: new Date(now - 2 * 86400_000),
            nextUpdate: new Date(now - 86400_000),
          },
        ],
        producedAt: new Date(now - 2 * 86400_000),
      });
      proxy.mode = { kind: 'body', body };
      await refreshWith('Expired');
    });

    it('a response signed by a delegated responder certificate that expires within the hour → SignerCertExpiringSoon naming it', async () => {
      const now = Date.now();
      const signer = await issueResponderCert(ca, { notAfter: new Date(now + 30 * 60_000), name: 'CN=Expiring OCSP Signer' });
      const body = await signOcspResponse({
        issuer: ca.cert,
        signer: softwareSigner(signer.keyObject),
        responderCert: signer.cert,
        entries: [
          {
            certId: certIdFor(leaves[RENEWALS + 1]!.cert, ca.cert),
            status: { kind: 'good' },
            thisUpdate: new Date(now),
            nextUpdate: new Date(now + 86400_000),
          },
        ],
        producedAt: new Date(now),
      });
      proxy.mode = { kind: 'body', body };
      await refreshWith('SignerCertExpiringSoon');
      expect(condition(await getStaple(h.client, ns.name, 'faults'), 'Fresh')?.message).toContain('Expiring OCSP Signer');
    });

    it('says each failure once (Events on transitions), counts failures and backs off', async () => {
      const evs = await events('faults');
      const reasons = evs.filter((e) => e.type === 'Warning').map((e) => e.reason);
      for (const r of ['ResponderUnreachable', 'ResponderTimeout', 'TryLater', 'Truncated', 'NotOcsp', 'CertIdMismatch', 'Expired']) {
        expect(
          reasons.filter((x) => x === r),
          r,
        ).toHaveLength(1);
      }
      const s = await getStaple(h.client, ns.name, 'faults');
      expect(s.status?.consecutiveFailures).toBeGreaterThanOrEqual(9);
      // the next retry waits the capped exponential backoff (30 s × 2^(n-1), at most 5 min, ±10%)
      const wait = Date.parse(s.status!.nextRefreshTime!) - Date.parse(s.status!.lastFailure!.time!);
      expect(wait).toBeGreaterThanOrEqual(0.9 * 300_000 - 1000);
      expect(wait).toBeLessThanOrEqual(1.1 * 300_000 + 1000);
      // and recovery: the responder is back, a refresh publishes a new staple and Fresh turns True
      proxy.mode = { kind: 'pass' };
      await h.client.mergePatch(OcspStapleType, { namespace: ns.name, name: 'faults' }, { spec: { clockSkew: '5m' } });
      const ok = await waitForReason(h.client, ns.name, 'faults', 'Refreshed', 20_000, 'Fresh');
      expect(ok.status?.consecutiveFailures).toBe(0);
    });
  });
});

describe('automatic staples', () => {
  const annotations = { 'cert-manager.io/certificate-name': 'auto', 'ocsp-operator.dev/staple': 'true' };

  it('a cert-manager Secret that opts in gets an OcspStaple it owns, and a staple; opting out removes it', async () => {
    await putSecret(
      h.client,
      tlsSecret(ns.name, 'auto-tls', { certPem: leaves[RENEWALS + 2]!.chainPem, keyPem: leaves[RENEWALS + 2]!.keyPem }, annotations),
    );
    const s = await waitForReason(h.client, ns.name, 'auto-tls', 'Stapled');
    const source = (await getSecret(h.client, ns.name, 'auto-tls'))!;
    expect(s.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'Secret', name: 'auto-tls', uid: source.metadata?.uid });
    expect((await getSecret(h.client, ns.name, 'auto-tls-ocsp'))?.data?.[STAPLE_KEY]).toBeTruthy();

    // without the opt-in nothing is created; a Secret without cert-manager's annotation neither
    await putSecret(
      h.client,
      tlsSecret(
        ns.name,
        'plain-tls',
        { certPem: leaves[RENEWALS + 2]!.chainPem, keyPem: leaves[RENEWALS + 2]!.keyPem },
        { 'ocsp-operator.dev/staple': 'true' },
      ),
    );

    await h.client.mergePatch(
      SecretType,
      { namespace: ns.name, name: 'auto-tls' },
      { metadata: { annotations: { 'ocsp-operator.dev/staple': null } } },
    );
    await waitFor(
      'the automatic OcspStaple deleted',
      async () => (await h.client.getOrUndefined(OcspStapleType, ns.name, 'auto-tls')) === undefined,
    );
    expect(await h.client.getOrUndefined(OcspStapleType, ns.name, 'plain-tls')).toBeUndefined();
  });

  it('an opt-in the apiserver refuses (a bad on-renewal value) is a Warning Event on the Secret, not a retry loop', async () => {
    await putSecret(
      h.client,
      tlsSecret(
        ns.name,
        'badopt-tls',
        { certPem: leaves[RENEWALS + 2]!.chainPem, keyPem: leaves[RENEWALS + 2]!.keyPem },
        { ...annotations, 'ocsp-operator.dev/on-renewal': 'Sometimes' },
      ),
    );
    const ev = await waitFor('an AutoStapleRejected Warning on the Secret', async () =>
      (await eventsAbout(h.client, ns.name, 'badopt-tls')).find(
        (e) => e.regarding?.kind === 'Secret' && e.type === 'Warning' && e.reason === 'AutoStapleRejected',
      ),
    );
    expect(ev.note).toContain(`OcspStaple ${ns.name}/badopt-tls`);
    expect(ev.note).toContain('onRenewal');
    expect(await h.client.getOrUndefined(OcspStapleType, ns.name, 'badopt-tls')).toBeUndefined();
  });

  it('never touches an OcspStaple a person made under the same name', async () => {
    await putSecret(
      h.client,
      tlsSecret(ns.name, 'manual-tls', { certPem: leaves[RENEWALS + 2]!.chainPem, keyPem: leaves[RENEWALS + 2]!.keyPem }),
    );
    await createStaple(h.client, ns.name, 'manual-tls', { secretName: 'manual-tls', stapleSecretName: 'manual-staple' });
    await waitForReason(h.client, ns.name, 'manual-tls', 'Stapled');
    await h.client.mergePatch(SecretType, { namespace: ns.name, name: 'manual-tls' }, { metadata: { annotations } });
    // The automatic controller looked at the opted-in Secret, found the person's staple, left it.
    await waitFor('the auto-staple controller looked at manual-tls', () =>
      h.logs.some(
        (l) =>
          l.object === `${ns.name}/manual-tls` &&
          l.msg === 'an OcspStaple of this name exists and was not made automatically; leaving it alone',
      ),
    );
    await h.client.mergePatch(
      SecretType,
      { namespace: ns.name, name: 'manual-tls' },
      { metadata: { annotations: { 'ocsp-operator.dev/staple': null } } },
    );
    const s = await getStaple(h.client, ns.name, 'manual-tls');
    expect(s.metadata?.labels?.['ocsp-operator.dev/auto']).toBeUndefined();
    expect(s.spec?.stapleSecretName).toBe('manual-staple');
  });
});

describe('restart', () => {
  it('a restarted controller derives its plan from the cluster: no fetch and no write for staples that are fresh', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `fleet-${i}`);
    for (const [i, name] of names.entries()) {
      const cert = leaves[i % RENEWALS]!;
      await putSecret(h.client, tlsSecret(ns.name, `${name}-tls`, { certPem: cert.chainPem, keyPem: cert.keyPem }));
      await createStaple(h.client, ns.name, name, { secretName: `${name}-tls` });
    }
    for (const name of names) await waitForReason(h.client, ns.name, name, 'Stapled');
    const before = await h.client.list<KubeObject>(OcspStapleType, { namespace: ns.name });
    const secretsBefore = await h.client.list<Secret>(SecretType, { namespace: ns.name });
    // the refresh times are spread over the jitter window, not one instant
    const refresh = before.items
      .filter((s) => names.includes(s.metadata?.name ?? ''))
      .map((s) => Date.parse((s as { status?: { nextRefreshTime?: string } }).status?.nextRefreshTime ?? ''));
    // (status times have one-second resolution over a 12-minute window: a rare same-second pair is fine)
    expect(new Set(refresh).size).toBeGreaterThanOrEqual(names.length - 3);
    expect(Math.max(...refresh) - Math.min(...refresh)).toBeGreaterThan(60_000);

    await h.stop();
    const requests = proxy.requests;
    h = await startStapleController(ns.name);
    // The new controller has looked at every staple (its own log says so), and fetched nothing.
    await waitFor('the restarted controller reconciled every staple', () =>
      names.every((n) => h.logs.some((l) => l.msg === 'reconciled' && l.object === `${ns.name}/${n}`)),
    );
    expect(proxy.requests - requests).toBe(0);
    const after = await h.client.list<KubeObject>(OcspStapleType, { namespace: ns.name });
    const secretsAfter = await h.client.list<Secret>(SecretType, { namespace: ns.name });
    const versions = (l: { items: KubeObject[] }) =>
      Object.fromEntries(l.items.map((o) => [o.metadata?.name, o.metadata?.resourceVersion]));
    expect(versions(after)).toEqual(versions(before));
    expect(versions(secretsAfter)).toEqual(versions(secretsBefore));
  });
});
