// Decoding an OCSP response body into its parts, classifying what is not a usable response.
import { AsnConvert } from '@peculiar/asn1-schema';
import { BasicOCSPResponse, OCSPResponse, OCSPResponseStatus } from '@peculiar/asn1-ocsp';
import { assertStrictDer, children, DerError, readTlv } from './der.js';
import { OID_OCSP_BASIC } from './oids.js';

export type FailureReason =
  | 'TryLater'
  | 'Unauthorized'
  | 'Malformed'
  | 'InternalError'
  | 'SigRequired'
  | 'MalformedRequest'
  | 'CertIdMismatch'
  | 'BadSignature'
  | 'SignerNotAuthorized'
  | 'SignerCertExpired'
  | 'SignerCertExpiringSoon'
  | 'NotYetValid'
  | 'Expired'
  | 'NoNextUpdate'
  | 'TooShortValidity'
  | 'NonceMismatch'
  | 'Truncated'
  | 'NotOcsp'
  | 'UnsupportedAlgorithm';

export interface Failure {
  ok: false;
  reason: FailureReason;
  message: string;
}

export function fail(reason: FailureReason, message: string): Failure {
  return { ok: false, reason, message };
}

export type ResponseStatusName = 'successful' | 'malformedRequest' | 'internalError' | 'tryLater' | 'sigRequired' | 'unauthorized';

const STATUS_REASONS: Record<number, { name: ResponseStatusName; reason: FailureReason; hint: string }> = {
  [OCSPResponseStatus.malformedRequest]: { name: 'malformedRequest', reason: 'MalformedRequest', hint: 'the responder could not read our request' },
  [OCSPResponseStatus.internalError]: { name: 'internalError', reason: 'InternalError', hint: 'the responder failed internally' },
  [OCSPResponseStatus.tryLater]: { name: 'tryLater', reason: 'TryLater', hint: 'the responder is busy or not ready; retry later' },
  [OCSPResponseStatus.sigRequired]: { name: 'sigRequired', reason: 'SigRequired', hint: 'the responder wants signed requests' },
  [OCSPResponseStatus.unauthorized]: {
    name: 'unauthorized',
    reason: 'Unauthorized',
    hint: 'the responder does not know this certificate (not issued by it, or its data is behind)',
  },
};

export interface DecodedBasic {
  ok: true;
  basic: BasicOCSPResponse;
  /** the exact signed bytes of tbsResponseData */
  tbs: Uint8Array;
  /** DER of the signatureAlgorithm AlgorithmIdentifier */
  signatureAlgorithm: Uint8Array;
  /** the exact DER of each included certificate */
  certs: Uint8Array[];
}

/** A short description of bytes that are not an OCSP response, for the person reading the error. */
export function describeBody(body: Uint8Array): string {
  const head = Buffer.from(body.subarray(0, 64));
  const text = head.toString('latin1');
  const size = `${body.length} bytes`;
  if (/^\s*<(!doctype html|html|head|body|\?xml|!--)/i.test(text)) return `looks like HTML (${size}): ${JSON.stringify(text.slice(0, 40))}`;
  if (/^[\x09\x0a\x0d\x20-\x7e]+$/.test(text)) return `looks like text (${size}): ${JSON.stringify(text.slice(0, 40))}`;
  return `${size}, starting ${head.subarray(0, 8).toString('hex')}`;
}

