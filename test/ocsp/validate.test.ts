// Validation rules one at a time, on responses from our signer with exact dates.
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  certIdFor,
  errorResponse,
  signOcspResponse,
  softwareSigner,
  validateOcspResponse,
  type OcspSigner,
  type ResponseEntry,
} from '../../src/ocsp/index.js';
import { encodeTlv, readTlv } from '../../src/ocsp/der.js';
import { createCa, generateKey, issueLeaf, issueResponderCert, type Ca, type Issued } from '../support/pki.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = new Date('2026-01-10T12:00:00Z');

let ca: Ca;
let leaf: Issued;
let shortLeaf: Issued;

beforeAll(async () => {
  ca = await createCa({ notBefore: new Date('2025-01-01Z'), notAfter: new Date('2030-01-01Z') });
  [leaf, shortLeaf] = await Promise.all([
    issueLeaf(ca, { notBefore: new Date('2025-12-01Z'), notAfter: new Date('2026-03-01Z') }),
    issueLeaf(ca, { notBefore: new Date('2025-12-01Z'), notAfter: new Date(T0.getTime() + 2 * HOUR) }),
  ]);
});

function entry(cert: Issued, o: Partial<ResponseEntry> = {}): ResponseEntry {
  return {
    certId: certIdFor(cert.cert, ca.cert),
    status: { kind: 'good' },
    thisUpdate: T0,
    nextUpdate: new Date(T0.getTime() + DAY),
    ...o,
  };
}

async function sign(
  entries: ResponseEntry[],
  o: { signer?: OcspSigner; responder?: Issued; nonce?: Uint8Array } = {},
): Promise<Uint8Array> {
  return signOcspResponse({
    issuer: ca.cert,
    signer: o.signer ?? softwareSigner((o.responder ?? ca).keyObject),
    ...(o.responder ? { responderCert: o.responder.cert } : {}),
    entries,
    producedAt: T0,
    ...(o.nonce ? { nonce: o.nonce } : {}),
  });
}

