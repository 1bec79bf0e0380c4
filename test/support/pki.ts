/**
 * A throwaway PKI for tests: CAs, leaves (the way cert-manager writes tls.crt: leaf then issuer),
 * delegated OCSP responder certificates, and openssl `index.txt` lines.
 *
 * Keys are WebCrypto keys from node:crypto, exported to PEM for openssl. Leaf keys are shared per
 * algorithm (generating RSA keys is the slow part and a leaf's key plays no part in OCSP); CA and
 * responder keys are fresh so that "another CA" really is another key.
 */
import 'reflect-metadata';
import { KeyObject, randomBytes, webcrypto } from 'node:crypto';

type CryptoKeyPair = webcrypto.CryptoKeyPair;
type Algorithm = webcrypto.Algorithm;
type EcdsaParams = webcrypto.EcdsaParams;
type EcKeyGenParams = webcrypto.EcKeyGenParams;
type RsaHashedKeyGenParams = webcrypto.RsaHashedKeyGenParams;
import * as x509 from '@peculiar/x509';

// @peculiar/x509 is typed against the DOM's Crypto, which this project's lib does not include.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export type KeyAlg = 'P-256' | 'P-384' | 'RSA-2048' | 'Ed25519';

export interface KeyPairPem {
  keys: CryptoKeyPair;
  /** PKCS#8 PEM */
  keyPem: string;
  keyObject: KeyObject;
}

export interface Ca extends KeyPairPem {
  keyAlg: KeyAlg;
  cert: x509.X509Certificate;
  certPem: string;
  name: string;
}

export interface Issued extends KeyPairPem {
  cert: x509.X509Certificate;
  certPem: string;
  /** leaf + issuer, as in a cert-manager tls.crt */
  chainPem: string;
  /** uppercase hex, as openssl's index.txt wants it */
  serial: string;
}

const OID_TLS_FEATURE = '1.3.6.1.5.5.7.1.24';
const OID_OCSP_NOCHECK = '1.3.6.1.5.5.7.48.1.5';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function keyParams(alg: KeyAlg): { gen: RsaHashedKeyGenParams | EcKeyGenParams | Algorithm; sign: Algorithm | EcdsaParams } {
  switch (alg) {
    case 'P-256':
      return { gen: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } };
    case 'P-384':
      return { gen: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } };
    case 'RSA-2048':
      return {
        gen: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
        sign: { name: 'RSASSA-PKCS1-v1_5' },
      };
    case 'Ed25519':
      return { gen: { name: 'Ed25519' }, sign: { name: 'Ed25519' } };
  }
}

/** A fresh key pair of `alg`, with its PKCS#8 PEM and node KeyObject. */
export async function generateKey(alg: KeyAlg): Promise<KeyPairPem> {
  const keys = await webcrypto.subtle.generateKey(keyParams(alg).gen as EcKeyGenParams, true, ['sign', 'verify']);
  const keyObject = KeyObject.from(keys.privateKey);
  return { keys, keyObject, keyPem: keyObject.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

const sharedLeafKeys = new Map<KeyAlg, Promise<KeyPairPem>>();
function leafKey(alg: KeyAlg): Promise<KeyPairPem> {
  let k = sharedLeafKeys.get(alg);
  if (!k) sharedLeafKeys.set(alg, (k = generateKey(alg)));
  return k;
}

function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x10; // positive, 16 bytes, no leading zero
  return b.toString('hex').toUpperCase();
}

let caCounter = 0;

/** A self-signed CA (basicConstraints CA, keyCertSign + cRLSign). */
export async function createCa(o: { keyAlg?: KeyAlg; name?: string; notBefore?: Date; notAfter?: Date } = {}): Promise<Ca> {
  const keyAlg = o.keyAlg ?? 'P-256';
  const name = o.name ?? `CN=Test CA ${++caCounter} ${randomBytes(3).toString('hex')},O=ocsp-operator tests`;
  const k = await generateKey(keyAlg);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name,
    notBefore: o.notBefore ?? new Date(Date.now() - DAY),
    notAfter: o.notAfter ?? new Date(Date.now() + 3650 * DAY),
    keys: k.keys,
    signingAlgorithm: keyParams(keyAlg).sign,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(k.keys.publicKey),
    ],
  });
  return { ...k, keyAlg, cert, certPem: cert.toString('pem'), name };
}

async function issue(
  ca: Ca,
  publicKey: x509.PublicKeyType,
  o: { name: string; serial?: string; notBefore?: Date; notAfter?: Date; extensions: x509.Extension[] },
): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    serialNumber: o.serial ?? randomSerial(),
    subject: o.name,
    issuer: ca.cert.subjectName,
    notBefore: o.notBefore ?? new Date(Date.now() - HOUR),
    notAfter: o.notAfter ?? new Date(Date.now() + 90 * DAY),
    publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: keyParams(ca.keyAlg).sign,
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(ca.cert, false), ...o.extensions],
  });
}

export interface LeafOptions {
  /** responder URL in AIA; default http://127.0.0.1:9/ (a port nothing listens on); null for no AIA */
  ocspUrl?: string | null;
  mustStaple?: boolean;
  notBefore?: Date;
  notAfter?: Date;
  /** hex serial; random by default */
  serial?: string;
  dnsNames?: string[];
  keyAlg?: KeyAlg;
  /** a key of its own instead of the shared leaf key of its algorithm */
  freshKey?: boolean;
}

