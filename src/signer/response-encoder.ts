// The DER of a one-certificate OCSP response, assembled from precomputed pieces.
//
// Why not signOcspResponse (src/ocsp/sign.ts)? It builds the response through @peculiar/asn1-schema
// objects, about 280 µs of main-thread time per response on this hardware, while SoftHSM signs a
// P-256 signature in ~130 µs of CPU: the encoder would cost more than the HSM and cap the pipeline
// near 20% of the backend. For a pre-signing responder pool everything but the serial, the status
// and the times is the same in every response of an issuer, so it is encoded once here and each
// response is a few byte copies (a few µs). The output is byte-identical to signOcspResponse for
// the same input (test/signer/response-encoder.test.ts checks this with a deterministic key).
import '../ocsp/reflect-polyfill.js';
import { createHash } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import type { X509Certificate } from '@peculiar/x509';
import { issuerHashes, type ResponseEntryStatus, type SignatureAlgorithmName } from '../ocsp/index.js';
import { certDer } from '../ocsp/cert-der.js';
import { CRL_REASONS, HASH_OIDS, type HashAlgorithm } from '../ocsp/oids.js';
import { signatureAlgorithmDer } from './algorithms.js';

export interface ResponseEncoderOptions {
  /** the CA the responses are about */
  issuer: X509Certificate;
  /** the algorithm of the key that signs (the OcspSigner's) */
  algorithm: SignatureAlgorithmName;
  /** a delegated responder certificate: named in responderID and included in the response */
  responderCert?: X509Certificate;
  /** responderID form; byName by default, as signOcspResponse */
  responderIdBy?: 'name' | 'keyHash';
  /** CertID hash; SHA-1 by default (RFC 5019 clients send SHA-1 CertIDs) */
  certIdHash?: HashAlgorithm;
}

const NULL = new Uint8Array([0x05, 0x00]).buffer;
// OCSPResponse prefix pieces: responseStatus successful, and the id-pkix-ocsp-basic OID.
const STATUS_SUCCESSFUL = new Uint8Array([0x0a, 0x01, 0x00]);
const OID_BASIC = new Uint8Array([0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01]);
const GOOD = new Uint8Array([0x80, 0x00]);
const UNKNOWN = new Uint8Array([0x82, 0x00]);
const ZERO = new Uint8Array([0]);

function lengthBytes(n: number): number[] {
  if (n < 0x80) return [n];
  if (n < 0x100) return [0x81, n];
  if (n < 0x10000) return [0x82, n >> 8, n & 0xff];
  return [0x83, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
}

/**
 * One TLV around the concatenation of `parts`. Intermediate pieces come from Buffer's shared slab
 * (allocUnsafe): thousands of small ArrayBuffers per second make every scavenge slow, and a
 * scavenge is an event-loop pause. Only the final response gets its own buffer (`own`), so a
 * stored response never pins a slab full of garbage.
 */
function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  return tlvInto(false, tag, parts);
}