describe('validateOcspResponse', () => {
  it('clock skew: thisUpdate 4 minutes ahead passes with the default 5, fails with 1', async () => {
    const body = await sign([entry(leaf, { thisUpdate: new Date(T0.getTime() + 4 * MIN) })]);
    expect(validateOcspResponse(body, { cert: leaf.cert, issuer: ca.cert, now: T0 }).ok).toBe(true);
    expect(validateOcspResponse(body, { cert: leaf.cert, issuer: ca.cert, now: T0, clockSkewMs: MIN })).toMatchObject({
      ok: false,
      reason: 'NotYetValid',
      message: expect.stringContaining('2026-01-10T12:04:00.000Z'),
    });
  });

  it('Expired names both dates, and the skew does not stretch nextUpdate', async () => {
    const body = await sign([entry(leaf)]);
    expect(validateOcspResponse(body, { cert: leaf.cert, issuer: ca.cert, now: new Date(T0.getTime() + DAY - 1000) }).ok).toBe(true);
    const v = validateOcspResponse(body, {
      cert: leaf.cert,
      issuer: ca.cert,
      now: new Date(T0.getTime() + DAY + 2 * MIN),
      clockSkewMs: 10 * MIN,
    });
    expect(v).toMatchObject({ ok: false, reason: 'Expired' });
    if (!v.ok)
      expect(v.message).toContain(
        'nextUpdate 2026-01-11T12:00:00.000Z has passed (now 2026-01-11T12:02:00.000Z; thisUpdate 2026-01-10T12:00:00.000Z)',
      );
  });

  it('nextUpdate not after thisUpdate is malformed', async () => {
    const body = await sign([entry(leaf, { nextUpdate: T0 })]);
    expect(validateOcspResponse(body, { cert: leaf.cert, issuer: ca.cert, now: T0 })).toMatchObject({
      ok: false,
      reason: 'Malformed',
      message: expect.stringMatching(/not after thisUpdate/),
    });
  });

  it('usableUntil is the earliest of nextUpdate, the signer certificate and the certificate', async () => {
    const responder = await issueResponderCert(ca, { notBefore: new Date('2025-12-01Z'), notAfter: new Date(T0.getTime() + 12 * HOUR) });
    const viaResponder = await sign([entry(leaf)], { responder });
    const r1 = validateOcspResponse(viaResponder, { cert: leaf.cert, issuer: ca.cert, now: T0 });
    expect(r1.ok && r1.response.usableUntil).toEqual(responder.cert.notAfter);
    expect(r1.ok && r1.response.signer).toMatchObject({
      delegated: true,
      subject: responder.cert.subject,
      serial: responder.serial.toLowerCase(),
    });
    const forShortLeaf = await sign([entry(shortLeaf)]);
    const r2 = validateOcspResponse(forShortLeaf, { cert: shortLeaf.cert, issuer: ca.cert, now: T0 });
    expect(r2.ok && r2.response.usableUntil).toEqual(shortLeaf.cert.notAfter);
    const plain = await sign([entry(leaf)]);
    const r3 = validateOcspResponse(plain, { cert: leaf.cert, issuer: ca.cert, now: T0 });
    expect(r3.ok && r3.response.usableUntil).toEqual(new Date(T0.getTime() + DAY));
    expect(r3.ok && r3.response.signer.delegated).toBe(false);
  });

  it('signer certificate: not yet valid, and signerMinRemainingMs', async () => {
    const future = await issueResponderCert(ca, { notBefore: new Date(T0.getTime() + HOUR), notAfter: new Date(T0.getTime() + 30 * DAY) });
    expect(
      validateOcspResponse(await sign([entry(leaf)], { responder: future }), { cert: leaf.cert, issuer: ca.cert, now: T0 }),
    ).toMatchObject({
      ok: false,
      reason: 'SignerCertExpired',
      message: expect.stringMatching(/not valid before 2026-01-10T13:00:00/),
    });
    const short = await issueResponderCert(ca, { notBefore: new Date('2025-12-01Z'), notAfter: new Date(T0.getTime() + 3 * HOUR) });
    const body = await sign([entry(leaf)], { responder: short });
    expect(validateOcspResponse(body, { cert: leaf.cert, issuer: ca.cert, now: T0 }).ok).toBe(true);
    expect(validateOcspResponse(body, { cert: leaf.cert, issuer: ca.cert, now: T0, signerMinRemainingMs: 4 * HOUR })).toMatchObject({
      ok: false,
      reason: 'SignerCertExpiringSoon',
    });
  });

  it('nonce: echoed passes; missing and different are NonceMismatch', async () => {
    const nonce = new Uint8Array(16).fill(7);
    const withNonce = await sign([entry(leaf)], { nonce });
    expect(validateOcspResponse(withNonce, { cert: leaf.cert, issuer: ca.cert, now: T0, nonce }).ok).toBe(true);
    expect(validateOcspResponse(withNonce, { cert: leaf.cert, issuer: ca.cert, now: T0, nonce: new Uint8Array(16) })).toMatchObject({
      ok: false,
      reason: 'NonceMismatch',
    });
    expect(validateOcspResponse(await sign([entry(leaf)]), { cert: leaf.cert, issuer: ca.cert, now: T0, nonce })).toMatchObject({
      ok: false,
      reason: 'NonceMismatch',
      message: expect.stringContaining('carries none'),
    });
  });

  it('picks our SingleResponse among several, under different hash algorithms', async () => {
    const other = await issueLeaf(ca);
    const body = await sign([
      entry(other),
      {
        ...entry(leaf),
        certId: certIdFor(leaf.cert, ca.cert, 'SHA-512'),
        status: { kind: 'revoked', revocationTime: new Date('2026-01-09T00:00:00Z'), reason: 'cessationOfOperation' },
      },
    ]);
    const v = validateOcspResponse(body, { cert: leaf.cert, issuer: ca.cert, now: T0 });
    expect(v).toMatchObject({
      ok: true,
      response: {
        certStatus: 'revoked',
        certIdHash: 'SHA-512',
        revocationReason: 'cessationOfOperation',
        revocationTime: new Date('2026-01-09T00:00:00Z'),
      },
    });
  });

  it('a signature algorithm we do not support is UnsupportedAlgorithm, not a crash', async () => {
    const body = await sign([entry(leaf)]);
    // ecdsa-with-SHA256 (…04 03 02) -> an unassigned ecdsa-with-* arc (…04 03 09)
    const oid = Buffer.from('2a8648ce3d040302', 'hex');
    const at = Buffer.from(body).lastIndexOf(oid);
    const mutated = body.slice();
    mutated[at + oid.length - 1] = 0x09;
    expect(validateOcspResponse(mutated, { cert: leaf.cert, issuer: ca.cert, now: T0 })).toMatchObject({
      ok: false,
      reason: 'UnsupportedAlgorithm',
    });
  });

  it('the issuer passed in must really be the issuer: another CA with the same name is CertIdMismatch', async () => {
    const twin = await createCa({ name: ca.name });
    const v = validateOcspResponse(await sign([entry(leaf)]), { cert: leaf.cert, issuer: twin.cert, now: T0 });
    expect(v).toMatchObject({ ok: false, reason: 'CertIdMismatch' });
  });
});

