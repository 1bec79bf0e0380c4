// The DER of a one-certificate OCSP response, assembled from precomputed pieces (the signers' fast path).
//
// Why not signOcspResponse (src/ocsp/sign.ts)? It builds the response through @peculiar/asn1-schema
// objects, about 280 µs of main-thread time per response on this hardware, while SoftHSM signs a
// P-256 signature in ~130 µs of CPU: the encoder would cost more than the HSM and cap the pipeline
// near 20% of the backend. For a pre-signing responder pool everything but the serial, the status
// and the times is the same in every response of an issuer, so it is encoded once here and each
// response is a few byte copies into one buffer, with the time fields (the same for every response
// signed in the same second) encoded once. The output is byte-identical to signOcspResponse for
// the same input (test/signer/response-encoder.test.ts checks this with a deterministic key).
import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import type { X509Certificate } from '@peculiar/x509';
import { certDer } from './cert-der.js';
import { issuerHashes } from './cert-id.js';
import { CRL_REASON_BY_CODE, HASH_OIDS, type HashAlgorithm } from './oids.js';
import type { ResponseEntryStatus, SignatureAlgorithmName } from './sign.js';
import { signerAlgorithmDer } from './signer-algorithms.js';

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

/** One TLV around the concatenation of `parts` (construction-time pieces only). */
function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(headerSize(len) + len);
  let o = header(out, 0, tag, len);
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const HEX = /^[0-9a-fA-F]+$/;

function headerSize(len: number): number {
  return len < 0x80 ? 2 : len < 0x100 ? 3 : len < 0x10000 ? 4 : 5;
}

/** Writes tag and length at `o`; returns the offset after them. */
function header(out: Uint8Array, o: number, tag: number, len: number): number {
  out[o++] = tag;
  if (len < 0x80) {
    out[o++] = len;
    return o;
  }
  // Long form: 0x80 | the number of length octets, then the length big-endian.
  const octets = len < 0x100 ? 1 : len < 0x10000 ? 2 : 3;
  out[o++] = 0x80 | octets;
  for (let shift = (octets - 1) * 8; shift >= 0; shift -= 8) out[o++] = (len >> shift) & 0xff;
  return o;
}

