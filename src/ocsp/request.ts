// OCSP requests: building them (staple side) and reading them (responder side).
import 'reflect-metadata';
import { certIdFor, fromAsn1CertId, readCertId, type CertIdFields, type CertIdInfo } from './cert-id.js';
import { readCertificate, type CertificateView } from './cert-der.js';
import { assertStrictTree, bytesOf, DerError, encodeOid, encodeTlv, readTlv, type Tlv } from './der.js';
import { checkBitString, DerFields, explicitAny, explicitInner, smallInteger } from './der-fields.js';
import { OcspInputError } from './errors.js';
import { findNonce, newNonce } from './nonce.js';
import { HASH_OIDS, OID_OCSP_NONCE, type HashAlgorithm } from './oids.js';
import { readAlgorithmIdentifier, readExtensions, type Extension } from './x509-der.js';

export { issuerHashes } from './cert-id.js';
export type { CertIdInfo } from './cert-id.js';

export interface OcspRequestInfo {
  der: Uint8Array;
  certId: CertIdInfo;
  nonce?: Uint8Array;
}

/** A one-certificate request. SHA-1 CertID by default (RFC 5019: what responders must support). */
export function buildOcspRequest(o: {
  cert: CertificateView;
  issuer: CertificateView;
  hashAlgorithm?: HashAlgorithm;
  nonce?: boolean | Uint8Array;
}): OcspRequestInfo {
  const certId = certIdFor(o.cert, o.issuer, o.hashAlgorithm ?? 'SHA-1');
  const nonce = o.nonce === true ? newNonce() : o.nonce instanceof Uint8Array ? o.nonce : undefined;
  const der = encodeOcspRequest(certId, nonce);
  return nonce ? { der, certId, nonce } : { der, certId };
}

// The hash AlgorithmIdentifiers a CertID names, with NULL parameters as OpenSSL sends them (RFC 5019).
const HASH_ALGORITHM_DER = new Map(
  Object.entries(HASH_OIDS).map(([name, oid]) => [name, seq(encodeOid(oid), new Uint8Array([0x05, 0x00]))]),
);
const NONCE_OID_DER = encodeOid(OID_OCSP_NONCE);

/**
 * OCSPRequest { tbsRequest { requestList { Request { reqCert } } [, requestExtensions [2] { nonce }] } }
 * written directly as DER: the one shape this side sends, without a schema library's object tree
 * (a quarter of a refresh's own CPU went to encoding it).
 */
function encodeOcspRequest(id: CertIdInfo, nonce: Uint8Array | undefined): Uint8Array {
  const certId = seq(
    HASH_ALGORITHM_DER.get(id.hashAlgorithm)!,
    encodeTlv(0x04, id.issuerNameHash),
    encodeTlv(0x04, id.issuerKeyHash),
    encodeTlv(0x02, id.serialNumber),
  );
  const requestList = seq(seq(certId));
  // Extension { extnID, extnValue OCTET STRING { OCTET STRING nonce } }; critical FALSE is the default, so absent.
  const extensions = nonce && encodeTlv(0xa2, seq(seq(NONCE_OID_DER, encodeTlv(0x04, encodeTlv(0x04, nonce)))));
  return seq(extensions ? seq(requestList, extensions) : seq(requestList));
}

function seq(...parts: Uint8Array[]): Uint8Array {
  return encodeTlv(0x30, Buffer.concat(parts));
}

/**
 * RFC 6960 A.1 GET URL: the responder URL, one '/', then the URL-encoded base64 of the DER.
 * '/', '+' and '=' are percent-encoded so that no proxy can merge or reinterpret them.
 */
export function ocspGetUrl(responderUrl: string, requestDer: Uint8Array): string {
  const b64 = Buffer.from(requestDer).toString('base64');
  const base = responderUrl.endsWith('/') ? responderUrl : `${responderUrl}/`;
  return base + encodeURIComponent(b64);
}

