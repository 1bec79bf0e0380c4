// Building and signing BasicOCSPResponses (responder pools), through a signer interface that an
// HSM-backed key can implement as well as a software key.
import 'reflect-metadata';
import { createHash, createPublicKey, KeyObject, sign as nodeSign, constants, type webcrypto } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate, CRLReason, Name } from '@peculiar/asn1-x509';
import {
  BasicOCSPResponse,
  CertStatus,
  KeyHash,
  OCSPResponse,
  OCSPResponseStatus,
  ResponderID,
  ResponseBytes,
  ResponseData,
  RevokedInfo,
  SingleResponse,
} from '@peculiar/asn1-ocsp';
import type { X509Certificate } from '@peculiar/x509';
import { certDer } from './cert-der.js';
import { toAsn1CertId, type CertIdInfo } from './cert-id.js';
import { equalBytes, readTlv } from './der.js';
import { nonceExtension } from './nonce.js';
import { CRL_REASON_BY_CODE, OID_OCSP_BASIC, OID_RSASSA_PSS, OID_MGF1, HASH_OIDS, OID_ED25519 } from './oids.js';
import type { ResponseStatusName } from './response.js';

export type SignatureAlgorithmName = 'ECDSA-SHA256' | 'ECDSA-SHA384' | 'RSA-SHA256' | 'RSA-PSS-SHA256' | 'Ed25519';

export interface OcspSigner {
  readonly algorithm: SignatureAlgorithmName;
  /** SPKI DER of the signing key, when known: lets signOcspResponse refuse a key that does not match the certificate */
  readonly publicKeyDer?: Uint8Array;
  /** the signature as it goes in the BIT STRING (ECDSA: DER Ecdsa-Sig-Value) */
  sign(tbs: Uint8Array): Promise<Uint8Array>;
}

/** A signer over a node:crypto private key (KeyObject or WebCrypto CryptoKey). */
export function softwareSigner(key: webcrypto.CryptoKey | KeyObject): OcspSigner {
  const k = key instanceof KeyObject ? key : KeyObject.from(key);
  if (k.type !== 'private') throw new Error(`softwareSigner needs a private key, got a ${k.type} key`);
  const publicKeyDer = new Uint8Array(createPublicKey(k).export({ format: 'der', type: 'spki' }));
  const type = k.asymmetricKeyType;
  const curve = k.asymmetricKeyDetails?.namedCurve;
  if (type === 'ec' && (curve === 'prime256v1' || curve === 'P-256')) {
    return {
      algorithm: 'ECDSA-SHA256',
      publicKeyDer,
      sign: async (d) => new Uint8Array(nodeSign('sha256', d, { key: k, dsaEncoding: 'der' })),
    };
  }
  if (type === 'ec' && (curve === 'secp384r1' || curve === 'P-384')) {
    return {
      algorithm: 'ECDSA-SHA384',
      publicKeyDer,
      sign: async (d) => new Uint8Array(nodeSign('sha384', d, { key: k, dsaEncoding: 'der' })),
    };
  }
  if (type === 'rsa') {
    return {
      algorithm: 'RSA-SHA256',
      publicKeyDer,
      sign: async (d) => new Uint8Array(nodeSign('sha256', d, { key: k, padding: constants.RSA_PKCS1_PADDING })),
    };
  }
  if (type === 'rsa-pss') {
    return {
      algorithm: 'RSA-PSS-SHA256',
      publicKeyDer,
      sign: async (d) => new Uint8Array(nodeSign('sha256', d, { key: k, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })),
    };
  }
  if (type === 'ed25519') return { algorithm: 'Ed25519', publicKeyDer, sign: async (d) => new Uint8Array(nodeSign(null, d, k)) };
  throw new Error(`unsupported signing key: ${type ?? 'unknown'}${curve ? ` ${curve}` : ''}`);
}

/** RSA-PSS over an rsa (not rsa-pss) key: same key material, PSS padding. */
export function rsaPssSigner(key: webcrypto.CryptoKey | KeyObject): OcspSigner {
  const base = softwareSigner(key);
  if (base.algorithm !== 'RSA-SHA256') throw new Error('rsaPssSigner needs an RSA key');
  const k = key instanceof KeyObject ? key : KeyObject.from(key);
  return {
    algorithm: 'RSA-PSS-SHA256',
    ...(base.publicKeyDer ? { publicKeyDer: base.publicKeyDer } : {}),
    sign: async (d) => new Uint8Array(nodeSign('sha256', d, { key: k, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })),
  };
}

const NULL = new Uint8Array([0x05, 0x00]).buffer;

/** The AlgorithmIdentifier of a signature algorithm, as responses and certificates carry it. */
export function signatureAlgorithmIdentifier(alg: SignatureAlgorithmName): AlgorithmIdentifier {
  switch (alg) {
    case 'ECDSA-SHA256':
      return new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' });
    case 'ECDSA-SHA384':
      return new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.3' });
    case 'RSA-SHA256':
      return new AlgorithmIdentifier({ algorithm: '1.2.840.113549.1.1.11', parameters: NULL });
    case 'Ed25519':
      return new AlgorithmIdentifier({ algorithm: OID_ED25519 });
    case 'RSA-PSS-SHA256':
      return new AlgorithmIdentifier({ algorithm: OID_RSASSA_PSS, parameters: PSS_SHA256_PARAMS });
  }
}

