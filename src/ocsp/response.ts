// Decoding an OCSP response body into its parts (RFC 6960 4.2.1), classifying what is not a usable response.
import { OCSPResponseStatus } from '@peculiar/asn1-ocsp';
import { readCertId, type CertIdFields } from './cert-id.js';
import { assertStrictTree, bytesOf, contentOf, DerError, readTlv, type Tlv } from './der.js';
import { bitStringBytes, checkNull, DerFields, explicitInner, oidValue, smallInteger } from './der-fields.js';
import { generalizedTime } from './der-time.js';
import { includedCert, type IncludedCert } from './included-cert.js';
import { OID_OCSP_BASIC } from './oids.js';
import { checkName, readExtensions, type Extension } from './x509-der.js';

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
  [OCSPResponseStatus.malformedRequest]: {
    name: 'malformedRequest',
    reason: 'MalformedRequest',
    hint: 'the responder could not read our request',
  },
  [OCSPResponseStatus.internalError]: { name: 'internalError', reason: 'InternalError', hint: 'the responder failed internally' },
  [OCSPResponseStatus.tryLater]: { name: 'tryLater', reason: 'TryLater', hint: 'the responder is busy or not ready; retry later' },
  [OCSPResponseStatus.sigRequired]: { name: 'sigRequired', reason: 'SigRequired', hint: 'the responder wants signed requests' },
  [OCSPResponseStatus.unauthorized]: {
    name: 'unauthorized',
    reason: 'Unauthorized',
    hint: 'the responder does not know this certificate (not issued by it, or its data is behind)',
  },
};

export interface RevokedInfo {
  revocationTime: Date;
  /** the CRLReason code */
  revocationReason?: number;
}

/** CertStatus ::= CHOICE { good [0] IMPLICIT NULL, revoked [1] IMPLICIT RevokedInfo, unknown [2] IMPLICIT NULL }: exactly one is set. */
export interface CertStatusField {
  good?: null;
  revoked?: RevokedInfo;
  unknown?: null;
}

export interface SingleResponse {
  certID: CertIdFields;
  certStatus: CertStatusField;
  thisUpdate: Date;
  nextUpdate?: Date;
}

export interface ResponseData {
  version: number;
  producedAt: Date;
  responses: SingleResponse[];
  responseExtensions?: Extension[];
}

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
  // eslint-disable-next-line no-control-regex -- tab, LF and CR are what "printable text" allows here
  if (/^[\x09\x0a\x0d\x20-\x7e]+$/.test(text)) return `looks like text (${size}): ${JSON.stringify(text.slice(0, 40))}`;
  return `${size}, starting ${head.subarray(0, 8).toString('hex')}`;
}

/** An entry of BasicOCSPResponse.certs: its bytes, and the certificate when they are one. */
export interface Included {
  raw: Uint8Array;
  cert: IncludedCert | undefined;
}

/** Reads a body down to the fields of its ResponseData, or says why it cannot be a response. Never throws. */
export function decodeResponse(body: Uint8Array): DecodedBasic | Failure {
  const r = readResponse(body);
  if (!r.ok) return r;
  const { included: _, ...decoded } = r;
  return decoded;
}

