// The PKCS#11 signer on a real SoftHSM2 token: keys imported from test CAs (so responses verify
// against the CA certificate) and one generated on the token; responses checked by our validator
// and by `openssl ocsp -respin -verify`; parallel sessions; clear errors.
import { verify as nodeVerify, createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certIdFor, signOcspResponse, validateOcspResponse } from '../../src/ocsp/index.js';
import { openPkcs11Signer } from '../../src/signer/pkcs11-signer.js';
import { ResponseEncoder } from '../../src/ocsp/response-encoder.js';
import { createCa, issueLeaf, type Ca, type KeyAlg } from '../support/pki.js';
import { opensslVerifyResponse } from '../support/openssl.js';
import { createSoftHsm, type SoftHsm } from '../support/softhsm.js';

const HOUR = 3_600_000;
let hsm: SoftHsm;
const cas = new Map<KeyAlg, Ca>();
const LABEL: Partial<Record<KeyAlg, string>> = { 'P-256': 'ca-p256', 'P-384': 'ca-p384', 'RSA-2048': 'ca-rsa' };

beforeAll(async () => {
  hsm = await createSoftHsm();
  for (const alg of ['P-256', 'P-384', 'RSA-2048'] as const) {
    const ca = await createCa({ keyAlg: alg });
    cas.set(alg, ca);
    await hsm.importKey(LABEL[alg]!, ca.keyPem);
  }
  await hsm.generateKey('generated-p256', 'EC:prime256v1');
});
afterAll(async () => {
  await hsm?.remove();
});

const open = (keyLabel: string, o: { pin?: string; tokenLabel?: string; sessions?: number } = {}) =>
  openPkcs11Signer({
    module: hsm.module,
    tokenLabel: o.tokenLabel ?? hsm.tokenLabel,
    keyLabel,
    pin: o.pin ?? hsm.pin,
    sessions: o.sessions ?? 2,
  });

describe('PKCS#11 signer on SoftHSM2', () => {
  it.each(['P-256', 'P-384', 'RSA-2048'] as const)('%s: responses verify with our validator and openssl', async (alg) => {
    const ca = cas.get(alg)!;
    const leaf = await issueLeaf(ca);
    const signer = open(LABEL[alg]!);
    try {
      expect(signer.algorithm).toBe({ 'P-256': 'ECDSA-SHA256', 'P-384': 'ECDSA-SHA384', 'RSA-2048': 'RSA-SHA256' }[alg]);
      // the public key read from the token is the CA certificate's key
      expect(Buffer.from(signer.publicKeyDer!).equals(Buffer.from(ca.cert.publicKey.rawData))).toBe(true);
      const now = Date.now();
      // through the reference encoder (which also checks the key matches the certificate) ...
      const viaReference = await signOcspResponse({
        issuer: ca.cert,
        signer,
        entries: [
          {
            certId: certIdFor(leaf.cert, ca.cert),
            status: { kind: 'good' },
            thisUpdate: new Date(now),
            nextUpdate: new Date(now + 24 * HOUR),
          },
        ],
        producedAt: new Date(now),
      });
      // ... and through the pipeline's template encoder
      const enc = new ResponseEncoder({ issuer: ca.cert, algorithm: signer.algorithm });
      const tbs = enc.tbs({
        serial: leaf.serial,
        status: { kind: 'revoked', revocationTime: new Date(now - HOUR), reason: 'keyCompromise' },
        thisUpdate: now,
        nextUpdate: now + 24 * HOUR,
        producedAt: now,
      });
      const viaEncoder = enc.wrap(tbs, await signer.sign(tbs));
      for (const [der, status] of [
        [viaReference, 'good'],
        [viaEncoder, 'revoked'],
      ] as const) {
        expect(validateOcspResponse(der, { cert: leaf.cert, issuer: ca.cert, now: new Date(now) })).toMatchObject({
          ok: true,
          response: { certStatus: status },
        });
        const o = await opensslVerifyResponse({ response: der, issuerPem: ca.certPem, certPem: leaf.certPem, caPem: ca.certPem });
        expect(o.output).toContain('Response verify OK');
        expect(o.status).toBe(status);
      }
    } finally {
      await signer.close();
    }
  });

  it('a key generated on the token: algorithm and public key come from the token', async () => {
    const signer = open('generated-p256');
    try {
      expect(signer.algorithm).toBe('ECDSA-SHA256');
      const data = new TextEncoder().encode('hello');
      const sig = await signer.sign(data);
      const pub = createPublicKey({ key: Buffer.from(signer.publicKeyDer!), format: 'der', type: 'spki' });
      expect(nodeVerify('sha256', data, { key: pub, dsaEncoding: 'der' }, sig)).toBe(true);
    } finally {
      await signer.close();
    }
  });

  it('runs as many operations at once as it has sessions, and every signature verifies', async () => {
    const signer = open(LABEL['P-256']!, { sessions: 4 });
    const pub = createPublicKey({ key: Buffer.from(signer.publicKeyDer!), format: 'der', type: 'spki' });
    let maxInFlight = 0;
    const data = Array.from({ length: 400 }, (_, i) => new TextEncoder().encode(`message ${i}`));
    const sample = setInterval(() => (maxInFlight = Math.max(maxInFlight, signer.inFlight)), 0);
    try {
      const sigs = await Promise.all(
        data.map(async (d) => {
          const s = await signer.sign(d);
          maxInFlight = Math.max(maxInFlight, signer.inFlight);
          return s;
        }),
      );
      sigs.forEach((s, i) => expect(nodeVerify('sha256', data[i]!, { key: pub, dsaEncoding: 'der' }, s)).toBe(true));
      expect(maxInFlight).toBe(4);
    } finally {
      clearInterval(sample);
      await signer.close();
    }
  });

  it('close waits for in-flight signatures; signing after close is refused with the key named', async () => {
    const signer = open(LABEL['RSA-2048']!);
    const pending = Array.from({ length: 6 }, () => signer.sign(new Uint8Array([1, 2, 3])));
    await signer.close();
    expect((await Promise.all(pending)).every((s) => s.length === 256)).toBe(true);
    await expect(signer.sign(new Uint8Array([1]))).rejects.toThrow(/token "ocsp-test" key "ca-rsa" is closed/);
  });

  it('wrong PIN, missing key and missing token give errors that name them', () => {
    expect(() => open(LABEL['P-256']!, { pin: '0000' })).toThrow('PKCS#11 token "ocsp-test": PIN rejected (CKR_PIN_INCORRECT)');
    expect(() => open('no-such-key')).toThrow(
      /token "ocsp-test": no private key labelled "no-such-key" \(private keys on the token: .*"ca-p256"/,
    );
    expect(() => open('x', { tokenLabel: 'other-token' })).toThrow(
      /PKCS#11 token "other-token" not found in \/usr\/lib\/softhsm\/libsofthsm2.so \(tokens present: "ocsp-test"\)/,
    );
    expect(() => openPkcs11Signer({ module: '/nonexistent/lib.so', tokenLabel: 't', keyLabel: 'k', pin: '1' })).toThrow(
      /cannot load PKCS#11 module \/nonexistent\/lib.so/,
    );
    // after all those failures the module is still usable
    const ok = open(LABEL['P-256']!);
    return ok.close();
  });
});