/** Splits a body down to the BasicOCSPResponse, or says why it cannot be one. Never throws. */
export function decodeResponse(body: Uint8Array): DecodedBasic | Failure {
  if (body.length === 0) return fail('Truncated', 'empty body (0 bytes)');
  if (body[0] !== 0x30) return fail('NotOcsp', `not an OCSP response: ${describeBody(body)}`);
  try {
    readTlv(body, 0);
  } catch (e) {
    return fail('Truncated', `${body.length} bytes, cut short: ${(e as Error).message}`);
  }
  let outer: OCSPResponse;
  try {
    assertStrictDer(body);
    outer = AsnConvert.parse(body, OCSPResponse);
  } catch (e) {
    return fail('Malformed', `OCSPResponse (${body.length} bytes) is not valid DER: ${(e as Error).message}`);
  }
  if (outer.responseStatus !== OCSPResponseStatus.successful) {
    const s = STATUS_REASONS[outer.responseStatus];
    if (!s) return fail('Malformed', `unknown responseStatus ${String(outer.responseStatus)}`);
    return fail(s.reason, `responder answered ${s.name} (${body.length} bytes): ${s.hint}`);
  }
  const rb = outer.responseBytes;
  if (!rb) return fail('Malformed', 'responseStatus successful but no responseBytes');
  if (rb.responseType !== OID_OCSP_BASIC) return fail('Malformed', `responseType ${rb.responseType} is not id-pkix-ocsp-basic`);
  const inner = new Uint8Array(rb.response.buffer);
  let basic: BasicOCSPResponse;
  try {
    assertStrictDer(inner);
    basic = AsnConvert.parse(inner, BasicOCSPResponse);
  } catch (e) {
    return fail('Malformed', `BasicOCSPResponse does not parse: ${(e as Error).message}`);
  }
  if (!basic.tbsResponseDataRaw) return fail('Malformed', 'BasicOCSPResponse without tbsResponseData bytes');
  try {
    // asn1js matches some fields by position and ignores a wrong tag, so the envelope's tags are
    // checked here; inside tbsResponseData the signature covers every byte.
    checkEnvelopeTags(body);
    const top = readTlv(inner, 0);
    expectTag(top.tag, 0x30, 'BasicOCSPResponse');
    const [tbs, alg, sig, wrapper, ...rest] = children(inner, top);
    if (!tbs || !alg || !sig || rest.length) throw new DerError('BasicOCSPResponse has the wrong number of fields');
    expectTag(tbs.tag, 0x30, 'tbsResponseData');
    expectTag(alg.tag, 0x30, 'signatureAlgorithm');
    expectTag(sig.tag, 0x03, 'signature');
    if (inner[sig.contentStart] !== 0) return fail('Malformed', 'signature BIT STRING has unused bits');
    const certs: Uint8Array[] = [];
    if (wrapper) {
      expectTag(wrapper.tag, 0xa0, 'certs');
      const seqs = children(inner, wrapper);
      if (seqs.length !== 1) throw new DerError('certs must hold one SEQUENCE');
      expectTag(seqs[0]!.tag, 0x30, 'certs SEQUENCE');
      for (const c of children(inner, seqs[0]!)) certs.push(inner.subarray(c.start, c.end));
    }
    return { ok: true, basic, tbs: inner.subarray(tbs.start, tbs.end), signatureAlgorithm: inner.subarray(alg.start, alg.end), certs };
  } catch (e) {
    return fail('Malformed', `BasicOCSPResponse layout: ${e instanceof DerError ? e.message : String(e)}`);
  }
}

function expectTag(got: number, want: number, what: string): void {
  if (got !== want) throw new DerError(`${what} has tag 0x${got.toString(16)}, expected 0x${want.toString(16)}`);
}

/** OCSPResponse ::= SEQUENCE { ENUMERATED, [0] EXPLICIT SEQUENCE { OID, OCTET STRING } } */
function checkEnvelopeTags(body: Uint8Array): void {
  const top = readTlv(body, 0);
  const [status, wrapper, ...rest] = children(body, top);
  if (!status || rest.length) throw new DerError('OCSPResponse has the wrong number of fields');
  expectTag(status.tag, 0x0a, 'responseStatus');
  if (!wrapper) return;
  expectTag(wrapper.tag, 0xa0, 'responseBytes');
  const [rb, ...more] = children(body, wrapper);
  if (!rb || more.length) throw new DerError('responseBytes must hold one SEQUENCE');
  expectTag(rb.tag, 0x30, 'ResponseBytes');
  const [type, octets, ...extra] = children(body, rb);
  if (!type || !octets || extra.length) throw new DerError('ResponseBytes has the wrong number of fields');
  expectTag(type.tag, 0x06, 'responseType');
  expectTag(octets.tag, 0x04, 'response');
}