function tlvInto(own: boolean, tag: number, parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const head = lengthBytes(len);
  const size = 1 + head.length + len;
  const out = own ? new Uint8Array(size) : Buffer.allocUnsafe(size);
  out[0] = tag;
  out.set(head, 1);
  let o = 1 + head.length;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** GeneralizedTime YYYYMMDDHHMMSSZ, whole seconds (what signOcspResponse writes). */
function generalizedTime(ms: number): Uint8Array {
  const d = new Date(ms);
  const p2 = (n: number) => (n < 10 ? `0${n}` : String(n));
  const s = `${d.getUTCFullYear()}${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())}${p2(d.getUTCHours())}${p2(d.getUTCMinutes())}${p2(d.getUTCSeconds())}Z`;
  const out = Buffer.allocUnsafe(2 + s.length);
  out[0] = 0x18;
  out[1] = s.length;
  out.write(s, 2, 'latin1');
  return out;
}

/** A positive INTEGER from a hex serial (any case, optional leading zeros). */
export function serialInteger(serialHex: string): Uint8Array {
  let hex = serialHex.toLowerCase().replace(/^0+(?=.)/, '');
  if (!/^[0-9a-f]+$/.test(hex)) throw new Error(`serial is not hex: ${JSON.stringify(serialHex)}`);
  if (hex.length % 2) hex = `0${hex}`;
  const v = Buffer.from(hex, 'hex'); // pooled, like the other intermediate pieces
  return v[0]! & 0x80 ? tlv(0x02, ZERO, v) : tlv(0x02, v);
}

export interface EncodeInput {
  serial: string;
  status: ResponseEntryStatus;
  /** epoch ms */
  thisUpdate: number;
  nextUpdate: number;
  producedAt: number;
}

export class ResponseEncoder {
  private readonly responderId: Uint8Array;
  private readonly certIdPrefix: Uint8Array;
  private readonly signatureAlgorithm: Uint8Array;
  private readonly certs: Uint8Array;
  readonly certIdHash: HashAlgorithm;

  constructor(o: ResponseEncoderOptions) {
    if (o.algorithm === 'RSA-PSS-SHA256') throw new Error(`the response encoder does not support ${o.algorithm}; use signOcspResponse`);
    this.signatureAlgorithm = signatureAlgorithmDer(o.algorithm);
    this.certIdHash = o.certIdHash ?? 'SHA-1';
    const signerCert = certDer(o.responderCert ?? o.issuer);
    this.responderId =
      o.responderIdBy === 'keyHash'
        ? tlv(0xa2, tlv(0x04, new Uint8Array(createHash('sha1').update(signerCert.publicKeyBits).digest())))
        : tlv(0xa1, signerCert.subjectName);
    const { nameHash, keyHash } = issuerHashes(o.issuer, this.certIdHash);
    // RFC 5019 / OpenSSL: the CertID hash AlgorithmIdentifier carries NULL parameters.
    const hashAlg = new Uint8Array(AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: HASH_OIDS[this.certIdHash], parameters: NULL })));
    const prefix = [hashAlg, tlv(0x04, nameHash), tlv(0x04, keyHash)];
    this.certIdPrefix = new Uint8Array(Buffer.concat(prefix));
    this.certs = o.responderCert ? tlv(0xa0, tlv(0x30, new Uint8Array(o.responderCert.rawData))) : new Uint8Array(0);
  }

  /** The DER ResponseData: the bytes the signer signs. */
  tbs(e: EncodeInput): Uint8Array {
    const certId = tlv(0x30, this.certIdPrefix, serialInteger(e.serial));
    const single = tlv(0x30, certId, this.status(e.status), generalizedTime(e.thisUpdate), tlv(0xa0, generalizedTime(e.nextUpdate)));
    return tlv(0x30, this.responderId, generalizedTime(e.producedAt), tlv(0x30, single));
  }

  /** The complete OCSPResponse around a signed ResponseData (ECDSA signatures in DER form). */
  wrap(tbs: Uint8Array, signature: Uint8Array): Uint8Array {
    const basic = tlv(0x30, tbs, this.signatureAlgorithm, tlv(0x03, ZERO, signature), this.certs);
    return tlvInto(true, 0x30, [STATUS_SUCCESSFUL, tlv(0xa0, tlv(0x30, OID_BASIC, tlv(0x04, basic)))]);
  }

  private status(s: ResponseEntryStatus): Uint8Array {
    if (s.kind === 'good') return GOOD;
    if (s.kind === 'unknown') return UNKNOWN;
    const time = generalizedTime(Math.floor(s.revocationTime.getTime() / 1000) * 1000);
    if (s.reason === undefined) return tlv(0xa1, time);
    const code = CRL_REASONS.indexOf(s.reason);
    if (code < 0) throw new Error(`unknown revocation reason "${s.reason}"; one of ${CRL_REASONS.filter(Boolean).join(', ')}`);
    return tlv(0xa1, time, tlv(0xa0, new Uint8Array([0x0a, 0x01, code])));
  }
}
