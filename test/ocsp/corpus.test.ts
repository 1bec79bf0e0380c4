// The bad-response corpus: each body gets the right reason and a message a person can act on, and
// our verdict agrees with `openssl ocsp -respin -verify` wherever openssl rejects. Where openssl
// accepts and we do not, the reason is one of our deliberate extra rules (STRICTER_THAN_OPENSSL).
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildOcspRequest,
  certIdFor,
  errorResponse,
  signOcspResponse,
  softwareSigner,
  validateOcspResponse,
  type FailureReason,
  type HashAlgorithm,
  type ResponseEntry,
  type ValidationOptions,
} from '../../src/ocsp/index.js';
import { createCa, issueLeaf, issueResponderCert, type Ca, type Issued } from '../support/pki.js';
import { opensslRespond, opensslVerifyResponse, type OpensslVerdict } from '../support/openssl.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const STRICTER_THAN_OPENSSL: FailureReason[] = ['NoNextUpdate', 'TooShortValidity', 'SignerCertExpiringSoon'];

let ca: Ca;
let otherCa: Ca;
let leaf: Issued;
let sibling: Issued;
let otherCaLeaf: Issued;

beforeAll(async () => {
  [ca, otherCa] = await Promise.all([createCa({ name: 'CN=Corpus CA,O=ocsp-operator tests' }), createCa()]);
  leaf = await issueLeaf(ca);
  [sibling, otherCaLeaf] = await Promise.all([issueLeaf(ca), issueLeaf(otherCa, { serial: leaf.serial })]);
});

interface Built {
  body: Uint8Array;
  /** the certificate we ask about; leaf by default */
  cert?: Issued;
  opts?: Partial<ValidationOptions>;
  digest?: 'sha256';
}

function entry(cert: Issued, issuer: Ca, o: { thisUpdate?: Date; nextUpdate?: Date | null; hash?: HashAlgorithm } = {}): ResponseEntry {
  const now = Date.now();
  const e: ResponseEntry = {
    certId: certIdFor(cert.cert, issuer.cert, o.hash ?? 'SHA-1'),
    status: { kind: 'good' },
    thisUpdate: o.thisUpdate ?? new Date(now - MIN),
  };
  if (o.nextUpdate !== null) e.nextUpdate = o.nextUpdate ?? new Date(now + DAY);
  return e;
}

async function ours(o: { entries: ResponseEntry[]; signerCa?: Ca; responder?: Issued; claimIssuer?: Ca }): Promise<Uint8Array> {
  const signerCa = o.signerCa ?? ca;
  return signOcspResponse({
    issuer: (o.claimIssuer ?? signerCa).cert,
    signer: softwareSigner((o.responder ?? signerCa).keyObject),
    ...(o.responder ? { responderCert: o.responder.cert } : {}),
    entries: o.entries,
    producedAt: new Date(),
  });
}

async function byOpenssl(o: { responder?: Issued; cert?: Issued; nmin?: number }): Promise<Uint8Array> {
  const cert = o.cert ?? leaf;
  return opensslRespond({
    ca,
    ...(o.responder ? { responder: o.responder } : {}),
    indexEntries: [{ cert: cert.cert, status: 'V' }],
    requestDer: buildOcspRequest({ cert: cert.cert, issuer: ca.cert }).der,
    ...(o.nmin !== undefined ? { nmin: o.nmin } : {}),
  });
}

function flipLastByte(b: Uint8Array): Uint8Array {
  const c = b.slice();
  c[c.length - 1] = c[c.length - 1]! ^ 0x01;
  return c;
}

type OpensslOpinion = 'accepts' | 'bad-signature-or-chain' | 'times-invalid' | 'no-status' | 'error-status' | 'unreadable';

interface Case {
  name: string;
  build: () => Promise<Built>;
  reason: FailureReason | 'ok';
  message?: RegExp | ((b: Built) => RegExp);
  openssl: OpensslOpinion;
}

