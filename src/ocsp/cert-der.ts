// Certificates as DER: the exact bytes of the fields OCSP hashes and compares (re-encoding a parsed
// Name can change string types, so CertID hashes must come from the original bytes), and a strict
// read of the certificates that arrive inside OCSP messages.
import 'reflect-metadata';
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { X509Certificate } from '@peculiar/x509';
import { BytesCache } from './bytes-cache.js';
import { bytesOf, children, contentOf, DerError, equalBytes, readTlv } from './der.js';
import { checkBitString, DerFields, explicitInner, integerBytes, smallInteger } from './der-fields.js';
import { x509Time } from './der-time.js';
import { verifySignature } from './signature.js';
import { checkName, readAlgorithmIdentifier, readExtensions, type Extension } from './x509-der.js';

export interface CertDer {
  der: Uint8Array;
  tbs: Uint8Array;
  /** DER of the TBS `signature` AlgorithmIdentifier, which must equal the outer one */
  tbsSignatureAlg: Uint8Array;
  signatureAlg: Uint8Array;
  signature: Uint8Array;
  /** content bytes of the serial INTEGER */
  serial: Uint8Array;
  issuerName: Uint8Array;
  subjectName: Uint8Array;
  spki: Uint8Array;
  /** the subjectPublicKey BIT STRING value without its unused-bits byte (what OCSP key hashes cover) */
  publicKeyBits: Uint8Array;
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
  const spki = bytesOf(der, spkiT);
  const sig = contentOf(der, sigT);
  if (sig[0] !== 0) throw new Error('certificate signature has unused bits');
  return {
    der,
    tbs: bytesOf(der, tbsT),
    tbsSignatureAlg: bytesOf(der, tbsAlgT),
    signatureAlg: bytesOf(der, algT),
    signature: sig.subarray(1),
    serial: contentOf(der, serialT),
    issuerName: bytesOf(der, issuerT),
    subjectName: bytesOf(der, subjectT),
    spki,
    publicKeyBits: der.subarray(keyBitsT.contentStart + 1, keyBitsT.end),
    // Parsed on first use: most certificates in a response are only compared, never used to verify.
    get publicKey(): KeyObject {
      const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
      Object.defineProperty(this, 'publicKey', { value: key });
      return key;
    },
  };
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
// is searched on every reconcile: each pair is verified once (CertDers are shared by content).
const issuedByMemo = new WeakMap<CertDer, WeakMap<CertDer, boolean>>();

/** True when `issuer`'s subject is `cert`'s issuer name (byte for byte) and its key verifies `cert`'s signature. */
export function derIssuedBy(cert: CertDer, issuer: CertDer): boolean {
  let byIssuer = issuedByMemo.get(cert);
  if (!byIssuer) issuedByMemo.set(cert, (byIssuer = new WeakMap()));
  let ok = byIssuer.get(issuer);
  if (ok === undefined) {
    ok =
      equalBytes(cert.issuerName, issuer.subjectName) &&
      // RFC 5280 4.1.1.2: the outer algorithm must equal the signed one, or the outer one is unauthenticated.
      equalBytes(cert.signatureAlg, cert.tbsSignatureAlg) &&
      verifySignature(cert.signatureAlg, cert.tbs, cert.signature, issuer.publicKey).ok;
    byIssuer.set(issuer, ok);
  }
  return ok;
}
