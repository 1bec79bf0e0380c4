// The template encoder must produce exactly what signOcspResponse produces (with a deterministic
// RSA PKCS#1 v1.5 key the whole response is reproducible), and openssl must accept it.
import { describe, expect, it, beforeAll } from 'vitest';
import { certIdFor, signOcspResponse, softwareSigner, validateOcspResponse, type ResponseEntryStatus } from '../../src/ocsp/index.js';
import { ResponseEncoder } from '../../src/ocsp/response-encoder.js';
import { createCa, issueLeaf, issueResponderCert, type Ca, type Issued } from '../support/pki.js';
import { opensslVerifyResponse } from '../support/openssl.js';

const HOUR = 3_600_000;

describe('ResponseEncoder', () => {
  let ca: Ca;
  let leaf: Issued;
  let highBit: Issued;
  let small: Issued;
  let responder: Issued;
  beforeAll(async () => {
    ca = await createCa({ keyAlg: 'RSA-2048' });
    leaf = await issueLeaf(ca);
    highBit = await issueLeaf(ca, { serial: '00' + 'F1'.repeat(16) }); // needs a 0x00 pad in DER
    small = await issueLeaf(ca, { serial: '0A' }); // one octet, odd hex length once canonical ("a")
    responder = await issueResponderCert(ca, { keyAlg: 'RSA-2048' });
  });

  const statuses: [string, ResponseEntryStatus][] = [
    ['good', { kind: 'good' }],
    ['unknown', { kind: 'unknown' }],
    ['revoked without reason', { kind: 'revoked', revocationTime: new Date('2025-03-04T05:06:07.890Z') }],
    ['revoked keyCompromise', { kind: 'revoked', revocationTime: new Date('2025-03-04T05:06:07Z'), reason: 'keyCompromise' }],
  ];
  const variants = [
    { name: 'issuer-signed, byName, SHA-1', delegated: false, by: 'name' as const, hash: 'SHA-1' as const },
    { name: 'delegated, byKey, SHA-256', delegated: true, by: 'keyHash' as const, hash: 'SHA-256' as const },
  ];

  for (const v of variants) {
    it.each(statuses)(`${v.name}: %s is byte-identical to signOcspResponse`, async (_n, status) => {
      const now = Date.now() + 123; // fractional second: both must cut it off
      for (const cert of [leaf, highBit, small]) {
        const key = (v.delegated ? responder : ca).keyObject;
        const signer = softwareSigner(key);
        const reference = await signOcspResponse({
          issuer: ca.cert,
          signer,
          ...(v.delegated ? { responderCert: responder.cert } : {}),
          responderIdBy: v.by,
          entries: [
            { certId: certIdFor(cert.cert, ca.cert, v.hash), status, thisUpdate: new Date(now), nextUpdate: new Date(now + 24 * HOUR) },
          ],
          producedAt: new Date(now),
        });
        const enc = new ResponseEncoder({
          issuer: ca.cert,
          algorithm: signer.algorithm,
          ...(v.delegated ? { responderCert: responder.cert } : {}),
          responderIdBy: v.by,
          certIdHash: v.hash,
        });
        const tbs = enc.tbs({
          serial: cert === small ? 'a' : cert.serial,
          status,
          thisUpdate: now,
          nextUpdate: now + 24 * HOUR,
          producedAt: now,
        });
        const ours = enc.wrap(tbs, await signer.sign(tbs));
        expect(Buffer.from(ours).toString('hex')).toBe(Buffer.from(reference).toString('hex'));
      }
    });
  }

  it('openssl verifies an encoder response (delegated, revoked)', async () => {
    const now = Date.now();
    const signer = softwareSigner(responder.keyObject);
    const enc = new ResponseEncoder({ issuer: ca.cert, algorithm: signer.algorithm, responderCert: responder.cert });
    const status: ResponseEntryStatus = { kind: 'revoked', revocationTime: new Date(now - HOUR), reason: 'superseded' };
    const tbs = enc.tbs({ serial: leaf.serial, status, thisUpdate: now, nextUpdate: now + HOUR * 24, producedAt: now });
    const der = enc.wrap(tbs, await signer.sign(tbs));
    const v = await opensslVerifyResponse({ response: der, issuerPem: ca.certPem, certPem: leaf.certPem, caPem: ca.certPem });
    expect(v.output).toContain('Response verify OK');
    expect(v.status).toBe('revoked');
    expect(validateOcspResponse(der, { cert: leaf.cert, issuer: ca.cert, now: new Date(now) })).toMatchObject({
      ok: true,
      response: { certStatus: 'revoked', revocationReason: 'superseded' },
    });
  });

  it('rejects serials that are not hex and algorithms it cannot encode', () => {
    const enc = new ResponseEncoder({ issuer: ca.cert, algorithm: 'RSA-SHA256' });
    expect(() => enc.tbs({ serial: 'xyz', status: { kind: 'good' }, thisUpdate: 0, nextUpdate: 1, producedAt: 0 })).toThrow(/not hex/);
    expect(() => new ResponseEncoder({ issuer: ca.cert, algorithm: 'RSA-PSS-SHA256' })).toThrow(/does not support RSA-PSS-SHA256/);
  });
});
