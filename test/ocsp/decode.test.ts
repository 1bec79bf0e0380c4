// The OCSP structures as the strict reader takes them, on hand-built DER: a well-formed response
// and request decode, and each breach of one rule at one level is refused (Malformed for a
// response, OcspInputError for a request) where a lenient reader would have read on.
import { beforeAll, describe, expect, it } from 'vitest';
import { OcspInputError, parseOcspRequest } from '../../src/ocsp/index.js';
import { readCertificate } from '../../src/ocsp/cert-der.js';
import { encodeTlv } from '../../src/ocsp/der.js';
import { includedCert } from '../../src/ocsp/included-cert.js';
import { decodeResponse } from '../../src/ocsp/response.js';
import { createCa, issueResponderCert, type Ca } from '../support/pki.js';

const b = (...xs: number[]): Uint8Array => new Uint8Array(xs);
const concat = (parts: Uint8Array[]): Uint8Array => new Uint8Array(parts.flatMap((p) => [...p]));
const tlv = (tag: number, ...parts: Uint8Array[]): Uint8Array => encodeTlv(tag, concat(parts));
const ascii = (tag: number, s: string): Uint8Array => encodeTlv(tag, new Uint8Array(Buffer.from(s, 'latin1')));
const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s/g, ''), 'hex'));

const NULL = b(0x05, 0x00);
const OID_SHA1 = hex('06 05 2b0e03021a');
const OID_BASIC = hex('06 09 2b0601050507300101');
const OID_NONCE = hex('06 09 2b0601050507300102');
const OID_ECDSA_SHA256 = hex('06 08 2a8648ce3d040302');
const OID_CN = hex('06 03 550403');
const NAME = tlv(0x30, tlv(0x31, tlv(0x30, OID_CN, ascii(0x0c, 'Responder'))));
const HASH = tlv(0x04, new Uint8Array(20).fill(0xaa));
const gt = (s: string): Uint8Array => ascii(0x18, s);

const certId = (...extra: Uint8Array[]): Uint8Array => tlv(0x30, tlv(0x30, OID_SHA1, NULL), HASH, HASH, b(0x02, 0x01, 0x05), ...extra);
const GOOD = b(0x80, 0x00);
const singleFields = (): Uint8Array[] => [certId(), GOOD, gt('20260110120000Z'), tlv(0xa0, gt('20260111120000Z'))];
const single = (fields = singleFields()): Uint8Array => tlv(0x30, ...fields);
const nonceExt = (...fields: Uint8Array[]): Uint8Array =>
  tlv(0x30, tlv(0x30, ...(fields.length ? fields : [OID_NONCE, tlv(0x04, tlv(0x04, b(1, 2, 3)))])));
const dataFields = (): Uint8Array[] => [tlv(0xa1, NAME), gt('20260110120000Z'), tlv(0x30, single()), tlv(0xa1, nonceExt())];
const responseData = (fields = dataFields()): Uint8Array => tlv(0x30, ...fields);
const SIG_ALG = tlv(0x30, OID_ECDSA_SHA256);
const SIG = b(0x03, 0x03, 0x00, 0x01, 0x02);
const basic = (fields: Uint8Array[] = [responseData(), SIG_ALG, SIG]): Uint8Array => tlv(0x30, ...fields);
const envelope = (inner: Uint8Array = basic(), o: { status?: Uint8Array; type?: Uint8Array; rbExtra?: Uint8Array[] } = {}): Uint8Array =>
  tlv(0x30, o.status ?? b(0x0a, 0x01, 0x00), tlv(0xa0, tlv(0x30, o.type ?? OID_BASIC, tlv(0x04, inner), ...(o.rbExtra ?? []))));

/** The response with the SingleResponse's fields replaced. */
const withSingle = (fields: Uint8Array[]): Uint8Array =>
  envelope(basic([responseData([tlv(0xa1, NAME), gt('20260110120000Z'), tlv(0x30, single(fields))]), SIG_ALG, SIG]));
/** The response with the ResponseData's fields replaced. */
const withData = (fields: Uint8Array[]): Uint8Array => envelope(basic([responseData(fields), SIG_ALG, SIG]));

function malformed(body: Uint8Array, message: RegExp): void {
  const d = decodeResponse(body);
  expect(d).toMatchObject({ ok: false, reason: 'Malformed' });
  if (!d.ok) expect(d.message).toMatch(message);
}

