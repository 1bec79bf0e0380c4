// Decoding an OCSP response body into its parts, classifying what is not a usable response.
import { AsnConvert } from '@peculiar/asn1-schema';
import { OCSPResponseStatus, ResponseData } from '@peculiar/asn1-ocsp';
import { assertStrictDer, bytesOf, children, contentOf, DerError, equalBytes, oidToString, readTlv } from './der.js';

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
  data: ResponseData;
  /** the exact signed bytes of tbsResponseData */
  tbs: Uint8Array;
  /** DER of the signatureAlgorithm AlgorithmIdentifier */
  signatureAlgorithm: Uint8Array;
  /** the signature BIT STRING value, without the unused-bits byte */
  signature: Uint8Array;
  /** the exact DER of each included certificate */
  certs: Uint8Array[];
  /** responderID as signed: byName is the Name's DER, byKey the key hash */
  responderId: { byName?: Uint8Array; byKey?: Uint8Array };
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
  // The envelope and BasicOCSPResponse are split with the strict DER reader, checking every tag
  // (asn1js matches some fields by position and would let a wrong tag through); the signed
  // ResponseData is then read with the @peculiar/asn1-ocsp schema.
  let env: { status: number; responseType?: Uint8Array; response?: Uint8Array };
  try {
    assertStrictDer(body);
    env = readEnvelope(body);
  } catch (e) {
    return fail('Malformed', `OCSPResponse (${body.length} bytes) is not valid DER: ${(e as Error).message}`);
  }
  if (env.status !== OCSPResponseStatus.successful) {
    const s = STATUS_REASONS[env.status];
    if (!s) return fail('Malformed', `unknown responseStatus ${env.status}`);
    return fail(s.reason, `responder answered ${s.name} (${body.length} bytes): ${s.hint}`);
  }
  if (!env.responseType || !env.response) return fail('Malformed', 'responseStatus successful but no responseBytes');
  if (!equalBytes(env.responseType, BASIC_OID)) return fail('Malformed', `responseType ${oidToString(env.responseType)} is not id-pkix-ocsp-basic`);
  const inner = env.response;
  let parts: Omit<DecodedBasic, 'ok' | 'data'>;
  try {
    assertStrictDer(inner);
    parts = splitBasic(inner);
  } catch (e) {
    return fail('Malformed', `BasicOCSPResponse layout: ${(e as Error).message}`);
  }
  if (parts.signature.length === 0) return fail('Malformed', 'empty signature');
  let data: ResponseData;
  try {
    data = AsnConvert.parse(parts.tbs, ResponseData);
  } catch (e) {
    return fail('Malformed', `tbsResponseData does not parse: ${(e as Error).message}`);
  }
  return { ok: true, data, ...parts };
}

const BASIC_OID = new Uint8Array([0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01]); // 1.3.6.1.5.5.7.48.1.1

function expectTag(got: number, want: number, what: string): void {
  if (got !== want) throw new DerError(`${what} has tag 0x${got.toString(16)}, expected 0x${want.toString(16)}`);
}

/** OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, responseBytes [0] EXPLICIT SEQUENCE { OID, OCTET STRING } OPTIONAL } */
function readEnvelope(body: Uint8Array): { status: number; responseType?: Uint8Array; response?: Uint8Array } {
  const top = readTlv(body, 0);
  const [status, wrapper, ...rest] = children(body, top);
  if (!status || rest.length) throw new DerError('OCSPResponse has the wrong number of fields');
  expectTag(status.tag, 0x0a, 'responseStatus');
  if (status.end - status.contentStart !== 1) throw new DerError('responseStatus is not one byte');
  const code = body[status.contentStart]!;
  if (!wrapper) return { status: code };
  expectTag(wrapper.tag, 0xa0, 'responseBytes');
  const [rb, ...more] = children(body, wrapper);
  if (!rb || more.length) throw new DerError('responseBytes must hold one SEQUENCE');
  expectTag(rb.tag, 0x30, 'ResponseBytes');
  const [type, octets, ...extra] = children(body, rb);
  if (!type || !octets || extra.length) throw new DerError('ResponseBytes has the wrong number of fields');
  expectTag(type.tag, 0x06, 'responseType');
  expectTag(octets.tag, 0x04, 'response');
  return { status: code, responseType: contentOf(body, type), response: contentOf(body, octets) };
}

/** BasicOCSPResponse ::= SEQUENCE { tbsResponseData, signatureAlgorithm, signature BIT STRING, certs [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL } */
function splitBasic(inner: Uint8Array): Omit<DecodedBasic, 'ok' | 'data'> {
  const top = readTlv(inner, 0);
  expectTag(top.tag, 0x30, 'BasicOCSPResponse');
  const [tbs, alg, sig, wrapper, ...rest] = children(inner, top);
  if (!tbs || !alg || !sig || rest.length) throw new DerError('BasicOCSPResponse has the wrong number of fields');
  expectTag(tbs.tag, 0x30, 'tbsResponseData');
  expectTag(alg.tag, 0x30, 'signatureAlgorithm');
  expectTag(sig.tag, 0x03, 'signature');
  if (sig.end === sig.contentStart || inner[sig.contentStart] !== 0) throw new DerError('signature BIT STRING has unused bits');
  const certs: Uint8Array[] = [];
  if (wrapper) {
    expectTag(wrapper.tag, 0xa0, 'certs');
    const seqs = children(inner, wrapper);
    if (seqs.length !== 1) throw new DerError('certs must hold one SEQUENCE');
    expectTag(seqs[0]!.tag, 0x30, 'certs SEQUENCE');
    for (const c of children(inner, seqs[0]!)) certs.push(bytesOf(inner, c));
  }
  // ResponseData ::= SEQUENCE { version [0] EXPLICIT DEFAULT v1, responderID CHOICE { byName [1] Name, byKey [2] KeyHash }, ... }
  const fields = children(inner, tbs);
  const rid = fields[0]?.tag === 0xa0 ? fields[1] : fields[0];
  const responderId: DecodedBasic['responderId'] = {};
  const ridInner = rid ? children(inner, rid) : [];
  if (rid?.tag === 0xa1 && ridInner.length === 1) responderId.byName = bytesOf(inner, ridInner[0]!);
  else if (rid?.tag === 0xa2 && ridInner.length === 1 && ridInner[0]!.tag === 0x04) responderId.byKey = contentOf(inner, ridInner[0]!);
  else throw new DerError('responderID is neither byName [1] nor byKey [2]');
  return {
    tbs: bytesOf(inner, tbs),
    signatureAlgorithm: bytesOf(inner, alg),
    signature: inner.subarray(sig.contentStart + 1, sig.end),
    certs,
    responderId,
  };
}