/** Reads a request (responder side). Throws OcspInputError naming what is wrong. */
export function parseOcspRequest(der: Uint8Array): { certIds: CertIdInfo[]; nonce?: Uint8Array } {
  let read: { list: CertIdFields[]; extensions?: Extension[] };
  try {
    read = readRequest(der);
  } catch (e) {
    throw new OcspInputError(`OCSP request (${der.length} bytes) does not parse: ${(e as Error).message}`);
  }
  if (read.list.length === 0) throw new OcspInputError('OCSP request lists no certificates');
  const certIds = read.list.map((r, i) => {
    const id = fromAsn1CertId(r);
    if (!id) throw new OcspInputError(`OCSP request #${i + 1} uses unsupported CertID hash ${r.hashAlgorithm.algorithm}`);
    return id;
  });
  const nonce = findNonce(read.extensions);
  return nonce ? { certIds, nonce } : { certIds };
}

/**
 * OCSPRequest ::= SEQUENCE { tbsRequest TBSRequest, optionalSignature [0] EXPLICIT Signature OPTIONAL }
 * TBSRequest ::= SEQUENCE { version [0] EXPLICIT INTEGER DEFAULT v1, requestorName [1] EXPLICIT GeneralName OPTIONAL,
 *   requestList SEQUENCE OF Request, requestExtensions [2] EXPLICIT Extensions OPTIONAL }
 * Request ::= SEQUENCE { reqCert CertID, singleRequestExtensions [0] EXPLICIT Extensions OPTIONAL }
 */
function readRequest(der: Uint8Array): { list: CertIdFields[]; extensions?: Extension[] } {
  const top = readTlv(der, 0);
  if (top.end !== der.length) throw new DerError(`${der.length - top.end} trailing bytes after the outer element`);
  if (top.tag !== 0x30) throw new DerError(`OCSPRequest has tag 0x${top.tag.toString(16)}, expected 0x30`);
  const req = new DerFields(der, top, 'OCSPRequest');
  const tbs = new DerFields(der, req.take(0x30, 'tbsRequest'), 'TBSRequest');
  const signature = req.optional(0xa0);
  req.finish();
  // Nobody checks request signatures here (RFC 5019 clients do not sign), but the bytes must still be DER.
  if (signature) readSignature(der, explicitInner(der, signature, 0x30, 'optionalSignature'));
  const version = tbs.optional(0xa0);
  if (version) smallInteger(der, explicitInner(der, version, 0x02, 'version'));
  const requestor = tbs.optional(0xa1);
  if (requestor) explicitAny(der, requestor, 'requestorName');
  const requests = new DerFields(der, tbs.take(0x30, 'requestList'), 'requestList');
  const ext = tbs.optional(0xa2);
  tbs.finish();
  const list: CertIdFields[] = [];
  while (requests.more) {
    const r = new DerFields(der, requests.take(0x30, 'Request'), 'Request');
    list.push(readCertId(der, r.take(0x30, 'reqCert')));
    const single = r.optional(0xa0);
    r.finish();
    if (single) readExtensions(der, explicitInner(der, single, 0x30, 'singleRequestExtensions'), 'singleRequestExtensions');
  }
  if (!ext) return { list };
  return { list, extensions: readExtensions(der, explicitInner(der, ext, 0x30, 'requestExtensions'), 'requestExtensions') };
}

/** Signature ::= SEQUENCE { signatureAlgorithm AlgorithmIdentifier, signature BIT STRING, certs [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL } */
function readSignature(der: Uint8Array, t: Tlv): void {
  const f = new DerFields(der, t, 'Signature');
  readAlgorithmIdentifier(der, f.take(0x30, 'signatureAlgorithm'), 'signatureAlgorithm');
  checkBitString(der, f.take(0x03, 'signature'));
  const certs = f.optional(0xa0);
  f.finish();
  if (!certs) return;
  const list = new DerFields(der, explicitInner(der, certs, 0x30, 'certs'), 'certs');
  while (list.more) {
    const c = list.take(0x30, 'Certificate');
    assertStrictTree(der, c);
    readCertificate(bytesOf(der, c));
  }
}