let ca: Ca;
let responderDer: Uint8Array;

beforeAll(async () => {
  ca = await createCa({ keyAlg: 'P-256' });
  responderDer = new Uint8Array((await issueResponderCert(ca)).cert.rawData);
});

describe('OCSPResponse and BasicOCSPResponse', () => {
  it('a well-formed response decodes to its fields', () => {
    const d = decodeResponse(envelope());
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.data.version).toBe(0);
    expect(d.data.producedAt).toEqual(new Date('2026-01-10T12:00:00Z'));
    expect(d.responderId.byName).toEqual(NAME);
    expect(d.data.responses).toHaveLength(1);
    const s = d.data.responses[0]!;
    expect(s.certID.hashAlgorithm.algorithm).toBe('1.3.14.3.2.26');
    expect([...s.certID.serialNumber]).toEqual([5]);
    expect(s.certStatus).toEqual({ good: null });
    expect(s.nextUpdate).toEqual(new Date('2026-01-11T12:00:00Z'));
    expect(d.data.responseExtensions?.[0]?.extnID).toBe('1.3.6.1.5.5.7.48.1.2');
    expect(d.tbs).toEqual(responseData());
    expect(d.signatureAlgorithm).toEqual(SIG_ALG);
    expect([...d.signature]).toEqual([1, 2]);
    expect(d.certs).toEqual([]);
  });

  it('cut short is Truncated; not a SEQUENCE is NotOcsp', () => {
    expect(decodeResponse(envelope().subarray(0, 10))).toMatchObject({ ok: false, reason: 'Truncated' });
    expect(decodeResponse(b(0x31, 0x00))).toMatchObject({ ok: false, reason: 'NotOcsp' });
  });

  it('rejects bytes after the response', () => {
    malformed(new Uint8Array([...envelope(), 0x00]), /1 trailing bytes/);
  });

  it('rejects a field after responseBytes', () => {
    malformed(tlv(0x30, b(0x0a, 0x01, 0x00), tlv(0xa0, tlv(0x30, OID_BASIC, tlv(0x04, basic()))), NULL), /OCSPResponse: unexpected field/);
  });

  it('rejects a responseStatus of more than one byte', () => {
    malformed(envelope(basic(), { status: b(0x0a, 0x02, 0x00, 0x00) }), /responseStatus is not one byte/);
  });

  it('rejects responseBytes with more than one element, and ResponseBytes with a field too many', () => {
    const rb = tlv(0x30, OID_BASIC, tlv(0x04, basic()));
    malformed(tlv(0x30, b(0x0a, 0x01, 0x00), tlv(0xa0, rb, NULL)), /unexpected field/);
    malformed(envelope(basic(), { rbExtra: [NULL] }), /ResponseBytes: unexpected field/);
  });

  it('rejects a malformed responseType OID and another type', () => {
    malformed(envelope(basic(), { type: b(0x06, 0x02, 0x2b, 0x86) }), /ends inside an arc/);
    malformed(envelope(basic(), { type: OID_NONCE }), /responseType 1.3.6.1.5.5.7.48.1.2 is not id-pkix-ocsp-basic/);
  });

  it('reports an error status whatever the responseBytes hold', () => {
    expect(decodeResponse(envelope(b(0xff, 0xff), { status: b(0x0a, 0x01, 0x03) }))).toMatchObject({ ok: false, reason: 'TryLater' });
  });

  it('rejects bytes after the BasicOCSPResponse inside the OCTET STRING', () => {
    malformed(envelope(new Uint8Array([...basic(), 0x05, 0x00])), /unexpected field with tag 0x05/);
  });

  it('rejects a field after certs, and a signature with unused bits', () => {
    malformed(envelope(basic([responseData(), SIG_ALG, SIG, tlv(0xa0, tlv(0x30)), NULL])), /BasicOCSPResponse: unexpected field/);
    malformed(envelope(basic([responseData(), SIG_ALG, b(0x03, 0x02, 0x01, 0x02)])), /has unused bits/);
  });

  it('rejects a signature algorithm that is not DER inside', () => {
    malformed(envelope(basic([responseData(), tlv(0x30, OID_ECDSA_SHA256, tlv(0x24, b(0x04, 0x00))), SIG])), /constructed universal/);
  });

  it('rejects certs holding more than one SEQUENCE', () => {
    malformed(envelope(basic([responseData(), SIG_ALG, SIG, tlv(0xa0, tlv(0x30), tlv(0x30))])), /certs: unexpected field/);
  });

  it('included certificates: refused when not DER, kept for validation to judge when DER', () => {
    malformed(
      envelope(basic([responseData(), SIG_ALG, SIG, tlv(0xa0, tlv(0x30, tlv(0x30, tlv(0x24, b(0x04, 0x00)))))])),
      /included certificate #1 is not DER/,
    );
    const notACert = tlv(0x30, NULL);
    const d = decodeResponse(envelope(basic([responseData(), SIG_ALG, SIG, tlv(0xa0, tlv(0x30, notACert, responderDer))])));
    expect(d.ok && d.certs).toEqual([notACert, responderDer]);
    expect(includedCert(notACert)).toEqual({ strictDer: true, cert: undefined });
    expect(includedCert(responderDer).cert).toMatchObject({ ocspSigning: true, subject: expect.stringMatching(/^CN=OCSP Responder/) });
  });
});

