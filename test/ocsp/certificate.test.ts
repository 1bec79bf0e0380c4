import { execFileSync } from 'node:child_process';
import { X509Certificate as NodeX509 } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  findIssuer,
  isMustStaple,
  keyMatchesCertificate,
  certificatePem,
  certificateView,
  ocspUrls,
  parsePemViews,
  OcspInputError,
  parsePemChain,
  serialHex,
  sha256Fingerprint,
} from '../../src/ocsp/index.js';
import { certDer, readCertificate } from '../../src/ocsp/cert-der.js';
import { createCa, issueLeaf, type Ca, type Issued } from '../support/pki.js';

let ca: Ca;
let other: Ca;
let leaf: Issued;

beforeAll(async () => {
  [ca, other] = await Promise.all([createCa(), createCa()]);
  leaf = await issueLeaf(ca, { ocspUrl: 'http://127.0.0.1:8080/ocsp', mustStaple: true, serial: '00ff0102' });
});

describe('certificate helpers', () => {
  it('parses a tls.crt chain in order and finds the issuer by name and signature', () => {
    const chain = parsePemChain(leaf.chainPem);
    expect(chain.map((c) => c.subject)).toEqual([leaf.cert.subject, ca.cert.subject]);
    expect(findIssuer(chain[0]!, [other.cert, ...chain])?.subject).toBe(ca.cert.subject);
    expect(findIssuer(chain[0]!, [other.cert])).toBeUndefined();
  });

  it('does not take a certificate with the issuer name but another key as the issuer', async () => {
    const impostor = await createCa({ name: ca.name });
    expect(findIssuer(leaf.cert, [impostor.cert])).toBeUndefined();
  });

  it('names the problem in bad PEM', () => {
    expect(() => parsePemChain('')).toThrow(/empty/);
    expect(() => parsePemChain(leaf.keyPem)).toThrow(/only PRIVATE KEY/);
    expect(() => parsePemChain('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----')).toThrow(OcspInputError);
    expect(() => parsePemChain('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----')).toThrow(/#1 does not parse/);
  });

  it('reads DER input too', () => {
    expect(parsePemChain(new Uint8Array(leaf.cert.rawData))[0]!.subject).toBe(leaf.cert.subject);
  });

  it('reads AIA OCSP URLs, and [] without AIA', async () => {
    expect(ocspUrls(leaf.cert)).toEqual(['http://127.0.0.1:8080/ocsp']);
    const noAia = await issueLeaf(ca, { ocspUrl: null });
    expect(ocspUrls(noAia.cert)).toEqual([]);
    expect(isMustStaple(noAia.cert)).toBe(false);
  });

  it('serial, fingerprint and Must-Staple agree with node:crypto / openssl', () => {
    const n = new NodeX509(leaf.certPem);
    expect(serialHex(leaf.cert)).toBe('ff0102');
    expect(serialHex(leaf.cert)).toBe(n.serialNumber.toLowerCase().replace(/^(00)+/, ''));
    expect(sha256Fingerprint(leaf.cert)).toBe(n.fingerprint256.replace(/:/g, '').toLowerCase());
    expect(isMustStaple(leaf.cert)).toBe(true);
    const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: leaf.certPem }).toString();
    expect(text).toMatch(/TLS Feature:\s*\n\s*status_request/);
  });

  it('reads a certificate view from DER that says what X509Certificate says, and falls back to it for BER', () => {
    for (const cert of [leaf.cert, ca.cert]) {
      const der = new Uint8Array(cert.rawData);
      const view = certificateView(der);
      expect({ ...view, rawData: Buffer.from(view.rawData) }).toEqual({
        subject: cert.subject,
        issuer: cert.issuer,
        notBefore: cert.notBefore,
        notAfter: cert.notAfter,
        rawData: Buffer.from(der),
      });
      expect(certificatePem(view)).toBe(cert.toString('pem'));
      expect(certDer(view).der.buffer).toBe(view.rawData); // its split shares its bytes: one copy held
      expect(serialHex(view)).toBe(serialHex(cert));
      expect(ocspUrls(view)).toEqual(ocspUrls(cert));
      expect(isMustStaple(view)).toBe(isMustStaple(cert));
      expect(keyMatchesCertificate(leaf.keyPem, view)).toBe(cert === leaf.cert);
    }
    expect(parsePemViews(leaf.chainPem).map((v) => v.subject)).toEqual([leaf.cert.subject, ca.cert.subject]);
    // A critical flag written as BOOLEAN 0x01 (BER; DER says 0xFF): the strict reader refuses it, X509Certificate reads it.
    const ber = Buffer.from(leaf.cert.rawData);
    const at = ber.indexOf(Buffer.from([0x01, 0x01, 0xff]));
    expect(at).toBeGreaterThan(0);
    ber[at + 2] = 0x01;
    expect(() => readCertificate(ber)).toThrow(/BOOLEAN/);
    expect(certificateView(ber)).toMatchObject({ subject: leaf.cert.subject, notAfter: leaf.cert.notAfter });
    // Not a certificate: the error parsePemChain gives.
    const broken = leaf.certPem.replace(/(-----BEGIN CERTIFICATE-----\n)MII/, '$1MIA');
    expect(() => parsePemViews(broken)).toThrow(OcspInputError);
    expect(() => parsePemViews(broken)).toThrow(/PEM certificate #1 does not parse as an X.509 certificate/);
  });

  it('matches tls.key against tls.crt', () => {
    expect(keyMatchesCertificate(leaf.keyPem, leaf.cert)).toBe(true);
    expect(keyMatchesCertificate(ca.keyPem, leaf.cert)).toBe(false);
    expect(keyMatchesCertificate('not a key', leaf.cert)).toBe(false);
  });
});