/** A TLS server certificate issued by `ca`. */
export async function issueLeaf(ca: Ca, o: LeafOptions = {}): Promise<Issued> {
  const keyAlg = o.keyAlg ?? 'P-256';
  const k = o.freshKey ? await generateKey(keyAlg) : await leafKey(keyAlg);
  const dnsNames = o.dnsNames ?? ['leaf.test'];
  const ocspUrl = o.ocspUrl === undefined ? 'http://127.0.0.1:9/' : o.ocspUrl;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    new x509.SubjectAlternativeNameExtension(dnsNames.map((value) => ({ type: 'dns' as const, value }))),
  ];
  if (ocspUrl !== null) extensions.push(new x509.AuthorityInfoAccessExtension({ ocsp: [ocspUrl] }));
  // TLS Feature ::= SEQUENCE OF INTEGER; status_request(5)
  if (o.mustStaple) extensions.push(new x509.Extension(OID_TLS_FEATURE, false, new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x05])));
  const serial = (o.serial ?? randomSerial()).toUpperCase();
  const cert = await issue(ca, k.keys.publicKey, {
    name: `CN=${dnsNames[0]}`,
    serial,
    extensions,
    ...(o.notBefore ? { notBefore: o.notBefore } : {}),
    ...(o.notAfter ? { notAfter: o.notAfter } : {}),
  });
  const certPem = cert.toString('pem');
  return { ...k, cert, certPem, chainPem: `${certPem}\n${ca.certPem}\n`, serial: normaliseSerial(serial) };
}

export interface ResponderOptions {
  /** id-kp-OCSPSigning in extendedKeyUsage (default true); false gives serverAuth instead */
  ekuOcspSigning?: boolean;
  /** id-pkix-ocsp-nocheck (default true) */
  noCheck?: boolean;
  notBefore?: Date;
  notAfter?: Date;
  keyAlg?: KeyAlg;
  name?: string;
}

/** A delegated OCSP responder certificate issued by `ca`. */
export async function issueResponderCert(ca: Ca, o: ResponderOptions = {}): Promise<Issued> {
  const k = await generateKey(o.keyAlg ?? 'P-256');
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([o.ekuOcspSigning === false ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.ocspSigning]),
  ];
  if (o.noCheck !== false) extensions.push(new x509.Extension(OID_OCSP_NOCHECK, false, new Uint8Array([0x05, 0x00])));
  const serial = randomSerial();
  const cert = await issue(ca, k.keys.publicKey, {
    name: o.name ?? `CN=OCSP Responder ${randomBytes(3).toString('hex')},O=ocsp-operator tests`,
    serial,
    extensions,
    notBefore: o.notBefore ?? new Date(Date.now() - HOUR),
    notAfter: o.notAfter ?? new Date(Date.now() + 30 * DAY),
  });
  const certPem = cert.toString('pem');
  return { ...k, cert, certPem, chainPem: `${certPem}\n${ca.certPem}\n`, serial: normaliseSerial(serial) };
}

/**
 * A subordinate CA certificate issued by `ca` for a key held elsewhere (an HSM token): only its
 * public key is known here, as DER SubjectPublicKeyInfo.
 */
export async function issueCaCertFor(
  ca: Ca,
  spkiDer: Uint8Array,
  o: { name: string },
): Promise<{ cert: x509.X509Certificate; certPem: string; chainPem: string }> {
  const publicKey = new x509.PublicKey(spkiDer);
  const cert = await issue(ca, publicKey, {
    name: o.name,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 365 * DAY),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
    ],
  });
  const certPem = cert.toString('pem');
  return { cert, certPem, chainPem: `${certPem}\n${ca.certPem}\n` };
}

function normaliseSerial(hex: string): string {
  const s = hex.replace(/^(00)+(?=..)/, '').toUpperCase();
  return s.length % 2 ? `0${s}` : s;
}

// ---- openssl index.txt ----

/** What one line of a CA database records of a certificate (the certificate itself may be elsewhere). */
export interface IndexRecord {
  cert: Pick<x509.X509Certificate, 'serialNumber' | 'notAfter' | 'subject'>;
  status: 'V' | 'R';
  /** for 'R' */
  revokedAt?: Date;
  /** CRL reason name for 'R', e.g. 'keyCompromise' */
  reason?: string;
}

export interface IndexEntry extends IndexRecord {
  cert: x509.X509Certificate;
}

/** UTCTime YYMMDDHHMMSSZ, the date form of openssl's CA database. */
function utcTime(d: Date): string {
  return d.toISOString().replace(/^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d).*$/, '$1$2$3$4$5$6Z');
}

/** One line of openssl's `index.txt`: status, expiry, revocation[,reason], serial, file, subject. */
export function indexLine(e: IndexRecord): string {
  const serial = normaliseSerial(e.cert.serialNumber);
  const subject = '/' + e.cert.subject.split(/,\s*/).join('/');
  const revoked = e.status === 'R' ? utcTime(e.revokedAt ?? new Date()) + (e.reason ? `,${e.reason}` : '') : '';
  return [e.status, utcTime(e.cert.notAfter), revoked, serial, 'unknown', subject].join('\t');
}

/** The whole `index.txt`. */
export function indexTxt(entries: IndexRecord[]): string {
  return entries.map(indexLine).join('\n') + (entries.length ? '\n' : '');
}