describe('ResponseData', () => {
  it('takes an explicit v1, but not a non-minimal one', () => {
    const d = decodeResponse(withData([tlv(0xa0, b(0x02, 0x01, 0x00)), ...dataFields()]));
    expect(d.ok && d.data.version).toBe(0);
    malformed(withData([tlv(0xa0, b(0x02, 0x02, 0x00, 0x00)), ...dataFields()]), /non-minimal INTEGER/);
    malformed(withData([tlv(0xa0, b(0x0a, 0x01, 0x00)), ...dataFields()]), /version: the tagged value has tag 0x0a, expected 0x02/);
    malformed(withData([tlv(0xa0, b(0x02, 0x01, 0x00), NULL), ...dataFields()]), /version: unexpected field/);
  });

  it('responderID: byName holds a Name, byKey an OCTET STRING, nothing else', () => {
    const [, ...rest] = dataFields();
    const d = decodeResponse(withData([tlv(0xa2, HASH), ...rest]));
    expect(d.ok && [...d.responderId.byKey!]).toEqual([...new Uint8Array(20).fill(0xaa)]);
    malformed(withData([tlv(0xa3, HASH), ...rest]), /neither byName \[1\] nor byKey \[2\]/);
    malformed(withData([tlv(0xa1, tlv(0x31)), ...rest]), /byName: the tagged value has tag 0x31/);
    malformed(withData([tlv(0xa1, tlv(0x30, tlv(0x30))), ...rest]), /RelativeDistinguishedName has tag 0x30/);
    malformed(withData([tlv(0xa2, tlv(0x24, HASH)), ...rest]), /byKey: the tagged value has tag 0x24/);
  });

  it('producedAt is a DER GeneralizedTime', () => {
    const [rid, , ...rest] = dataFields();
    malformed(withData([rid!, ascii(0x17, '260110120000Z'), ...rest]), /producedAt has tag 0x17/);
    malformed(withData([rid!, gt('20260110130000+0100'), ...rest]), /YYYYMMDDHHMMSS/);
  });

  it('rejects a field after responseExtensions, and malformed extensions', () => {
    malformed(withData([...dataFields(), tlv(0xa2, NULL)]), /ResponseData: unexpected field/);
    const [rid, at, responses] = dataFields();
    malformed(withData([rid!, at!, responses!, tlv(0xa1, nonceExt(OID_NONCE, b(0x01, 0x01, 0x01), tlv(0x04)))]), /00 or FF/);
    malformed(withData([rid!, at!, responses!, tlv(0xa1, tlv(0x30), NULL)]), /unexpected field/);
  });

  it('rejects a responses element that is not a SEQUENCE', () => {
    const [rid, at] = dataFields();
    malformed(withData([rid!, at!, tlv(0x30, tlv(0x31))]), /SingleResponse has tag 0x31/);
  });
});