// RSASSA-PSS-params { [0] sha256, [1] mgf1(sha256), [2] saltLength 32 }, written out once.
const PSS_SHA256_PARAMS = (() => {
  const sha256 = new Uint8Array(AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: HASH_OIDS['SHA-256'], parameters: NULL })));
  const mgf1 = new Uint8Array(AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: OID_MGF1, parameters: sha256.slice().buffer })));
  const wrap = (tag: number, c: Uint8Array): number[] => [tag, c.length, ...c];
  const body = [...wrap(0xa0, sha256), ...wrap(0xa1, mgf1), ...wrap(0xa2, new Uint8Array([0x02, 0x01, 0x20]))];
  return new Uint8Array([0x30, body.length, ...body]).buffer;
})();

export type ResponseEntryStatus = { kind: 'good' } | { kind: 'revoked'; revocationTime: Date; reason?: string } | { kind: 'unknown' };

export interface ResponseEntry {
  certId: CertIdInfo;
  status: ResponseEntryStatus;
  thisUpdate: Date;
  nextUpdate?: Date;
}

/** GeneralizedTime must not carry fractional seconds here (RFC 5280 4.1.2.5.2 rules, which RFC 6960 clients apply). */
function wholeSeconds(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

function certStatus(s: ResponseEntryStatus): CertStatus {
  if (s.kind === 'good') return new CertStatus({ good: null });
  if (s.kind === 'unknown') return new CertStatus({ unknown: null });
  const info = new RevokedInfo({ revocationTime: wholeSeconds(s.revocationTime) });
  if (s.reason !== undefined) {
    const code = CRL_REASON_BY_CODE.indexOf(s.reason);
    if (code < 0) throw new Error(`unknown revocation reason "${s.reason}"; one of ${CRL_REASON_BY_CODE.filter(Boolean).join(', ')}`);
    info.revocationReason = new CRLReason(code);
  }
  return new CertStatus({ revoked: info });
}

export interface SignOptions {
  /** the CA whose certificates the entries are about */
  issuer: X509Certificate;
  signer: OcspSigner;
  /** a delegated responder certificate (issued by `issuer`); it is included in the response */
  responderCert?: X509Certificate;
  /** responderID form; byName by default */
  responderIdBy?: 'name' | 'keyHash';
  entries: ResponseEntry[];
  producedAt: Date;
  nonce?: Uint8Array;
}

/** A signed, DER-encoded OCSPResponse (status successful). */
export async function signOcspResponse(o: SignOptions): Promise<Uint8Array> {
  if (o.entries.length === 0) throw new Error('signOcspResponse needs at least one entry');
  const signerCert = certDer(o.responderCert ?? o.issuer);
  if (o.signer.publicKeyDer && !equalBytes(o.signer.publicKeyDer, signerCert.spki)) {
    throw new Error(`the signing key is not the key of ${(o.responderCert ?? o.issuer).subject}`);
  }
  const responderID =
    o.responderIdBy === 'keyHash'
      ? new ResponderID({ byKey: new KeyHash(new Uint8Array(createHash('sha1').update(signerCert.publicKeyBits).digest())) })
      : new ResponderID({ byName: AsnConvert.parse(signerCert.subjectName, Name) });
  const data = new ResponseData({
    responderID,
    producedAt: wholeSeconds(o.producedAt),
    responses: o.entries.map((e) => {
      const s = new SingleResponse({
        certID: toAsn1CertId(e.certId),
        certStatus: certStatus(e.status),
        thisUpdate: wholeSeconds(e.thisUpdate),
      });
      if (e.nextUpdate) s.nextUpdate = wholeSeconds(e.nextUpdate);
      return s;
    }),
  });
  if (o.nonce) data.responseExtensions = [nonceExtension(o.nonce)];
  const tbs = new Uint8Array(AsnConvert.serialize(data));
  const signature = await o.signer.sign(tbs);
  const basic = new BasicOCSPResponse({
    tbsResponseData: data,
    signatureAlgorithm: signatureAlgorithmIdentifier(o.signer.algorithm),
    signature: signature.slice().buffer,
  });
  if (o.responderCert) basic.certs = [AsnConvert.parse(o.responderCert.rawData, Certificate)];
  const basicDer = new Uint8Array(AsnConvert.serialize(basic));
  const embedded = readTlv(basicDer, readTlv(basicDer, 0).contentStart);
  if (!equalBytes(basicDer.subarray(embedded.start, embedded.end), tbs)) {
    // The signature covers `tbs`; re-encoding inside BasicOCSPResponse must not change a byte.
    throw new Error('internal: tbsResponseData re-encoded differently');
  }
  return new Uint8Array(
    AsnConvert.serialize(
      new OCSPResponse({
        responseStatus: OCSPResponseStatus.successful,
        responseBytes: new ResponseBytes({ responseType: OID_OCSP_BASIC, response: new OctetString(basicDer) }),
      }),
    ),
  );
}

const ERROR_STATUS: Record<Exclude<ResponseStatusName, 'successful'>, OCSPResponseStatus> = {
  malformedRequest: OCSPResponseStatus.malformedRequest,
  internalError: OCSPResponseStatus.internalError,
  tryLater: OCSPResponseStatus.tryLater,
  sigRequired: OCSPResponseStatus.sigRequired,
  unauthorized: OCSPResponseStatus.unauthorized,
};

/** An unsigned error response (RFC 6960 4.2.1): just the status. */
export function errorResponse(status: Exclude<ResponseStatusName, 'successful'>): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(new OCSPResponse({ responseStatus: ERROR_STATUS[status] })));
}
