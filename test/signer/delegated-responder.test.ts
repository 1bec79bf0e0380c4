// Delegated responder certificates issued from the CA key (on SoftHSM and in software): they lint
// clean, openssl and our validator accept responses signed with them, lint names each defect, and
// rotation happens renewBefore ahead of expiry.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { softwareSigner, validateOcspResponse } from '../../src/ocsp/index.js';
import {
  generateResponderKey,
  issueDelegatedResponder,
  lintResponderCert,
  needsRotation,
  ResponderRotator,
} from '../../src/signer/delegated-responder.js';
import { openPkcs11Signer } from '../../src/signer/pkcs11-signer.js';
import { ResponseEncoder } from '../../src/ocsp/response-encoder.js';
import { opensslVerifyResponse } from '../support/openssl.js';
import { createCa, issueLeaf, issueResponderCert, type KeyAlg } from '../support/pki.js';
import { createSoftHsm, type SoftHsm } from '../support/softhsm.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
let hsm: SoftHsm;
beforeAll(async () => {
  hsm = await createSoftHsm();
});
afterAll(async () => {
  await hsm?.remove();
});

describe('delegated responder certificates', () => {
  it.each([
    ['CA key on SoftHSM (P-256), P-256 responder', 'P-256', true],
    ['CA key on SoftHSM (RSA-2048), RSA responder', 'RSA-2048', true],
    ['software CA key (P-384), P-384 responder', 'P-384', false],
  ] as [string, KeyAlg, boolean][])('%s: lints clean; openssl and our validator accept its responses', async (_n, alg, onHsm) => {
    const ca = await createCa({ keyAlg: alg });
    let close = async () => {};
    let issuerSigner = softwareSigner(ca.keyObject);
    if (onHsm) {
      await hsm.importKey(`ca-${alg}`, ca.keyPem);
      const s = openPkcs11Signer({ module: hsm.module, tokenLabel: hsm.tokenLabel, keyLabel: `ca-${alg}`, pin: hsm.pin, sessions: 1 });
      issuerSigner = s;
      close = () => s.close();
    }
    try {
      const now = new Date();
      const key = generateResponderKey(alg === 'Ed25519' ? 'P-256' : alg);
      const cert = await issueDelegatedResponder({
        issuer: ca.cert,
        issuerSigner,
        responderPublicKey: key.privateKey,
        now,
        validityMs: 30 * DAY,
        subject: 'CN=Test OCSP Responder',
      });
      expect(lintResponderCert(cert, ca.cert, now)).toEqual([]);
      expect(cert.notAfter.getTime()).toBe(Math.floor((now.getTime() + 30 * DAY) / 1000) * 1000);

      const leaf = await issueLeaf(ca);
      const enc = new ResponseEncoder({ issuer: ca.cert, algorithm: key.signer.algorithm, responderCert: cert });
      const t = now.getTime();
      const tbs = enc.tbs({ serial: leaf.serial, status: { kind: 'good' }, thisUpdate: t, nextUpdate: t + 7 * DAY, producedAt: t });
      const der = enc.wrap(tbs, await key.signer.sign(tbs));
      expect(validateOcspResponse(der, { cert: leaf.cert, issuer: ca.cert, now })).toMatchObject({
        ok: true,
        response: { certStatus: 'good', signer: { delegated: true } },
      });
      const o = await opensslVerifyResponse({ response: der, issuerPem: ca.certPem, certPem: leaf.certPem, caPem: ca.certPem });
      expect(o.output).toContain('Response verify OK');
      expect(o.status).toBe('good');
    } finally {
      await close();
    }
  });

  it('lint names every defect', async () => {
    const ca = await createCa();
    const other = await createCa();
    const now = new Date();
    const codes = async (p: Promise<{ cert: import('@peculiar/x509').X509Certificate }>, issuer = ca) =>
      lintResponderCert((await p).cert, issuer.cert, now).map((x) => x.code);
    expect(await codes(issueResponderCert(ca))).toEqual([]);
    expect(await codes(issueResponderCert(ca, { ekuOcspSigning: false }))).toEqual(['EkuNotExactlyOcspSigning']);
    expect(await codes(issueResponderCert(ca, { noCheck: false }))).toEqual(['NoCheckMissing']);
    expect(await codes(issueResponderCert(other))).toEqual(['NotIssuedByIssuer']);
    expect(
      await codes(issueResponderCert(ca, { notBefore: new Date(now.getTime() - 10 * DAY), notAfter: new Date(now.getTime() - DAY) })),
    ).toEqual(['Expired']);
    expect(await codes(issueResponderCert(ca, { notBefore: new Date(now.getTime() + DAY) }))).toEqual(['NotYetValid']);
    // a CA certificate used as a responder: no EKU, no nocheck, CA:true, keyUsage only keyCertSign|cRLSign
    expect(lintResponderCert(ca.cert, ca.cert, now).map((x) => x.code)).toEqual([
      'EkuMissing',
      'NoCheckMissing',
      'IsCa',
      'KeyUsageLacksDigitalSignature',
    ]);
    const msg = lintResponderCert((await issueResponderCert(ca, { ekuOcspSigning: false })).cert, ca.cert, now)[0]!.message;
    expect(msg).toMatch(/extendedKeyUsage is \[1\.3\.6\.1\.5\.5\.7\.3\.1\], not exactly id-kp-OCSPSigning/);
  });

  it('rotates renewBefore ahead of notAfter, never later', async () => {
    const ca = await createCa();
    const rotations: string[] = [];
    const r = new ResponderRotator(
      { issuer: ca.cert, issuerSigner: softwareSigner(ca.keyObject), validityMs: 30 * DAY, renewBeforeMs: 7 * DAY },
      (c) => rotations.push(c.serialNumber),
    );
    const t0 = Date.now();
    const first = await r.current(new Date(t0));
    expect(needsRotation(first.responderCert!, new Date(t0), 7 * DAY)).toBe(false);
    expect((await r.current(new Date(t0 + 22 * DAY))).responderCert).toBe(first.responderCert);
    expect(needsRotation(first.responderCert!, new Date(t0 + 23 * DAY), 7 * DAY)).toBe(true);
    const second = await r.current(new Date(t0 + 23 * DAY));
    expect(second.responderCert).not.toBe(first.responderCert);
    expect(rotations).toHaveLength(2);
    // the successor exists while the predecessor still has 7 days: no gap
    expect(first.responderCert!.notAfter.getTime() - (t0 + 23 * DAY)).toBeGreaterThan(6 * DAY);
    expect(lintResponderCert(second.responderCert!, ca.cert, new Date(t0 + 23 * DAY))).toEqual([]);

    // a restarted signer given the persisted responder keeps it until its own renewal time
    const restarted = new ResponderRotator({
      issuer: ca.cert,
      issuerSigner: softwareSigner(ca.keyObject),
      validityMs: 30 * DAY,
      renewBeforeMs: 7 * DAY,
      initial: second,
    });
    expect((await restarted.current(new Date(t0 + 24 * DAY))).responderCert).toBe(second.responderCert);
    // one that fails lint (another CA's) is not taken
    const other = await createCa();
    const foreign = await issueResponderCert(other);
    const r2 = new ResponderRotator({
      issuer: ca.cert,
      issuerSigner: softwareSigner(ca.keyObject),
      validityMs: 30 * DAY,
      renewBeforeMs: 7 * DAY,
      initial: { signer: softwareSigner(foreign.keyObject), responderCert: foreign.cert },
    });
    expect((await r2.current(new Date())).responderCert).not.toBe(foreign.cert);
  });
});
