// Certificates as DER: the exact bytes of the fields OCSP hashes and compares (re-encoding a parsed
// Name can change string types, so CertID hashes must come from the original bytes), and a strict
// read of the certificates that arrive inside OCSP messages.
import 'reflect-metadata';
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { X509Certificate } from '@peculiar/x509';
import { BytesCache } from './bytes-cache.js';
import { children, DerError, equalBytes, readTlv, type Tlv } from './der.js';
import { checkBitString, DerFields, explicitInner, integerBytes, smallInteger } from './der-fields.js';
import { x509Time } from './der-time.js';
import { verifySignature } from './signature.js';
import { checkName, readAlgorithmIdentifier, readExtensions, type Extension } from './x509-der.js';

export interface CertDer {
  readonly der: Uint8Array;
  readonly tbs: Uint8Array;
  /** DER of the TBS `signature` AlgorithmIdentifier, which must equal the outer one */
  readonly tbsSignatureAlg: Uint8Array;
  readonly signatureAlg: Uint8Array;
  readonly signature: Uint8Array;
  /** content bytes of the serial INTEGER */
  readonly serial: Uint8Array;
  readonly issuerName: Uint8Array;
  readonly subjectName: Uint8Array;
  readonly spki: Uint8Array;
  /** the subjectPublicKey BIT STRING value without its unused-bits byte (what OCSP key hashes cover) */
  readonly publicKeyBits: Uint8Array;
  readonly publicKey: KeyObject;
}

/**
 * What the protocol code reads of a certificate: its DER (every field it checks is read from
 * there) and the fields messages and status print. An @peculiar/x509 X509Certificate is one; so is
 * the small plain object certificateView() reads straight from DER, which a long-lived cache can
 * hold without a parsed object graph.
 */
export type CertificateView = Pick<X509Certificate, 'rawData' | 'subject' | 'issuer' | 'notBefore' | 'notAfter'>;

const byObject = new WeakMap<CertificateView, CertDer>();
// Callers parse the same issuer again and again (each reconcile reads its Secret anew): by content,
// its hashes and imported key outlive the X509Certificate object they came from.
const byBytes = new BytesCache<CertDer>(256);

export function certDer(cert: CertificateView): CertDer {
  let c = byObject.get(cert);
  if (!c) {
    c = byBytes.get(new Uint8Array(cert.rawData), certDerFromBytes);
    byObject.set(cert, c);
  }
  return c;
}

/**
 * Records the split of a view made from the same bytes (certificateView), so that certDer finds it
 * without copying the DER into the content cache: a held view then costs one copy of its DER.
 */
export function rememberCertDer(view: CertificateView, split: CertDer): void {
  byObject.set(view, split);
}

/** Splits a DER certificate; throws DerError or Error when the structure is not a certificate. */
export function certDerFromBytes(der: Uint8Array): CertDer {
  const top = readTlv(der, 0);
  if (top.tag !== 0x30 || top.end !== der.length) throw new Error('not a certificate');
  const [tbsT, algT, sigT, ...rest] = children(der, top);
  // The outer tags are not signed, so they are checked exactly.
  if (!tbsT || !algT || !sigT || rest.length || tbsT.tag !== 0x30 || algT.tag !== 0x30 || sigT.tag !== 0x03)
    throw new Error('not a certificate');
  const f = children(der, tbsT);
  let i = 0;
  if (f[0]?.tag === 0xa0) i++;
  const [serialT, tbsAlgT, issuerT, , subjectT, spkiT] = f.slice(i);
  if (!serialT || serialT.tag !== 0x02 || !tbsAlgT || !issuerT || !subjectT || !spkiT) throw new Error('not a certificate');
  const [, keyBitsT] = children(der, spkiT);
  if (!keyBitsT || keyBitsT.tag !== 0x03 || keyBitsT.end - keyBitsT.contentStart < 1) throw new Error('no public key');
  if (der[sigT.contentStart] !== 0 || sigT.end === sigT.contentStart) throw new Error('certificate signature has unused bits');
  return new SplitCertificate(der, tbsT, tbsAlgT, algT, sigT, serialT, issuerT, subjectT, spkiT, keyBitsT);
}

/**
 * A certificate's DER and where its fields lie in it: plain number fields, each field's bytes cut
 * out when read. A held certificate (the staple controller keeps one per staple) then costs its
 * DER and one small object, not ten typed-array views and a dictionary-mode object (~2 KB).
 */
class SplitCertificate implements CertDer {
  private readonly tbsAt: number;
  private readonly tbsEnd: number;
  private readonly tbsAlgAt: number;
  private readonly tbsAlgEnd: number;
  private readonly algAt: number;
  private readonly algEnd: number;
  /** after the BIT STRING's unused-bits byte */
  private readonly sigAt: number;
  private readonly sigEnd: number;
  private readonly serialAt: number;
  private readonly serialEnd: number;
  private readonly issuerAt: number;
  private readonly issuerEnd: number;
  private readonly subjectAt: number;
  private readonly subjectEnd: number;
  private readonly spkiAt: number;
  private readonly spkiEnd: number;
  private readonly keyBitsAt: number;
  private readonly keyBitsEnd: number;
  // Parsed on first use: most certificates in a response are only compared, never used to verify.
  private key: KeyObject | undefined;

