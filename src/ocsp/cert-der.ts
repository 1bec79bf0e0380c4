// The exact DER bytes of the certificate fields OCSP hashes and compares. Re-encoding a parsed Name
// can change string types, so CertID hashes must come from the original bytes.
import './reflect-polyfill.js';
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { X509Certificate } from '@peculiar/x509';
import { BytesCache } from './bytes-cache.js';
import { bytesOf, children, contentOf, equalBytes, readTlv } from './der.js';
import { verifySignature } from './signature.js';

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

const byObject = new WeakMap<X509Certificate, CertDer>();
// Callers parse the same issuer again and again (each reconcile reads its Secret anew): by content,
// its hashes and imported key outlive the X509Certificate object they came from.
const byBytes = new BytesCache<CertDer>(256);

export function certDer(cert: X509Certificate): CertDer {
  let c = byObject.get(cert);
  if (!c) {
    c = byBytes.get(new Uint8Array(cert.rawData), certDerFromBytes);
    byObject.set(cert, c);
  }
  return c;
}

/** Splits a DER certificate; throws DerError or Error when the structure is not a certificate. */
export function certDerFromBytes(der: Uint8Array): CertDer {
  const top = readTlv(der, 0);
  if (top.tag !== 0x30 || top.end !== der.length) throw new Error('not a certificate');
  const [tbsT, algT, sigT, ...rest] = children(der, top);
  // The outer tags are not signed, so they are checked exactly.
  if (!tbsT || !algT || !sigT || rest.length || tbsT.tag !== 0x30 || algT.tag !== 0x30 || sigT.tag !== 0x03) throw new Error('not a certificate');
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