const cases: Case[] = [
  {
    name: 'good, issuer-signed (control)',
    build: async () => ({ body: await ours({ entries: [entry(leaf, ca)] }) }),
    reason: 'ok',
    openssl: 'accepts',
  },
  {
    name: 'SHA-256 CertID for the right certificate',
    build: async () => ({ body: await ours({ entries: [entry(leaf, ca, { hash: 'SHA-256' })] }), digest: 'sha256' }),
    reason: 'ok',
    openssl: 'accepts',
  },
  {
    name: 'good, delegated responder signed by openssl (control)',
    build: async () => ({ body: await byOpenssl({ responder: await issueResponderCert(ca), nmin: 600 }) }),
    reason: 'ok',
    openssl: 'accepts',
  },
  {
    name: 'expired (nextUpdate yesterday)',
    build: async () => ({
      body: await ours({
        entries: [entry(leaf, ca, { thisUpdate: new Date(Date.now() - 3 * DAY), nextUpdate: new Date(Date.now() - DAY) })],
      }),
    }),
    reason: 'Expired',
    message: /nextUpdate \d{4}-\d\d-\d\dT.* has passed \(now /,
    openssl: 'times-invalid',
  },
  {
    name: 'not yet valid (thisUpdate tomorrow)',
    build: async () => ({
      body: await ours({
        entries: [entry(leaf, ca, { thisUpdate: new Date(Date.now() + DAY), nextUpdate: new Date(Date.now() + 3 * DAY) })],
      }),
    }),
    reason: 'NotYetValid',
    message: /thisUpdate .* is in the future \(now .*skew 300s\)/,
    openssl: 'times-invalid',
  },
  {
    name: 'no nextUpdate (openssl without -nmin/-ndays)',
    build: async () => ({ body: await byOpenssl({}) }),
    reason: 'NoNextUpdate',
    message: /no nextUpdate/,
    openssl: 'accepts',
  },
  {
    name: 'nextUpdate too close (minRemainingMs 2 h, 1 h left)',
    build: async () => ({ body: await byOpenssl({ nmin: 60 }), opts: { minRemainingMs: 2 * HOUR } }),
    reason: 'TooShortValidity',
    message: /less than the required 7200s/,
    openssl: 'accepts',
  },
  {
    name: 'wrong serial (a response for a sibling certificate)',
    build: async () => ({ body: await ours({ entries: [entry(sibling, ca)] }) }),
    reason: 'CertIdMismatch',
    message: () => new RegExp(`response is for ${sibling.serial.toLowerCase()}, expected serial ${leaf.serial.toLowerCase()}`),
    openssl: 'no-status',
  },
  {
    name: 'wrong issuer (same serial, another CA, signed by that CA)',
    build: async () => ({ body: await ours({ entries: [entry(otherCaLeaf, otherCa)], signerCa: otherCa }) }),
    reason: 'CertIdMismatch',
    message: /serial matches but the issuer name\/key hash do not/,
    openssl: 'bad-signature-or-chain',
  },
  {
    name: 'forged: right CertID and issuer name, signed by another key',
    build: async () => {
      const impostor = await createCa({ name: ca.name });
      return {
        body: await signOcspResponse({
          issuer: impostor.cert,
          signer: softwareSigner(impostor.keyObject),
          entries: [entry(leaf, ca)],
          producedAt: new Date(),
        }),
      };
    },
    reason: 'BadSignature',
    message: /signature by CN=Corpus CA.*does not verify/,
    openssl: 'bad-signature-or-chain',
  },
  {
    name: 'signature bytes altered',
    build: async () => ({ body: flipLastByte(await ours({ entries: [entry(leaf, ca)] })) }),
    reason: 'BadSignature',
    openssl: 'bad-signature-or-chain',
  },
  {
    name: 'delegated signer certificate expired (signed by openssl)',
    build: async () => ({
      body: await byOpenssl({
        responder: await issueResponderCert(ca, { notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) }),
        nmin: 600,
      }),
    }),
    reason: 'SignerCertExpired',
    message: /responder certificate "CN=OCSP Responder .*" expired at /,
    openssl: 'bad-signature-or-chain',
  },
  {
    name: 'delegated signer expiring in 10 minutes',
    build: async () => ({
      body: await byOpenssl({ responder: await issueResponderCert(ca, { notAfter: new Date(Date.now() + 10 * MIN) }), nmin: 600 }),
    }),
    reason: 'SignerCertExpiringSoon',
    message: /expires at .* within 3600s/,
    openssl: 'accepts',
  },
  {
    name: 'delegated signer without id-kp-OCSPSigning (signed by openssl)',
    build: async () => ({ body: await byOpenssl({ responder: await issueResponderCert(ca, { ekuOcspSigning: false }), nmin: 600 }) }),
    reason: 'SignerNotAuthorized',
    message: /responder certificate "CN=OCSP Responder .*" lacks extendedKeyUsage id-kp-OCSPSigning/,
    openssl: 'bad-signature-or-chain',
  },
  {
    name: 'delegated signer issued by another CA (signed by openssl)',
    build: async () => ({ body: await byOpenssl({ responder: await issueResponderCert(otherCa), nmin: 600 }) }),
    reason: 'SignerNotAuthorized',
    message: /is issued by "CN=Test CA .*", not by CN=Corpus CA/,
    openssl: 'bad-signature-or-chain',
  },
  {
    name: 'delegated signer with the issuer name but not signed by the issuer',
    build: async () => {
      const impostor = await createCa({ name: ca.name });
      return { body: await ours({ entries: [entry(leaf, ca)], responder: await issueResponderCert(impostor), claimIssuer: ca }) };
    },
    reason: 'SignerNotAuthorized',
    message: /signature does not verify with that key/,
    openssl: 'bad-signature-or-chain',
  },
  ...(['tryLater', 'unauthorized', 'malformedRequest', 'internalError', 'sigRequired'] as const).map((status): Case => ({
    name: `${status} error response`,
    build: async () => ({ body: errorResponse(status) }),
    reason: (status[0]!.toUpperCase() + status.slice(1)) as FailureReason,
    message: new RegExp(`responder answered ${status} \\(5 bytes\\)`),
    openssl: 'error-status',
  })),
  {
    name: 'empty body',
    build: async () => ({ body: new Uint8Array(0) }),
    reason: 'Truncated',
    message: /empty body \(0 bytes\)/,
    openssl: 'unreadable',
  },
  {
    name: 'a 5-byte body (the first 5 bytes of a good response)',
    build: async () => ({ body: (await ours({ entries: [entry(leaf, ca)] })).subarray(0, 5) }),
    reason: 'Truncated',
    message: /^5 bytes, cut short/,
    openssl: 'unreadable',
  },
  {
    name: 'a good response cut in half',
    build: async () => {
      const b = await ours({ entries: [entry(leaf, ca)] });
      return { body: b.subarray(0, b.length >> 1) };
    },
    reason: 'Truncated',
    openssl: 'unreadable',
  },
  {
    name: 'an HTML page from a captive proxy',
    build: async () => ({
      body: new Uint8Array(
        Buffer.from('<!DOCTYPE html>\n<html><head><title>Login required</title></head><body>Sign in to Wi-Fi</body></html>\n'),
      ),
    }),
    reason: 'NotOcsp',
    message: /looks like HTML \(\d+ bytes\)/,
    openssl: 'unreadable',
  },
];