/** decodeResponse, and the included certificates as validation sees them: looked up once, while checking they are DER. */
export function readResponse(body: Uint8Array): (DecodedBasic & { included: Included[] }) | Failure {
  if (body.length === 0) return fail('Truncated', 'empty body (0 bytes)');
  if (body[0] !== 0x30) return fail('NotOcsp', `not an OCSP response: ${describeBody(body)}`);
  let top: Tlv;
  try {
    top = readTlv(body, 0);
  } catch (e) {
    return fail('Truncated', `${body.length} bytes, cut short: ${(e as Error).message}`);
  }
  // Every layer is read field by field with its exact tag (der-fields.ts); what is not interpreted
  // (names, algorithm parameters) is still checked to be DER all the way down.
  let env: Envelope;
  try {
    if (top.end !== body.length) throw new DerError(`${body.length - top.end} trailing bytes after the outer element`);
    env = readEnvelope(body, top);
  } catch (e) {
    return fail('Malformed', `OCSPResponse (${body.length} bytes) is not valid DER: ${(e as Error).message}`);
  }
  // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-comparison -- the raw DER integer, named by the enum
  if (env.status !== OCSPResponseStatus.successful) {
    const s = STATUS_REASONS[env.status];
    if (!s) return fail('Malformed', `unknown responseStatus ${env.status}`);
    return fail(s.reason, `responder answered ${s.name} (${body.length} bytes): ${s.hint}`);
  }
  if (!env.responseType || !env.response) return fail('Malformed', 'responseStatus successful but no responseBytes');
  let basic: ReturnType<typeof readBasic>;
  try {
    const type = oidValue(body, env.responseType);
    if (type !== OID_OCSP_BASIC) return fail('Malformed', `responseType ${type} is not id-pkix-ocsp-basic`);
    // The OCTET STRING holds exactly one BasicOCSPResponse, nothing after it.
    basic = readBasic(body, explicitInner(body, env.response, 0x30, 'BasicOCSPResponse'));
  } catch (e) {
    return fail('Malformed', `BasicOCSPResponse layout: ${(e as Error).message}`);
  }
  if (basic.signature.length === 0) return fail('Malformed', 'empty signature');
  let read: Pick<DecodedBasic, 'data' | 'responderId'>;
  try {
    read = readResponseData(body, basic.tbsT);
  } catch (e) {
    return fail('Malformed', `tbsResponseData does not parse: ${(e as Error).message}`);
  }
  const { tbs, signatureAlgorithm, signature, certs, included } = basic;
  return { ok: true, data: read.data, tbs, signatureAlgorithm, signature, certs, responderId: read.responderId, included };
}

interface Envelope {
  status: number;
  responseType?: Tlv;
  response?: Tlv;
}

/**
 * OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, responseBytes [0] EXPLICIT SEQUENCE { responseType OID, response OCTET STRING } OPTIONAL }.
 * Only the layout: an error status is reported whatever the responseBytes hold.
 */
function readEnvelope(body: Uint8Array, top: Tlv): Envelope {
  const f = new DerFields(body, top, 'OCSPResponse');
  const statusT = f.take(0x0a, 'responseStatus');
  if (statusT.end - statusT.contentStart !== 1) throw new DerError('responseStatus is not one byte');
  const status = body[statusT.contentStart]!;
  const wrapper = f.optional(0xa0);
  f.finish();
  if (!wrapper) return { status };
  const rb = new DerFields(body, explicitInner(body, wrapper, 0x30, 'responseBytes'), 'ResponseBytes');
  const responseType = rb.take(0x06, 'responseType');
  const response = rb.take(0x04, 'response');
  rb.finish();
  return { status, responseType, response };
}

/** BasicOCSPResponse ::= SEQUENCE { tbsResponseData ResponseData, signatureAlgorithm AlgorithmIdentifier, signature BIT STRING, certs [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL } */
function readBasic(buf: Uint8Array, t: Tlv): Omit<DecodedBasic, 'ok' | 'data' | 'responderId'> & { tbsT: Tlv; included: Included[] } {
  const f = new DerFields(buf, t, 'BasicOCSPResponse');
  const tbsT = f.take(0x30, 'tbsResponseData');
  // Left whole for signature.ts, which says which algorithms are supported; only its DER form is checked here.
  const alg = f.take(0x30, 'signatureAlgorithm');
  assertStrictTree(buf, alg);
  const signature = bitStringBytes(buf, f.take(0x03, 'signature'));
  const wrapper = f.optional(0xa0);
  f.finish();
  const certs: Uint8Array[] = [];
  const included: Included[] = [];
  if (wrapper) {
    const list = new DerFields(buf, explicitInner(buf, wrapper, 0x30, 'certs'), 'certs');
    while (list.more) {
      const raw = bytesOf(buf, list.next('Certificate'));
      // Whether it is a certificate is validation's question (asked after the signature); whether it
      // is DER is this layer's. Cached by content: one responder sends the same certificate every time.
      const entry = includedCert(raw);
      if (!entry.strictDer) throw new DerError(`included certificate #${certs.length + 1} is not DER`);
      certs.push(raw);
      included.push({ raw, cert: entry.cert });
    }
  }
  return { tbsT, tbs: bytesOf(buf, tbsT), signatureAlgorithm: bytesOf(buf, alg), signature, certs, included };
}