/** GeneralizedTime YYYYMMDDHHMMSSZ, whole seconds (what signOcspResponse writes). */
function generalizedTime(ms: number): Uint8Array {
  const d = new Date(ms);
  const p2 = (n: number) => (n < 10 ? `0${n}` : String(n));
  const s = `${d.getUTCFullYear()}${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())}${p2(d.getUTCHours())}${p2(d.getUTCMinutes())}${p2(d.getUTCSeconds())}Z`;
  const out = new Uint8Array(2 + s.length);
  out[0] = 0x18;
  out[1] = s.length;
  for (let i = 0; i < s.length; i++) out[2 + i] = s.charCodeAt(i);
  return out;
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
  private readonly times = new Map<number, Uint8Array>();
  readonly certIdHash: HashAlgorithm;

  constructor(o: ResponseEncoderOptions) {
    if (o.algorithm === 'RSA-PSS-SHA256') throw new Error(`the response encoder does not support ${o.algorithm}; use signOcspResponse`);
    this.signatureAlgorithm = signerAlgorithmDer(o.algorithm);
    this.certIdHash = o.certIdHash ?? 'SHA-1';
    const signerCert = certDer(o.responderCert ?? o.issuer);
    this.responderId =
      o.responderIdBy === 'keyHash'
        ? tlv(0xa2, tlv(0x04, new Uint8Array(createHash('sha1').update(signerCert.publicKeyBits).digest())))
        : tlv(0xa1, signerCert.subjectName);
    const { nameHash, keyHash } = issuerHashes(o.issuer, this.certIdHash);
    // RFC 5019 / OpenSSL: the CertID hash AlgorithmIdentifier carries NULL parameters.
    const hashAlg = new Uint8Array(
      AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: HASH_OIDS[this.certIdHash], parameters: NULL })),
    );
    const prefix = [hashAlg, tlv(0x04, nameHash), tlv(0x04, keyHash)];
    this.certIdPrefix = new Uint8Array(Buffer.concat(prefix));
    this.certs = o.responderCert ? tlv(0xa0, tlv(0x30, new Uint8Array(o.responderCert.rawData))) : new Uint8Array(0);
  }

  /** The DER ResponseData: the bytes the signer signs. One allocation from Buffer's slab. */
  tbs(e: EncodeInput): Uint8Array {
    let hex = e.serial.length > 1 && e.serial.charCodeAt(0) === 0x30 ? e.serial.replace(/^0+(?=.)/, '') : e.serial;
    if (hex.length % 2) hex = `0${hex}`;
    const serialLen = hex.length >> 1;
    if (!HEX.test(hex)) throw new Error(`serial is not hex: ${JSON.stringify(e.serial)}`);
    const pad = parseInt(hex.slice(0, 2), 16) & 0x80 ? 1 : 0; // a set top bit would read as negative
    const intLen = 2 + pad + serialLen; // serials are at most 20 octets (RFC 5280): short-form length
    const certIdContent = this.certIdPrefix.length + intLen;
    const status = this.status(e.status);
    const thisUpdate = this.time(e.thisUpdate);
    const nextUpdate = this.time(e.nextUpdate);
    const producedAt = this.time(e.producedAt);
    const singleContent = headerSize(certIdContent) + certIdContent + status.length + thisUpdate.length + 2 + nextUpdate.length;
    const responsesContent = headerSize(singleContent) + singleContent;
    const tbsContent = this.responderId.length + producedAt.length + headerSize(responsesContent) + responsesContent;
    const out = Buffer.allocUnsafe(headerSize(tbsContent) + tbsContent);
    let o = header(out, 0, 0x30, tbsContent);
    out.set(this.responderId, o);
    o += this.responderId.length;
    out.set(producedAt, o);
    o += producedAt.length;
    o = header(out, o, 0x30, responsesContent);
    o = header(out, o, 0x30, singleContent);
    o = header(out, o, 0x30, certIdContent);
    out.set(this.certIdPrefix, o);
    o += this.certIdPrefix.length;
    out[o++] = 0x02;
    out[o++] = pad + serialLen;
    if (pad) out[o++] = 0;
    o += out.write(hex, o, 'hex');
    out.set(status, o);
    o += status.length;
    out.set(thisUpdate, o);
    o += thisUpdate.length;
    out[o++] = 0xa0;
    out[o++] = nextUpdate.length;
    out.set(nextUpdate, o);
    return out;
  }

  /** The complete OCSPResponse around a signed ResponseData (ECDSA signatures in DER form), in a buffer of its own. */
  wrap(tbs: Uint8Array, signature: Uint8Array): Uint8Array {
    const bitString = 1 + signature.length;
    const basicContent = tbs.length + this.signatureAlgorithm.length + headerSize(bitString) + bitString + this.certs.length;
    const basic = headerSize(basicContent) + basicContent;
    const bytesContent = OID_BASIC.length + headerSize(basic) + basic;
    const explicitContent = headerSize(bytesContent) + bytesContent;
    const topContent = STATUS_SUCCESSFUL.length + headerSize(explicitContent) + explicitContent;
    // Its own ArrayBuffer: the response is kept (in the store), and must not pin a shared slab.
    const out = new Uint8Array(headerSize(topContent) + topContent);
    let o = header(out, 0, 0x30, topContent);
    out.set(STATUS_SUCCESSFUL, o);
    o += STATUS_SUCCESSFUL.length;
    o = header(out, o, 0xa0, explicitContent);
    o = header(out, o, 0x30, bytesContent);
    out.set(OID_BASIC, o);
    o += OID_BASIC.length;
    o = header(out, o, 0x04, basic);
    o = header(out, o, 0x30, basicContent);
    out.set(tbs, o);
    o += tbs.length;
    out.set(this.signatureAlgorithm, o);
    o += this.signatureAlgorithm.length;
    o = header(out, o, 0x03, bitString);
    out[o++] = 0;
    out.set(signature, o);
    o += signature.length;
    out.set(this.certs, o);
    return out;
  }

  /** GeneralizedTime of a whole second; the few distinct values of a round are encoded once. */
  private time(ms: number): Uint8Array {
    const sec = Math.floor(ms / 1000);
    let t = this.times.get(sec);
    if (!t) {
      if (this.times.size >= 16) this.times.clear();
      t = generalizedTime(sec * 1000);
      this.times.set(sec, t);
    }
    return t;
  }

  private status(s: ResponseEntryStatus): Uint8Array {
    if (s.kind === 'good') return GOOD;
    if (s.kind === 'unknown') return UNKNOWN;
    const time = generalizedTime(Math.floor(s.revocationTime.getTime() / 1000) * 1000);
    if (s.reason === undefined) return tlv(0xa1, time);
    const code = CRL_REASON_BY_CODE.indexOf(s.reason);
    if (code < 0) throw new Error(`unknown revocation reason "${s.reason}"; one of ${CRL_REASON_BY_CODE.filter(Boolean).join(', ')}`);
    return tlv(0xa1, time, tlv(0xa0, new Uint8Array([0x0a, 0x01, code])));
  }
}