  constructor(
    readonly der: Uint8Array,
    tbs: Tlv,
    tbsAlg: Tlv,
    alg: Tlv,
    sig: Tlv,
    serial: Tlv,
    issuer: Tlv,
    subject: Tlv,
    spki: Tlv,
    keyBits: Tlv,
  ) {
    this.tbsAt = tbs.start;
    this.tbsEnd = tbs.end;
    this.tbsAlgAt = tbsAlg.start;
    this.tbsAlgEnd = tbsAlg.end;
    this.algAt = alg.start;
    this.algEnd = alg.end;
    this.sigAt = sig.contentStart + 1;
    this.sigEnd = sig.end;
    this.serialAt = serial.contentStart;
    this.serialEnd = serial.end;
    this.issuerAt = issuer.start;
    this.issuerEnd = issuer.end;
    this.subjectAt = subject.start;
    this.subjectEnd = subject.end;
    this.spkiAt = spki.start;
    this.spkiEnd = spki.end;
    this.keyBitsAt = keyBits.contentStart + 1;
    this.keyBitsEnd = keyBits.end;
  }

  get tbs(): Uint8Array {
    return this.der.subarray(this.tbsAt, this.tbsEnd);
  }
  get tbsSignatureAlg(): Uint8Array {
    return this.der.subarray(this.tbsAlgAt, this.tbsAlgEnd);
  }
  get signatureAlg(): Uint8Array {
    return this.der.subarray(this.algAt, this.algEnd);
  }
  get signature(): Uint8Array {
    return this.der.subarray(this.sigAt, this.sigEnd);
  }
  get serial(): Uint8Array {
    return this.der.subarray(this.serialAt, this.serialEnd);
  }
  get issuerName(): Uint8Array {
    return this.der.subarray(this.issuerAt, this.issuerEnd);
  }
  get subjectName(): Uint8Array {
    return this.der.subarray(this.subjectAt, this.subjectEnd);
  }
  get spki(): Uint8Array {
    return this.der.subarray(this.spkiAt, this.spkiEnd);
  }
  get publicKeyBits(): Uint8Array {
    return this.der.subarray(this.keyBitsAt, this.keyBitsEnd);
  }
  get publicKey(): KeyObject {
    return (this.key ??= createPublicKey({ key: Buffer.from(this.spki), format: 'der', type: 'spki' }));
  }
}

export interface CertificateFields {
  notBefore: Date;
  notAfter: Date;
  extensions: Extension[];
}

/**
 * Checks a whole Certificate against RFC 5280 4.1, every field with its exact tag, and returns what
 * is read of it: for certificates that arrive inside OCSP messages. certDerFromBytes, which every
 * certificate goes through, splits out raw fields and checks no more than it needs.
 */
export function readCertificate(der: Uint8Array): CertificateFields {
  const top = readTlv(der, 0);
  if (top.end !== der.length) throw new DerError(`${der.length - top.end} trailing bytes after the certificate`);
  const cert = new DerFields(der, top, 'Certificate');
  const tbsT = cert.take(0x30, 'tbsCertificate');
  readAlgorithmIdentifier(der, cert.take(0x30, 'signatureAlgorithm'), 'signatureAlgorithm');
  checkBitString(der, cert.take(0x03, 'signatureValue'));
  cert.finish();
  const f = new DerFields(der, tbsT, 'TBSCertificate');
  const version = f.optional(0xa0);
  if (version) smallInteger(der, explicitInner(der, version, 0x02, 'version'));
  integerBytes(der, f.take(0x02, 'serialNumber'));
  readAlgorithmIdentifier(der, f.take(0x30, 'signature'), 'signature');
  checkName(der, f.take(0x30, 'issuer'), 'issuer');
  const validity = new DerFields(der, f.take(0x30, 'validity'), 'Validity');
  const notBefore = x509Time(der, validity.next('notBefore'));
  const notAfter = x509Time(der, validity.next('notAfter'));
  validity.finish();
  checkName(der, f.take(0x30, 'subject'), 'subject');
  const spki = new DerFields(der, f.take(0x30, 'subjectPublicKeyInfo'), 'SubjectPublicKeyInfo');
  readAlgorithmIdentifier(der, spki.take(0x30, 'algorithm'), 'SubjectPublicKeyInfo algorithm');
  checkBitString(der, spki.take(0x03, 'subjectPublicKey'));
  spki.finish();
  const issuerUid = f.optional(0x81);
  if (issuerUid) checkBitString(der, issuerUid);
  const subjectUid = f.optional(0x82);
  if (subjectUid) checkBitString(der, subjectUid);
  const ext = f.optional(0xa3);
  f.finish();
  const extensions = ext ? readExtensions(der, explicitInner(der, ext, 0x30, 'extensions'), 'extensions') : [];
  return { notBefore, notAfter, extensions };
}

// The same responder certificate under the same issuer comes in every response, and the same chain
// is searched on every reconcile: each pair is verified once (CertDers are shared by content). Keyed
// by the issuer first: issuers are few, so a held leaf costs an entry, not a map of its own.
const issuedByMemo = new WeakMap<CertDer, WeakMap<CertDer, boolean>>();

/** True when `issuer`'s subject is `cert`'s issuer name (byte for byte) and its key verifies `cert`'s signature. */
export function derIssuedBy(cert: CertDer, issuer: CertDer): boolean {
  let byCert = issuedByMemo.get(issuer);
  if (!byCert) issuedByMemo.set(issuer, (byCert = new WeakMap()));
  let ok = byCert.get(cert);
  if (ok === undefined) {
    ok =
      equalBytes(cert.issuerName, issuer.subjectName) &&
      // RFC 5280 4.1.1.2: the outer algorithm must equal the signed one, or the outer one is unauthenticated.
      equalBytes(cert.signatureAlg, cert.tbsSignatureAlg) &&
      verifySignature(cert.signatureAlg, cert.tbs, cert.signature, issuer.publicKey).ok;
    byCert.set(cert, ok);
  }
  return ok;
}