describe('certificates included in a response', () => {
  let root: Ca;
  let intermediate: Ca;
  let leafOfIntermediate: Issued;
  let body: Uint8Array;

  beforeAll(async () => {
    root = await createCa();
    const k = await generateKey('P-256');
    const name = `CN=Test Intermediate ${randomBytes(3).toString('hex')},O=ocsp-operator tests`;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: '01' + randomBytes(8).toString('hex'),
      subject: name,
      issuer: root.cert.subjectName,
      notBefore: new Date('2025-01-01Z'),
      notAfter: new Date('2030-01-01Z'),
      publicKey: k.keys.publicKey,
      signingKey: root.keys.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as x509.HashedAlgorithm,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
      ],
    });
    intermediate = { ...k, keyAlg: 'P-256', cert, certPem: cert.toString('pem'), name };
    leafOfIntermediate = await issueLeaf(intermediate, { notBefore: new Date('2025-12-01Z'), notAfter: new Date('2026-03-01Z') });
    body = await signOcspResponse({
      issuer: intermediate.cert,
      signer: softwareSigner(intermediate.keyObject),
      entries: [
        {
          certId: certIdFor(leafOfIntermediate.cert, intermediate.cert),
          status: { kind: 'good' },
          thisUpdate: T0,
          nextUpdate: new Date(T0.getTime() + DAY),
        },
      ],
      producedAt: T0,
    });
  });

  /** The same signed response with `certs` as BasicOCSPResponse.certs (outside the signature, so anyone on the path can change it). */
  function withCerts(certs: Uint8Array[]): Uint8Array {
    const at = (buf: Uint8Array, offset: number, limit?: number) => readTlv(buf, offset, limit);
    const top = at(body, 0);
    const status = at(body, top.contentStart);
    const rb = at(body, at(body, status.end).contentStart);
    const type = at(body, rb.contentStart);
    const octets = at(body, type.end);
    const basic = at(body, octets.contentStart);
    const tbs = at(body, basic.contentStart);
    const alg = at(body, tbs.end);
    const sig = at(body, alg.end);
    const cat = (...parts: Uint8Array[]) => new Uint8Array(parts.flatMap((p) => [...p]));
    const newBasic = encodeTlv(0x30, cat(body.subarray(tbs.start, sig.end), encodeTlv(0xa0, encodeTlv(0x30, cat(...certs)))));
    const responseBytes = encodeTlv(0x30, cat(body.subarray(type.start, type.end), encodeTlv(0x04, newBasic)));
    return encodeTlv(0x30, cat(body.subarray(status.start, status.end), encodeTlv(0xa0, responseBytes)));
  }

  const opts = () => ({ cert: leafOfIntermediate.cert, issuer: intermediate.cert, now: T0 });
  const der = (c: { cert: x509.X509Certificate }) => new Uint8Array(c.cert.rawData);

  it('the issuer and the root that issued it may be included', () => {
    expect(validateOcspResponse(body, opts()).ok).toBe(true);
    expect(validateOcspResponse(withCerts([der(intermediate), der(root)]), opts()).ok).toBe(true);
  });

  it('a certificate from elsewhere is malformed, even though the signature verifies', () => {
    expect(validateOcspResponse(withCerts([der(ca)]), opts())).toMatchObject({
      ok: false,
      reason: 'Malformed',
      message: expect.stringMatching(/included certificate #1 \("CN=Test CA .*"\) is neither the issuer, nor issued by it, nor its issuer/),
    });
  });

  it('a copy of the root with a broken self-signature is malformed', () => {
    const broken = der(root).slice();
    broken[broken.length - 1] = broken[broken.length - 1]! ^ 0x01;
    expect(validateOcspResponse(withCerts([der(intermediate), broken]), opts())).toMatchObject({
      ok: false,
      reason: 'Malformed',
      message: expect.stringMatching(/#2 .*nor its issuer/),
    });
  });

  it('DER that is no certificate is malformed', () => {
    expect(validateOcspResponse(withCerts([new Uint8Array([0x30, 0x02, 0x05, 0x00])]), opts())).toMatchObject({
      ok: false,
      reason: 'Malformed',
      message: 'included certificate #1 does not parse',
    });
  });
});

describe('signing', () => {
  it('errorResponse is the 5-byte unsigned form', () => {
    expect(Buffer.from(errorResponse('tryLater')).toString('hex')).toBe('30030a0103');
    expect(Buffer.from(errorResponse('unauthorized')).toString('hex')).toBe('30030a0106');
  });

  it("refuses a key that is not the signing certificate's, and an unknown reason", async () => {
    const other = await createCa();
    await expect(sign([entry(leaf)], { signer: softwareSigner(other.keyObject) })).rejects.toThrow(/not the key of/);
    await expect(sign([entry(leaf, { status: { kind: 'revoked', revocationTime: T0, reason: 'stolen' } })])).rejects.toThrow(
      /unknown revocation reason "stolen"/,
    );
  });

  it('a signer without publicKeyDer (an HSM that cannot tell) still produces a response that validates', async () => {
    const soft = softwareSigner(ca.keyObject);
    const hsmLike: OcspSigner = { algorithm: soft.algorithm, sign: (tbs) => soft.sign(tbs) };
    expect(validateOcspResponse(await sign([entry(leaf)], { signer: hsmLike }), { cert: leaf.cert, issuer: ca.cert, now: T0 }).ok).toBe(
      true,
    );
  });

  it('drops fractional seconds from every time', async () => {
    const body = await sign([entry(leaf, { thisUpdate: new Date(T0.getTime() + 999) })]);
    const v = validateOcspResponse(body, { cert: leaf.cert, issuer: ca.cert, now: T0 });
    expect(v.ok && v.response.thisUpdate).toEqual(T0);
  });
});