describe('SingleResponse and CertID', () => {
  it('reads revoked with a reason, and unknown', () => {
    const [id, , ...rest] = singleFields();
    const revoked = tlv(0xa1, gt('20260109000000Z'), tlv(0xa0, b(0x0a, 0x01, 0x01)));
    const d = decodeResponse(withSingle([id!, revoked, ...rest]));
    expect(d.ok && d.data.responses[0]!.certStatus).toEqual({
      revoked: { revocationTime: new Date('2026-01-09T00:00:00Z'), revocationReason: 1 },
    });
    const u = decodeResponse(withSingle([id!, b(0x82, 0x00), ...rest]));
    expect(u.ok && u.data.responses[0]!.certStatus).toEqual({ unknown: null });
  });

  it('rejects good or unknown with content, and other certStatus tags', () => {
    const [id, , ...rest] = singleFields();
    malformed(withSingle([id!, b(0x80, 0x01, 0x00), ...rest]), /NULL at offset \d+ has 1 content bytes/);
    malformed(withSingle([id!, b(0x82, 0x01, 0x00), ...rest]), /has 1 content bytes/);
    malformed(withSingle([id!, b(0x83, 0x00), ...rest]), /certStatus has tag 0x83/);
  });

  it('RevokedInfo: the reason is an ENUMERATED in [0], nothing follows', () => {
    const [id, , ...rest] = singleFields();
    const at = gt('20260109000000Z');
    malformed(withSingle([id!, tlv(0xa1, at, tlv(0xa0, b(0x02, 0x01, 0x01))), ...rest]), /has tag 0x02, expected 0x0a/);
    malformed(withSingle([id!, tlv(0xa1, at, tlv(0xa0, b(0x0a, 0x01, 0x01)), NULL), ...rest]), /RevokedInfo: unexpected field/);
  });

  it('rejects fields out of order, after singleExtensions, and nextUpdate holding two times', () => {
    const [id, status, thisUpdate, nextUpdate] = singleFields();
    malformed(withSingle([id!, status!, nextUpdate!, thisUpdate!]), /thisUpdate has tag 0xa0/);
    malformed(withSingle([id!, status!, thisUpdate!, nextUpdate!, tlv(0xa1, nonceExt()), NULL]), /SingleResponse: unexpected field/);
    malformed(withSingle([id!, status!, thisUpdate!, tlv(0xa0, gt('20260111120000Z'), gt('20260112120000Z'))]), /unexpected field/);
    malformed(withSingle([id!, status!, thisUpdate!, nextUpdate!, tlv(0xa1, nonceExt(OID_NONCE))]), /extnValue is missing/);
  });

  it('CertID: four fields, a minimal serial, primitive hashes', () => {
    const [, ...rest] = singleFields();
    malformed(withSingle([certId(NULL), ...rest]), /CertID: unexpected field/);
    malformed(withSingle([tlv(0x30, tlv(0x30, OID_SHA1, NULL), HASH, HASH, b(0x02, 0x02, 0x00, 0x05)), ...rest]), /non-minimal INTEGER/);
    malformed(withSingle([tlv(0x30, tlv(0x30, OID_SHA1, NULL), HASH, HASH, b(0x02, 0x00)), ...rest]), /empty INTEGER/);
    malformed(
      withSingle([tlv(0x30, tlv(0x30, OID_SHA1, NULL), tlv(0x24, HASH), HASH, b(0x02, 0x01, 0x05)), ...rest]),
      /issuerNameHash has tag 0x24/,
    );
  });
});

