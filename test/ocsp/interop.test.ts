// Both directions against the real openssl: its responder answers our requests and we accept its
// responses; openssl verifies the responses we sign.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildOcspRequest,
  certIdFor,
  parseOcspRequest,
  signOcspResponse,
  softwareSigner,
  rsaPssSigner,
  validateOcspResponse,
  type HashAlgorithm,
} from '../../src/ocsp/index.js';
import { createCa, issueLeaf, issueResponderCert, type Ca, type Issued, type KeyAlg } from '../support/pki.js';
import { opensslRequest, opensslVerifyResponse, postOcsp, startOpensslResponder, type ResponderHandle } from '../support/openssl.js';

const HOUR = 3_600_000;
let ca: Ca;
let good: Issued;
let revoked: Issued;
let notInIndex: Issued;
let responder: Issued;
const servers: ResponderHandle[] = [];

beforeAll(async () => {
  ca = await createCa({ keyAlg: 'P-256' });
  [good, revoked, notInIndex, responder] = await Promise.all([issueLeaf(ca), issueLeaf(ca), issueLeaf(ca), issueResponderCert(ca)]);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

describe('openssl responder -> our validator', () => {
  let delegated: ResponderHandle;
  let direct: ResponderHandle;
  beforeAll(async () => {
    const indexEntries = [
      { cert: good.cert, status: 'V' as const },
      { cert: revoked.cert, status: 'R' as const, revokedAt: new Date(Date.now() - HOUR), reason: 'keyCompromise' },
    ];
    const probeRequest = buildOcspRequest({ cert: good.cert, issuer: ca.cert }).der;
    [delegated, direct] = await Promise.all([
      startOpensslResponder({ ca, responder, indexEntries, nmin: 60, probeRequest }),
      startOpensslResponder({ ca, indexEntries, ndays: 1, probeRequest, extraArgs: ['-resp_key_id'] }),
    ]);
    servers.push(delegated, direct);
  });

  it.each(['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'] as HashAlgorithm[])(
    'delegated responder, %s CertID, with nonce: good',
    async (alg) => {
      const req = buildOcspRequest({ cert: good.cert, issuer: ca.cert, hashAlgorithm: alg, nonce: true });
      const res = await postOcsp(delegated.url, req.der);
      expect(res.status).toBe(200);
      const v = validateOcspResponse(res.body, { cert: good.cert, issuer: ca.cert, now: new Date(), nonce: req.nonce! });
      expect(v).toMatchObject({ ok: true, response: { certStatus: 'good', certIdHash: alg, signer: { delegated: true } } });
      if (!v.ok) return;
      expect(v.response.signer.subject).toBe(responder.cert.subject);
      expect(v.response.nextUpdate.getTime() - v.response.thisUpdate.getTime()).toBe(60 * 60_000);
      expect(v.response.usableUntil).toEqual(v.response.nextUpdate);
    },
  );

  it('issuer-signed response with responderID byKey; revoked with reason', async () => {
    const req = buildOcspRequest({ cert: revoked.cert, issuer: ca.cert });
    const res = await postOcsp(direct.url, req.der);
    const v = validateOcspResponse(res.body, { cert: revoked.cert, issuer: ca.cert, now: new Date() });
    expect(v).toMatchObject({
      ok: true,
      response: { certStatus: 'revoked', revocationReason: 'keyCompromise', signer: { delegated: false } },
    });
  });

  it('unknown serial: openssl says unknown, and the verdict carries it', async () => {
    const req = buildOcspRequest({ cert: notInIndex.cert, issuer: ca.cert });
    const res = await postOcsp(direct.url, req.der);
    const v = validateOcspResponse(res.body, { cert: notInIndex.cert, issuer: ca.cert, now: new Date() });
    expect(v).toMatchObject({ ok: true, response: { certStatus: 'unknown' } });
  });

  it('a nonce we did not send back is NonceMismatch', async () => {
    const req = buildOcspRequest({ cert: good.cert, issuer: ca.cert, nonce: true });
    const res = await postOcsp(delegated.url, req.der);
    const v = validateOcspResponse(res.body, { cert: good.cert, issuer: ca.cert, now: new Date(), nonce: new Uint8Array(32) });
    expect(v).toMatchObject({ ok: false, reason: 'NonceMismatch' });
  });
});

describe('our signer -> openssl -respin -verify', () => {
  const now = new Date();
  const cases: { name: string; keyAlg: KeyAlg; delegated: boolean; pss?: boolean; by?: 'name' | 'keyHash'; hash: HashAlgorithm }[] = [
    { name: 'issuer P-256, byName, SHA-1', keyAlg: 'P-256', delegated: false, hash: 'SHA-1' },
    { name: 'issuer P-384, byKey, SHA-256', keyAlg: 'P-384', delegated: false, by: 'keyHash', hash: 'SHA-256' },
    { name: 'issuer RSA-2048 PKCS#1, SHA-384 CertID', keyAlg: 'RSA-2048', delegated: false, hash: 'SHA-384' },
    { name: 'issuer RSA-2048 PSS', keyAlg: 'RSA-2048', delegated: false, pss: true, hash: 'SHA-1' },
    { name: 'issuer Ed25519', keyAlg: 'Ed25519', delegated: false, hash: 'SHA-512' },
    { name: 'delegated P-256 responder, byKey', keyAlg: 'P-256', delegated: true, by: 'keyHash', hash: 'SHA-1' },
    { name: 'delegated RSA responder under an RSA CA', keyAlg: 'RSA-2048', delegated: true, hash: 'SHA-256' },
  ];
  it.each(cases)('$name', async (c) => {
    const issuer = await createCa({ keyAlg: c.keyAlg });
    const leaf = await issueLeaf(issuer);
    const resp = c.delegated ? await issueResponderCert(issuer, { keyAlg: c.keyAlg }) : undefined;
    const key = (resp ?? issuer).keys.privateKey;
    const der = await signOcspResponse({
      issuer: issuer.cert,
      signer: c.pss ? rsaPssSigner(key) : softwareSigner(key),
      ...(resp ? { responderCert: resp.cert } : {}),
      responderIdBy: c.by ?? 'name',
      entries: [
        {
          certId: certIdFor(leaf.cert, issuer.cert, c.hash),
          status: { kind: 'good' },
          thisUpdate: new Date(now.getTime() - 60_000),
          nextUpdate: new Date(now.getTime() + 24 * HOUR),
        },
      ],
      producedAt: now,
    });
    const digest = c.hash.replace('-', '').toLowerCase() as 'sha1';
    const ossl = await opensslVerifyResponse({
      response: der,
      issuerPem: issuer.certPem,
      certPem: leaf.certPem,
      caPem: issuer.certPem,
      digest,
    });
    expect(ossl.output).toContain('Response verify OK');
    expect(ossl.status).toBe('good');
    expect(ossl.timesValid).toBe(true);
    const ours = validateOcspResponse(der, { cert: leaf.cert, issuer: issuer.cert, now });
    expect(ours).toMatchObject({ ok: true, response: { certStatus: 'good', certIdHash: c.hash, signer: { delegated: c.delegated } } });
  });

  it('responder side: an openssl -reqout request (with nonce) parsed and answered by us; openssl checks the nonce', async () => {
    const req = await opensslRequest({ certPem: good.certPem, issuerPem: ca.certPem, digest: 'sha256' });
    const parsed = parseOcspRequest(req);
    expect(parsed.nonce).toBeDefined();
    const answer = (nonce: Uint8Array | undefined) =>
      signOcspResponse({
        issuer: ca.cert,
        signer: softwareSigner(responder.keyObject),
        responderCert: responder.cert,
        entries: parsed.certIds.map((certId) => ({
          certId,
          status: { kind: 'good' as const },
          thisUpdate: now,
          nextUpdate: new Date(now.getTime() + HOUR),
        })),
        producedAt: now,
        ...(nonce ? { nonce } : {}),
      });
    const ok = await opensslVerifyResponse({
      response: await answer(parsed.nonce),
      issuerPem: ca.certPem,
      caPem: ca.certPem,
      requestDer: req,
    });
    expect(ok.output).toContain('Response verify OK');
    expect(ok.output).not.toMatch(/nonce/i);
    const status = await opensslVerifyResponse({
      response: await answer(parsed.nonce),
      issuerPem: ca.certPem,
      certPem: good.certPem,
      digest: 'sha256',
      caPem: ca.certPem,
    });
    expect(status.status).toBe('good');
    const wrong = await opensslVerifyResponse({
      response: await answer(new Uint8Array(16)),
      issuerPem: ca.certPem,
      caPem: ca.certPem,
      requestDer: req,
    });
    expect(wrong.output).toMatch(/nonce verify error/i);
  });

  it('several SingleResponses, revoked with reason and unknown: openssl reads each status', async () => {
    const [a, b, d] = await Promise.all([issueLeaf(ca), issueLeaf(ca), issueLeaf(ca)]);
    const der = await signOcspResponse({
      issuer: ca.cert,
      signer: softwareSigner(ca.keyObject),
      entries: [
        { certId: certIdFor(a.cert, ca.cert), status: { kind: 'good' }, thisUpdate: now, nextUpdate: new Date(now.getTime() + HOUR) },
        {
          certId: certIdFor(b.cert, ca.cert),
          status: { kind: 'revoked', revocationTime: new Date(now.getTime() - HOUR), reason: 'superseded' },
          thisUpdate: now,
          nextUpdate: new Date(now.getTime() + HOUR),
        },
        { certId: certIdFor(d.cert, ca.cert), status: { kind: 'unknown' }, thisUpdate: now, nextUpdate: new Date(now.getTime() + HOUR) },
      ],
      producedAt: now,
    });
    for (const [leaf, status] of [
      [a, 'good'],
      [b, 'revoked'],
      [d, 'unknown'],
    ] as const) {
      const o = await opensslVerifyResponse({ response: der, issuerPem: ca.certPem, certPem: leaf.certPem, caPem: ca.certPem });
      expect(o.verified).toBe(true);
      expect(o.status).toBe(status);
      const v = validateOcspResponse(der, { cert: leaf.cert, issuer: ca.cert, now });
      expect(v.ok && v.response.certStatus).toBe(status);
    }
    const o = await opensslVerifyResponse({ response: der, issuerPem: ca.certPem, certPem: b.certPem, caPem: ca.certPem });
    expect(o.output).toMatch(/Reason: superseded/);
    const v = validateOcspResponse(der, { cert: b.cert, issuer: ca.cert, now });
    expect(v.ok && v.response.revocationReason).toBe('superseded');
  });
});
