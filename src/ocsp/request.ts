// OCSP requests: building them (staple side) and reading them (responder side).
import './reflect-polyfill.js';
import { AsnConvert } from '@peculiar/asn1-schema';
import { OCSPRequest, Request, TBSRequest } from '@peculiar/asn1-ocsp';
import type { X509Certificate } from '@peculiar/x509';
import { certIdFor, fromAsn1CertId, toAsn1CertId, type CertIdInfo } from './cert-id.js';
import { assertStrictDer } from './der.js';
import { OcspInputError } from './errors.js';
import { findNonce, newNonce, nonceExtension } from './nonce.js';
import type { HashAlgorithm } from './oids.js';

export { issuerHashes } from './cert-id.js';
export type { CertIdInfo } from './cert-id.js';

export interface OcspRequestInfo {
  der: Uint8Array;
  certId: CertIdInfo;
  nonce?: Uint8Array;
}

/** A one-certificate request. SHA-1 CertID by default (RFC 5019: what responders must support). */
export function buildOcspRequest(o: {
  cert: X509Certificate;
  issuer: X509Certificate;
  hashAlgorithm?: HashAlgorithm;
  nonce?: boolean | Uint8Array;
}): OcspRequestInfo {
  const certId = certIdFor(o.cert, o.issuer, o.hashAlgorithm ?? 'SHA-1');
  const nonce = o.nonce === true ? newNonce() : o.nonce instanceof Uint8Array ? o.nonce : undefined;
  const tbs = new TBSRequest({ requestList: [new Request({ reqCert: toAsn1CertId(certId) })] });
  if (nonce) tbs.requestExtensions = [nonceExtension(nonce)];
  const der = new Uint8Array(AsnConvert.serialize(new OCSPRequest({ tbsRequest: tbs })));
  return nonce ? { der, certId, nonce } : { der, certId };
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
  let req: OCSPRequest;
  try {
    assertStrictDer(der);
    req = AsnConvert.parse(der, OCSPRequest);
  } catch (e) {
    throw new OcspInputError(`OCSP request (${der.length} bytes) does not parse: ${(e as Error).message}`);
  }
  const list = req.tbsRequest.requestList;
  if (list.length === 0) throw new OcspInputError('OCSP request lists no certificates');
  const certIds = list.map((r, i) => {
    const id = fromAsn1CertId(r.reqCert);
    if (!id) throw new OcspInputError(`OCSP request #${i + 1} uses unsupported CertID hash ${r.reqCert.hashAlgorithm.algorithm}`);
    return id;
  });
  const nonce = findNonce(req.tbsRequest.requestExtensions);
  return nonce ? { certIds, nonce } : { certIds };
}