describe('bad-response corpus', () => {
  it.each(cases)('$name → $reason', async (c) => {
    const b = await c.build();
    const cert = b.cert ?? leaf;
    const verdict = validateOcspResponse(b.body, { cert: cert.cert, issuer: ca.cert, now: new Date(), ...b.opts });
    if (c.reason === 'ok') {
      expect(verdict, verdict.ok ? '' : verdict.message).toMatchObject({ ok: true });
    } else {
      expect(verdict).toMatchObject({ ok: false, reason: c.reason });
      if (!verdict.ok && c.message) expect(verdict.message).toMatch(typeof c.message === 'function' ? c.message(b) : c.message);
    }

    const o = await opensslVerifyResponse({
      response: b.body,
      issuerPem: ca.certPem,
      certPem: cert.certPem,
      caPem: ca.certPem,
      ...(b.digest ? { digest: b.digest } : {}),
    });
    expect(opinion(o), o.output).toBe(c.openssl);
    if (c.openssl !== 'accepts') expect(verdict.ok).toBe(false);
    else if (!verdict.ok) expect(STRICTER_THAN_OPENSSL).toContain(verdict.reason);
  });
});

function opinion(o: OpensslVerdict): OpensslOpinion {
  if (o.responseStatus) return 'error-status';
  if (!o.verified && /Response Verify Failure/.test(o.output)) return 'bad-signature-or-chain';
  if (!o.verified) return 'unreadable';
  // openssl prints the times warning instead of the status line
  if (!o.timesValid) return 'times-invalid';
  if (!o.status) return 'no-status';
  return 'accepts';
}
