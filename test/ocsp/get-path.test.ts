import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { buildOcspRequest, decodeOcspGetPath, ocspGetUrl, OcspInputError, parseOcspRequest } from '../../src/ocsp/index.js';
import { createCa, issueLeaf } from '../support/pki.js';
import { getUrl, startOpensslResponder, type ResponderHandle } from '../support/openssl.js';
import { validateOcspResponse } from '../../src/ocsp/index.js';
import type { X509Certificate } from '@peculiar/x509';
import { encodeTlv } from '../../src/ocsp/der.js';

let der: Uint8Array;
let b64: string;
let cert: X509Certificate;
let issuer: X509Certificate;
let server: ResponderHandle | undefined;

beforeAll(async () => {
  const ca = await createCa();
  // a serial chosen so that the base64 has '/' and '+' in it is found by trying; bounded
  for (let i = 0; i < 200; i++) {
    const leaf = await issueLeaf(ca);
    const req = buildOcspRequest({ cert: leaf.cert, issuer: ca.cert });
    const s = Buffer.from(req.der).toString('base64');
    if (s.includes('/') && s.includes('+') && s.endsWith('=')) {
      der = req.der;
      b64 = s;
      cert = leaf.cert;
      issuer = ca.cert;
      break;
    }
  }
  expect(b64).toBeDefined();
  server = await startOpensslResponder({ ca, indexEntries: [{ cert, status: 'V' }], nmin: 30, probeRequest: der });
});

afterAll(async () => {
  await server?.stop();
});

describe('decodeOcspGetPath', () => {
  const variants = (): [string, string][] => [
    ['plain', `/${b64}`],
    ['URL-encoded', `/${encodeURIComponent(b64)}`],
    ['lower-case escapes', `/${encodeURIComponent(b64).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())}`],
    ['double leading slash', `//${encodeURIComponent(b64)}`],
    ['many leading slashes', `////${b64}`],
    ['base64url', `/${b64.replace(/\+/g, '-').replace(/\//g, '_')}`],
    ['no padding', `/${b64.replace(/=+$/, '')}`],
    ['base64url, no padding', `/${b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`],
    ['+ turned into space', `/${b64.replace(/\+/g, ' ')}`],
    ['query string ignored', `/${encodeURIComponent(b64)}?x=1`],
  ];
  it('decodes every mangled form to the same DER, and the DER parses', () => {
    for (const [name, path] of variants()) {
      expect(Buffer.from(decodeOcspGetPath(path)).toString('base64'), name).toBe(b64);
    }
    expect(parseOcspRequest(decodeOcspGetPath(`/${b64}`)).certIds).toHaveLength(1);
  });

  it('round-trips ocspGetUrl for any bytes that form a DER SEQUENCE', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (content) => {
        const fixed = encodeTlv(0x30, content);
        const url = ocspGetUrl('http://h/ocsp/', fixed);
        const path = url.slice('http://h/ocsp'.length);
        expect(path.startsWith('//')).toBe(false);
        expect(decodeOcspGetPath(path)).toEqual(fixed);
      }),
      { numRuns: 300 },
    );
  });

  it('rejects cleanly with a named problem', () => {
    const cases: [string, RegExp][] = [
      ['/', /no request/],
      ['', /no request/],
      ['/%zz', /percent-escape/],
      ['/abc$', /not base64/],
      ['/A', /whole encoding/],
      ['/aGVsbG8=', /DER SEQUENCE/],
      [`/${b64.slice(0, 20)}`, /whole DER request/],
      [`/${Buffer.from([...der, 0, 0]).toString('base64')}`, /after the DER SEQUENCE/],
      ['/' + 'A'.repeat(200_000), /longer than/],
    ];
    for (const [path, re] of cases) {
      expect(() => decodeOcspGetPath(path), path.slice(0, 30)).toThrow(OcspInputError);
      expect(() => decodeOcspGetPath(path)).toThrow(re);
    }
    expect(() => decodeOcspGetPath(`/${b64}`, { maxBytes: 16 })).toThrow(/limit|longer/);
  });

  it('never throws anything but OcspInputError on arbitrary paths', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (p) => {
        try {
          decodeOcspGetPath(p);
        } catch (e) {
          expect(e).toBeInstanceOf(OcspInputError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('the GET URL we build is answered by openssl ocsp, and the answer validates', async () => {
    const url = ocspGetUrl(server!.url, der);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[^/]/);
    expect(url).toMatch(/%2F/);
    const res = await getUrl(url);
    expect(res.status).toBe(200);
    const v = validateOcspResponse(res.body, { cert, issuer, now: new Date() });
    expect(v).toMatchObject({ ok: true, response: { certStatus: 'good' } });
  });
});
