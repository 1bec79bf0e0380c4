// Certificate helpers the controllers need around OCSP: reading tls.crt, finding the issuer, the
// responder URLs, identity (serial, fingerprint), Must-Staple, and key/certificate pairing.
import 'reflect-metadata';
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { X509Certificate } from '@peculiar/x509';
import { BytesCache } from './bytes-cache.js';
import {
  certDer,
  certDerFromBytes,
  derIssuedBy,
  readCertificate,
  rememberCertDer,
  type CertDer,
  type CertificateFields,
  type CertificateView,
} from './cert-der.js';
import { children, contentOf, DerError, oidToString, readTlv, toHex } from './der.js';
import { DerFields } from './der-fields.js';
import { nameString } from './dn.js';
import { readExtensions, type Extension } from './x509-der.js';
import { OcspInputError } from './errors.js';
import { publicHalfMatches, statedPublicHalf } from './private-key-public-half.js';
import { OID_AD_OCSP, OID_AIA, OID_TLS_FEATURE } from './oids.js';

export interface CertificateBundle {
  leaf: X509Certificate;
  /** the rest of tls.crt, in order */
  chain: X509Certificate[];
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Every CERTIFICATE block of a PEM text (or one DER certificate), in order. */
export function parsePemChain(pem: string | Uint8Array): X509Certificate[] {
  return pemCertificates(pem, parseOne);
}

/** parsePemChain as small plain views (certificateView): for what a long-lived cache holds. */
export function parsePemViews(pem: string | Uint8Array): CertificateView[] {
  return pemCertificates(pem, certificateView);
}

function pemCertificates<C>(pem: string | Uint8Array, read: (der: Uint8Array, what: string) => C): C[] {
  if (typeof pem !== 'string') {
    if (pem[0] === 0x30) return [read(pem, 'DER input')];
    pem = Buffer.from(pem).toString('utf8');
  }
  const certs: C[] = [];
  const others: string[] = [];
  let index = 0;
  for (const m of pem.matchAll(PEM_BLOCK)) {
    if (m[1] !== 'CERTIFICATE') {
      others.push(m[1]!);
      continue;
    }
    index++;
    const body = m[2]!.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new OcspInputError(`PEM certificate #${index} is not base64`);
    certs.push(read(Buffer.from(body, 'base64'), `PEM certificate #${index}`));
  }
  if (certs.length === 0) {
    const found = others.length ? `found only ${others.join(', ')} blocks` : pem.trim() === '' ? 'input is empty' : 'no PEM blocks';
    throw new OcspInputError(`no CERTIFICATE in the PEM: ${found}`);
  }
  return certs;
}

/**
 * A certificate read straight from its DER into a small plain object (no parsed object graph):
 * checked against RFC 5280 field by field, its names printed as X509Certificate prints them. A
 * certificate that is not strict DER is read by @peculiar/x509 instead, which tolerates BER, so
 * this accepts what parsePemChain accepts. About 7 times faster than parsePemChain's object.
 */
export function certificateView(der: Uint8Array, what = 'certificate'): CertificateView {
  const own = new Uint8Array(der); // a copy of exactly these bytes, shared by the view and its split
  let fields: CertificateFields;
  let split: CertDer;
  try {
    fields = readCertificate(own);
    split = certDerFromBytes(own);
  } catch {
    const c = parseOne(der, what);
    return { rawData: c.rawData, subject: c.subject, issuer: c.issuer, notBefore: c.notBefore, notAfter: c.notAfter };
  }
  const view = {
    rawData: own.buffer,
    subject: printedName(split.subjectName),
    issuer: printedName(split.issuerName),
    notBefore: fields.notBefore,
    notAfter: fields.notAfter,
  };
  rememberCertDer(view, split);
  return view;
}

/** PEM of one certificate, as X509Certificate.toString('pem') writes it (64-character lines, no final newline). */
export function certificatePem(cert: CertificateView): string {
  const b64 = Buffer.from(cert.rawData).toString('base64');
  return `-----BEGIN CERTIFICATE-----\n${(b64.match(/.{1,64}/g) ?? []).join('\n')}\n-----END CERTIFICATE-----`;
}

// Every leaf of a CA names the same issuer: printed once.
const printedNames = new BytesCache<string>(256);
const printedName = (der: Uint8Array) => printedNames.get(der, nameString);

function parseOne(der: Uint8Array, what: string): X509Certificate {
  try {
    const cert = new X509Certificate(der);
    certDer(cert); // fail now, not later, if the raw fields cannot be read
    return cert;
  } catch (e) {
    throw new OcspInputError(`${what} does not parse as an X.509 certificate (${der.length} bytes): ${(e as Error).message}`);
  }
}

/** True when `issuer`'s subject is `cert`'s issuer name (byte for byte) and its key verifies `cert`'s signature. */
export function isIssuedBy(cert: CertificateView, issuer: CertificateView): boolean {
  return derIssuedBy(certDer(cert), certDer(issuer));
}

export function findIssuer<C extends CertificateView>(leaf: CertificateView, candidates: C[]): C | undefined {
  return candidates.find((c) => isIssuedBy(leaf, c));
}

/**
 * The certificate's extensions, read from its DER. Not @peculiar/x509's `extensions`: that
 * re-encodes and parses every extension into objects the certificate then keeps (a quarter of
 * the staple controller's parsing time, and most of a held certificate's memory).
 */
function extensionsOf(cert: CertificateView): Extension[] {
  const { tbs } = certDer(cert);
  const ext = children(tbs, readTlv(tbs, 0)).find((t) => t.tag === 0xa3);
  if (!ext) return [];
  return readExtensions(tbs, readTlv(tbs, ext.contentStart, ext.end), 'extensions');
}

/** OCSP responder URLs from the Authority Information Access extension; [] when there are none. */
export function ocspUrls(cert: CertificateView): string[] {
  const aia = extensionsOf(cert).find((e) => e.extnID === OID_AIA)?.extnValue;
  if (!aia) return [];
  // AuthorityInfoAccessSyntax ::= SEQUENCE OF AccessDescription { accessMethod, accessLocation }
  const top = readTlv(aia, 0);
  if (top.tag !== 0x30 || top.end !== aia.length) throw new DerError('AuthorityInfoAccess is not one SEQUENCE');
  const list = new DerFields(aia, top, 'AuthorityInfoAccess');
  const urls: string[] = [];
  while (list.more) {
    const d = new DerFields(aia, list.take(0x30, 'AccessDescription'), 'AccessDescription');
    const method = oidToString(contentOf(aia, d.take(0x06, 'accessMethod')));
    const location = d.next('accessLocation');
    d.finish();
    // uniformResourceIdentifier [6] IMPLICIT IA5String
    if (method === OID_AD_OCSP && location.tag === 0x86) urls.push(Buffer.from(contentOf(aia, location)).toString('latin1'));
  }
  return urls;
}

/** Serial number as lowercase unsigned hex, leading zero bytes removed (one byte kept for zero). */
export function serialHex(cert: CertificateView): string {
  return serialBytesToHex(certDer(cert).serial);
}

export function serialBytesToHex(serial: Uint8Array): string {
  let i = 0;
  while (i < serial.length - 1 && serial[i] === 0) i++;
  return toHex(serial.subarray(i));
}

export function sha256Fingerprint(cert: CertificateView): string {
  return createHash('sha256').update(certDer(cert).der).digest('hex');
}

/** RFC 7633 Must-Staple: a TLS Feature extension listing status_request (5). */
export function isMustStaple(cert: CertificateView): boolean {
  const value = extensionsOf(cert).find((e) => e.extnID === OID_TLS_FEATURE)?.extnValue;
  if (!value) return false;
  try {
    const v = value;
    const seq = readTlv(v, 0);
    if (seq.tag !== 0x30) return false;
    return children(v, seq).some((t) => {
      const c = contentOf(v, t);
      return t.tag === 0x02 && c.length === 1 && c[0] === 5;
    });
  } catch {
    return false;
  }
}

/** Whether the PEM private key is the one whose public half is in `cert`. False for an unreadable key. */
export function keyMatchesCertificate(keyPem: string, cert: CertificateView): boolean {
  const der = certDer(cert);
  const stated = statedPublicHalf(keyPem);
  if (stated && publicHalfMatches(stated, der.spki)) return true;
  // Any other key, or one that states another public key: node:crypto decides.
  try {
    return createPublicKey(createPrivateKey(keyPem)).equals(der.publicKey);
  } catch {
    return false;
  }
}
