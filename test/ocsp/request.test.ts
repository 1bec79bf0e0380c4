import { beforeAll, describe, expect, it } from 'vitest';
import { buildOcspRequest, issuerHashes, ocspGetUrl, OcspInputError, parseOcspRequest, type HashAlgorithm } from '../../src/ocsp/index.js';
import { AsnConvert } from '@peculiar/asn1-schema';
import { OCSPRequest, Request, TBSRequest } from '@peculiar/asn1-ocsp';
import { toAsn1CertId } from '../../src/ocsp/cert-id.js';
import { nonceExtension } from '../../src/ocsp/nonce.js';
import { encodeOid, oidToString } from '../../src/ocsp/der.js';
import { createCa, issueLeaf, type Ca, type Issued } from '../support/pki.js';
import { opensslRequest, runOpenssl, tempFiles } from '../support/openssl.js';

let ca: Ca;
let leaf: Issued;

beforeAll(async () => {
  ca = await createCa({ keyAlg: 'RSA-2048' });
  leaf = await issueLeaf(ca);
});

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('OCSP requests', () => {
  it('are written byte for byte as the asn1-schema encoding of the same request, with and without a nonce', () => {
    for (const hashAlgorithm of ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'] as const) {
      for (const nonce of [undefined, new Uint8Array(32).fill(7), new Uint8Array(200).fill(1)]) {
        const ours = buildOcspRequest({ cert: leaf.cert, issuer: ca.cert, hashAlgorithm, nonce });
        const tbs = new TBSRequest({ requestList: [new Request({ reqCert: toAsn1CertId(ours.certId) })] });
        if (nonce) tbs.requestExtensions = [nonceExtension(nonce)];
        expect(hex(ours.der)).toBe(hex(new Uint8Array(AsnConvert.serialize(new OCSPRequest({ tbsRequest: tbs })))));
      }
    }
    for (const oid of ['1.3.14.3.2.26', '2.16.840.1.101.3.4.2.3', '1.3.6.1.5.5.7.48.1.2', '2.999.16384.0'])
      expect(oidToString(encodeOid(oid).subarray(2))).toBe(oid);
  });

  it('a request made by openssl -reqout parses, with the same CertID and nonce', async () => {
    for (const digest of ['sha1', 'sha256'] as const) {
      const der = await opensslRequest({ certPem: leaf.certPem, issuerPem: ca.certPem, digest });
      const parsed = parseOcspRequest(der);
      const alg: HashAlgorithm = digest === 'sha1' ? 'SHA-1' : 'SHA-256';
      expect(parsed.certIds).toHaveLength(1);
      expect(parsed.certIds[0]!.hashAlgorithm).toBe(alg);
      expect(hex(parsed.certIds[0]!.serialNumber).toUpperCase().replace(/^00/, '')).toBe(leaf.serial);
      expect(hex(parsed.certIds[0]!.issuerKeyHash)).toBe(hex(issuerHashes(ca.cert, alg).keyHash));
      expect(hex(parsed.certIds[0]!.issuerNameHash)).toBe(hex(issuerHashes(ca.cert, alg).nameHash));
      expect(parsed.nonce?.length).toBe(16);
      // the same CertID as ours, byte for byte
      const ours = buildOcspRequest({ cert: leaf.cert, issuer: ca.cert, hashAlgorithm: alg });
      expect(hex(ours.certId.issuerKeyHash)).toBe(hex(parsed.certIds[0]!.issuerKeyHash));
    }
  });

  it.each(['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'] as const)('openssl reads our %s request and its nonce', async (alg) => {
    const req = buildOcspRequest({ cert: leaf.cert, issuer: ca.cert, hashAlgorithm: alg, nonce: true });
    expect(req.nonce).toHaveLength(32);
    const tmp = await tempFiles({ 'req.der': req.der });
    try {
      const r = await runOpenssl(['ocsp', '-reqin', 'req.der', '-req_text'], { cwd: tmp.dir });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Hash Algorithm: ${alg.toLowerCase().replace('-', '')}`);
      expect(r.stdout.replace(/\s/g, '')).toContain(`SerialNumber:${leaf.serial}`);
      expect(r.stdout).toMatch(/OCSP Nonce:\s*\n\s*0420/);
    } finally {
      await tmp.remove();
    }
    expect(parseOcspRequest(req.der).nonce).toEqual(req.nonce);
  });

  it('GET URLs: base64 URL-encoded, one slash', () => {
    const der = new Uint8Array([0xfb, 0xff, 0xfe, 0x3e]); // base64 "+//+Pg=="
    expect(ocspGetUrl('http://ocsp.example/', der)).toBe('http://ocsp.example/%2B%2F%2F%2BPg%3D%3D');
    expect(ocspGetUrl('http://ocsp.example/ocsp', der)).toBe('http://ocsp.example/ocsp/%2B%2F%2F%2BPg%3D%3D');
    expect(ocspGetUrl('http://ocsp.example', der)).toBe('http://ocsp.example/%2B%2F%2F%2BPg%3D%3D');
  });

  it('rejects garbage requests with OcspInputError', () => {
    expect(() => parseOcspRequest(new Uint8Array([1, 2, 3]))).toThrow(OcspInputError);
    const good = buildOcspRequest({ cert: leaf.cert, issuer: ca.cert }).der;
    expect(() => parseOcspRequest(good.subarray(0, good.length - 1))).toThrow(/does not parse/);
    expect(() => parseOcspRequest(new Uint8Array([...good, 0]))).toThrow(/trailing/);
  });
});