/**
 * ResponseData ::= SEQUENCE { version [0] EXPLICIT INTEGER DEFAULT v1, responderID ResponderID, producedAt GeneralizedTime,
 *   responses SEQUENCE OF SingleResponse, responseExtensions [1] EXPLICIT Extensions OPTIONAL }
 */
function readResponseData(buf: Uint8Array, t: Tlv): Pick<DecodedBasic, 'data' | 'responderId'> {
  const f = new DerFields(buf, t, 'ResponseData');
  const v = f.optional(0xa0);
  const version = v ? smallInteger(buf, explicitInner(buf, v, 0x02, 'version')) : 0;
  const responderId = readResponderId(buf, f.next('responderID'));
  const producedAt = generalizedTime(buf, f.take(0x18, 'producedAt'));
  const list = new DerFields(buf, f.take(0x30, 'responses'), 'responses');
  const responses: SingleResponse[] = [];
  while (list.more) responses.push(readSingle(buf, list.take(0x30, 'SingleResponse')));
  const ext = f.optional(0xa1);
  f.finish();
  const data: ResponseData = { version, producedAt, responses };
  if (ext) data.responseExtensions = readExtensions(buf, explicitInner(buf, ext, 0x30, 'responseExtensions'), 'responseExtensions');
  return { data, responderId };
}

/** ResponderID ::= CHOICE { byName [1] EXPLICIT Name, byKey [2] EXPLICIT KeyHash (OCTET STRING) } */
function readResponderId(buf: Uint8Array, t: Tlv): DecodedBasic['responderId'] {
  if (t.tag === 0xa1) {
    const name = explicitInner(buf, t, 0x30, 'responderID byName');
    checkName(buf, name, 'responderID byName');
    return { byName: bytesOf(buf, name) };
  }
  if (t.tag === 0xa2) return { byKey: contentOf(buf, explicitInner(buf, t, 0x04, 'responderID byKey')) };
  throw new DerError('responderID is neither byName [1] nor byKey [2]');
}

/**
 * SingleResponse ::= SEQUENCE { certID CertID, certStatus CertStatus, thisUpdate GeneralizedTime,
 *   nextUpdate [0] EXPLICIT GeneralizedTime OPTIONAL, singleExtensions [1] EXPLICIT Extensions OPTIONAL }
 */
function readSingle(buf: Uint8Array, t: Tlv): SingleResponse {
  const f = new DerFields(buf, t, 'SingleResponse');
  const certID = readCertId(buf, f.take(0x30, 'certID'));
  const certStatus = readCertStatus(buf, f.next('certStatus'));
  const thisUpdate = generalizedTime(buf, f.take(0x18, 'thisUpdate'));
  const next = f.optional(0xa0);
  const ext = f.optional(0xa1);
  f.finish();
  // Nothing reads singleExtensions, but they are signed bytes like the rest and must be DER.
  if (ext) readExtensions(buf, explicitInner(buf, ext, 0x30, 'singleExtensions'), 'singleExtensions');
  const single: SingleResponse = { certID, certStatus, thisUpdate };
  if (next) single.nextUpdate = generalizedTime(buf, explicitInner(buf, next, 0x18, 'nextUpdate'));
  return single;
}

/** RevokedInfo ::= SEQUENCE { revocationTime GeneralizedTime, revocationReason [0] EXPLICIT CRLReason (ENUMERATED) OPTIONAL } */
function readCertStatus(buf: Uint8Array, t: Tlv): CertStatusField {
  if (t.tag === 0x80) {
    checkNull(t);
    return { good: null };
  }
  if (t.tag === 0x82) {
    checkNull(t);
    return { unknown: null };
  }
  if (t.tag !== 0xa1) throw new DerError(`certStatus has tag 0x${t.tag.toString(16)}, none of good [0], revoked [1], unknown [2]`);
  const f = new DerFields(buf, t, 'RevokedInfo');
  const revocationTime = generalizedTime(buf, f.take(0x18, 'revocationTime'));
  const reason = f.optional(0xa0);
  f.finish();
  const revoked: RevokedInfo = { revocationTime };
  if (reason) revoked.revocationReason = smallInteger(buf, explicitInner(buf, reason, 0x0a, 'revocationReason'));
  return { revoked };
}