describe('OCSPRequest', () => {
  const request = (tbs: Uint8Array[] = [tlv(0x30, tlv(0x30, certId())), tlv(0xa2, nonceExt())], ...after: Uint8Array[]): Uint8Array =>
    tlv(0x30, tlv(0x30, ...tbs), ...after);
  const refused = (der: Uint8Array, message: RegExp): void => {
    expect(() => parseOcspRequest(der)).toThrow(OcspInputError);
    expect(() => parseOcspRequest(der)).toThrow(message);
  };

  it('a well-formed request parses to its CertIDs and nonce', () => {
    const r = parseOcspRequest(request());
    expect(r.certIds).toHaveLength(1);
    expect(r.certIds[0]).toMatchObject({ hashAlgorithm: 'SHA-1', serialNumber: b(5) });
    expect(r.nonce).toEqual(b(1, 2, 3));
  });

  it('takes a version, a requestor name and a signature with certificates', () => {
    const signature = tlv(0xa0, tlv(0x30, SIG_ALG, SIG, tlv(0xa0, tlv(0x30, responderDer))));
    const r = parseOcspRequest(
      request([tlv(0xa0, b(0x02, 0x01, 0x00)), tlv(0xa1, tlv(0xa4, NAME)), tlv(0x30, tlv(0x30, certId()))], signature),
    );
    expect(r.certIds).toHaveLength(1);
  });

  it('rejects another outer tag, trailing bytes and fields after the last', () => {
    refused(tlv(0x31, tlv(0x30, tlv(0x30, tlv(0x30, certId())))), /OCSPRequest has tag 0x31/);
    refused(new Uint8Array([...request(), 0x00]), /trailing/);
    refused(request(undefined, tlv(0xa0, tlv(0x30, SIG_ALG, SIG)), NULL), /OCSPRequest: unexpected field/);
    refused(request([tlv(0x30, tlv(0x30, certId())), tlv(0xa2, nonceExt()), NULL]), /TBSRequest: unexpected field/);
    refused(request([tlv(0x30, tlv(0x30, certId(), tlv(0xa0, nonceExt()), NULL))]), /Request: unexpected field/);
  });

  it('rejects a request list entry that is not a SEQUENCE, and a bad CertID', () => {
    refused(request([tlv(0x30, tlv(0x31, certId()))]), /Request has tag 0x31/);
    refused(request([tlv(0x30, tlv(0x30, certId(NULL)))]), /CertID: unexpected field/);
  });

  it('rejects malformed version, requestor name and extensions', () => {
    refused(request([tlv(0xa0, b(0x02, 0x02, 0x00, 0x00)), tlv(0x30, tlv(0x30, certId()))]), /non-minimal INTEGER/);
    refused(request([tlv(0xa1, tlv(0xa4, tlv(0x30, tlv(0x24)))), tlv(0x30, tlv(0x30, certId()))]), /constructed universal/);
    refused(request([tlv(0x30, tlv(0x30, certId())), tlv(0xa2, nonceExt(OID_NONCE, b(0x01, 0x01, 0x01), tlv(0x04)))]), /00 or FF/);
  });

  it('rejects a signature whose certificates are not certificates', () => {
    refused(request(undefined, tlv(0xa0, tlv(0x30, SIG_ALG, SIG, tlv(0xa0, tlv(0x30, tlv(0x30, NULL)))))), /tbsCertificate has tag 0x05/);
    refused(request(undefined, tlv(0xa0, tlv(0x30, SIG_ALG, b(0x03, 0x00)))), /empty BIT STRING/);
  });

  it('says when the list is empty or a hash is not supported', () => {
    refused(request([tlv(0x30)]), /lists no certificates/);
    refused(
      request([tlv(0x30, tlv(0x30, tlv(0x30, tlv(0x30, OID_CN), HASH, HASH, b(0x02, 0x01, 0x05))))]),
      /unsupported CertID hash 2.5.4.3/,
    );
  });
});

describe('certificates inside OCSP messages (readCertificate)', () => {
  /** A copy of `der` with the first occurrence of `find` replaced by `put`, of the same length. */
  function patch(der: Uint8Array, find: Uint8Array, put: Uint8Array): Uint8Array {
    const at = Buffer.from(der).indexOf(Buffer.from(find));
    expect(at).toBeGreaterThan(0);
    const out = der.slice();
    out.set(put, at);
    return out;
  }

  it('reads validity and extensions of a real certificate', () => {
    const f = readCertificate(responderDer);
    expect(f.notAfter.getTime()).toBeGreaterThan(f.notBefore.getTime());
    expect(f.extensions.map((e) => e.extnID)).toContain('2.5.29.37');
  });

  it('rejects trailing bytes, a validity time that is not DER, and a critical flag that is not 00/FF', () => {
    expect(() => readCertificate(new Uint8Array([...responderDer, 0]))).toThrow(/trailing bytes after the certificate/);
    const utc = Buffer.from(responderDer).indexOf(Buffer.from([0x17, 0x0d]));
    const badTime = responderDer.slice();
    badTime[utc + 2 + 12] = 0x30; // the final Z of notBefore
    expect(() => readCertificate(badTime)).toThrow(/YYMMDDHHMMSSZ/);
    // basicConstraints, which the test PKI marks critical
    expect(() => readCertificate(patch(responderDer, hex('0603551d13 0101ff'), hex('0603551d13 010101')))).toThrow(/00 or FF/);
  });
});
