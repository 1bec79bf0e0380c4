// Delegated OCSP responder certificates: issued from the CA key (which may live on an HSM, so the
// certificate is built here and signed through an OcspSigner rather than a WebCrypto key), linted
// against the Baseline Requirements profile, and rotated early enough that there is no gap.
//
// Rotation without a gap: a new certificate is issued once the current one is within
// `renewBefore` of its notAfter; from then on the planner sees every response made by the old one
// as signed by a retired signer and re-signs it (see planner.ts), and the signer never writes a
// nextUpdate past its signer certificate's notAfter. With renewBefore >= responseValidity (the
// defaults are 168h and 168h) no response can outlive the certificate that signed it.
import 'reflect-metadata';
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  KeyUsage,
  KeyUsageFlags,
  Name,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import { isIssuedBy, softwareSigner, type OcspSigner } from '../ocsp/index.js';
import { certDer } from '../ocsp/cert-der.js';
import { OID_KP_OCSP_SIGNING, OID_OCSP_NOCHECK } from '../ocsp/oids.js';
import { signerAlgorithmIdentifier } from '../ocsp/signer-algorithms.js';

export interface IssueResponderOptions {
  issuer: x509.X509Certificate;
  /** the CA's key (an HSM signer or a software signer) */
  issuerSigner: OcspSigner;
  /** SPKI DER (or a key object) of the responder's key */
  responderPublicKey: Uint8Array | KeyObject;
  now: Date;
  validityMs: number;
  /** notBefore = now - backdate, so a responder whose clock is a little behind accepts it; default 5 min */
  backdateMs?: number;
  subject?: string;
  /** hex; random 16 bytes by default */
  serial?: string;
}

function serialBytes(hex?: string): ArrayBuffer {
  const b = hex ? Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex') : randomBytes(16);
  if (!hex) b[0] = (b[0]! & 0x7f) | 0x10; // positive, no leading zero octet
  return new Uint8Array(b).buffer;
}

function spkiDer(k: Uint8Array | KeyObject): Uint8Array {
  if (k instanceof Uint8Array) return k;
  return new Uint8Array(createPublicKey(k).export({ type: 'spki', format: 'der' }));
}

/** Issues a delegated OCSP responder certificate: EKU exactly id-kp-OCSPSigning, id-pkix-ocsp-nocheck, CA:false. */
export async function issueDelegatedResponder(o: IssueResponderOptions): Promise<x509.X509Certificate> {
  const issuer = certDer(o.issuer);
  const spki = spkiDer(o.responderPublicKey);
  const subjectKeyBits = certLikeKeyBits(spki);
  const issuerSki = o.issuer.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  const aki = issuerSki ? Buffer.from(issuerSki, 'hex') : createHash('sha1').update(issuer.publicKeyBits).digest();
  const ext = (extnID: string, critical: boolean, value: unknown) =>
    new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
  const extensions = new Extensions([
    ext(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
    ext(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.digitalSignature)),
    ext(id_ce_extKeyUsage, false, new ExtendedKeyUsage([OID_KP_OCSP_SIGNING])),
    // id-pkix-ocsp-nocheck: clients need not check this certificate's revocation status (BR 4.9.9)
    new Extension({ extnID: OID_OCSP_NOCHECK, critical: false, extnValue: new OctetString(new Uint8Array([0x05, 0x00])) }),
    ext(id_ce_authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new OctetString(aki) })),
    ext(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(createHash('sha1').update(subjectKeyBits).digest())),
  ]);
  const signatureAlgorithm = signerAlgorithmIdentifier(o.issuerSigner.algorithm);
  const subject = o.subject ?? `CN=OCSP Responder ${randomBytes(4).toString('hex')}`;
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: serialBytes(o.serial),
    signature: signatureAlgorithm,
    issuer: AsnConvert.parse(issuer.subjectName, Name),
    validity: new Validity({
      notBefore: new Date(o.now.getTime() - (o.backdateMs ?? 5 * 60_000)),
      notAfter: new Date(o.now.getTime() + o.validityMs),
    }),
    subject: AsnConvert.parse(new x509.Name(subject).toArrayBuffer(), Name),
    subjectPublicKeyInfo: AsnConvert.parse(spki, SubjectPublicKeyInfo),
    extensions,
  });
  const tbsDer = new Uint8Array(AsnConvert.serialize(tbs));
  const signature = await o.issuerSigner.sign(tbsDer);
  const cert = new Certificate({ tbsCertificate: tbs, signatureAlgorithm, signatureValue: signature.slice().buffer });
  const out = new x509.X509Certificate(AsnConvert.serialize(cert));
  if (!isIssuedBy(out, o.issuer))
    throw new Error(`the issuer signer's key is not the key of ${o.issuer.subject}: the responder certificate does not verify`);
  return out;
}

/** The subjectPublicKey bits of an SPKI (what SKI hashes, RFC 5280 4.2.1.2 method 1). */
function certLikeKeyBits(spki: Uint8Array): Uint8Array {
  const parsed = AsnConvert.parse(spki, SubjectPublicKeyInfo);
  return new Uint8Array(parsed.subjectPublicKey);
}

export type ResponderLintCode =
  | 'NotIssuedByIssuer'
  | 'EkuMissing'
  | 'EkuNotExactlyOcspSigning'
  | 'NoCheckMissing'
  | 'IsCa'
  | 'KeyUsageLacksDigitalSignature'
  | 'NotYetValid'
  | 'Expired';

export interface ResponderLintProblem {
  code: ResponderLintCode;
  message: string;
}

/**
 * Checks a delegated responder certificate against the profile clients and the Baseline
 * Requirements expect; an empty list means it is fit to sign. `now` defaults to the current time.
 */
export function lintResponderCert(
  cert: x509.X509Certificate,
  issuer: x509.X509Certificate,
  now: Date = new Date(),
): ResponderLintProblem[] {
  const problems: ResponderLintProblem[] = [];
  const p = (code: ResponderLintCode, message: string) => problems.push({ code, message });
  const serial = cert.serialNumber.toLowerCase();
  if (!isIssuedBy(cert, issuer))
    p('NotIssuedByIssuer', `responder certificate ${serial} (${cert.subject}) is not issued by ${issuer.subject}`);
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  if (!eku) p('EkuMissing', `responder certificate ${serial} has no extendedKeyUsage; it needs exactly id-kp-OCSPSigning`);
  else if (eku.usages.length !== 1 || eku.usages[0] !== OID_KP_OCSP_SIGNING) {
    p(
      'EkuNotExactlyOcspSigning',
      `responder certificate ${serial} extendedKeyUsage is [${eku.usages.join(', ')}], not exactly id-kp-OCSPSigning (${OID_KP_OCSP_SIGNING})`,
    );
  }
  if (!cert.extensions.some((e) => e.type === OID_OCSP_NOCHECK))
    p('NoCheckMissing', `responder certificate ${serial} lacks id-pkix-ocsp-nocheck (${OID_OCSP_NOCHECK})`);
  if (cert.getExtension(x509.BasicConstraintsExtension)?.ca) p('IsCa', `responder certificate ${serial} is a CA certificate`);
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  if (ku && !(ku.usages & x509.KeyUsageFlags.digitalSignature))
    p('KeyUsageLacksDigitalSignature', `responder certificate ${serial} keyUsage lacks digitalSignature`);
  if (cert.notBefore.getTime() > now.getTime())
    p('NotYetValid', `responder certificate ${serial} is valid only from ${cert.notBefore.toISOString()}`);
  if (cert.notAfter.getTime() <= now.getTime()) p('Expired', `responder certificate ${serial} expired at ${cert.notAfter.toISOString()}`);
  return problems;
}

/** True once `cert` is within `renewBeforeMs` of its notAfter (or past it): issue its successor now. */
export function needsRotation(cert: x509.X509Certificate, now: Date, renewBeforeMs: number): boolean {
  return cert.notAfter.getTime() - now.getTime() <= renewBeforeMs;
}

export type ResponderKeyAlg = 'P-256' | 'P-384' | 'RSA-2048';

/** A fresh in-memory responder key and its signer (the Issue mode's default key). */
export function generateResponderKey(alg: ResponderKeyAlg = 'P-256'): { privateKey: KeyObject; signer: OcspSigner } {
  const { privateKey } =
    alg === 'RSA-2048'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: alg === 'P-256' ? 'prime256v1' : 'secp384r1' });
  return { privateKey, signer: softwareSigner(privateKey) };
}

export interface SigningIdentity {
  /** the key that signs responses */
  signer: OcspSigner;
  /** the delegated responder certificate, absent when the CA key signs directly */
  responderCert?: x509.X509Certificate;
}

export interface ResponderRotatorOptions {
  issuer: x509.X509Certificate;
  issuerSigner: OcspSigner;
  validityMs: number;
  renewBeforeMs: number;
  keyAlg?: ResponderKeyAlg;
  subject?: string;
  /**
   * A responder issued earlier (persisted by the caller, e.g. in a Secret, from `onRotate`): used
   * while it lints clean and is outside renewBefore, so a restart does not force a new certificate
   * and with it a re-signing of every response.
   */
  initial?: SigningIdentity;
}

/**
 * The Issue mode: holds the current delegated responder (key in memory, certificate issued by the
 * CA key) and replaces it when it needs rotation. `current(now)` is what the signing loop asks for
 * at the start of each round; `onRotate` lets the caller persist or publish the new certificate.
 */
export class ResponderRotator {
  private identity: SigningIdentity | undefined;
  constructor(
    private readonly o: ResponderRotatorOptions,
    private readonly onRotate?: (cert: x509.X509Certificate, previous: x509.X509Certificate | undefined) => void,
  ) {
    if (o.renewBeforeMs >= o.validityMs) throw new Error('renewBefore must be shorter than the responder certificate validity');
  }

  async current(now: Date): Promise<SigningIdentity> {
    const initial = this.o.initial;
    if (!this.identity && initial?.responderCert && lintResponderCert(initial.responderCert, this.o.issuer, now).length === 0)
      this.identity = initial;
    const cert = this.identity?.responderCert;
    if (this.identity && cert && !needsRotation(cert, now, this.o.renewBeforeMs)) return this.identity;
    const key = generateResponderKey(this.o.keyAlg);
    const next = await issueDelegatedResponder({
      issuer: this.o.issuer,
      issuerSigner: this.o.issuerSigner,
      responderPublicKey: key.privateKey,
      now,
      validityMs: this.o.validityMs,
      ...(this.o.subject ? { subject: this.o.subject } : {}),
    });
    const problems = lintResponderCert(next, this.o.issuer, now);
    if (problems.length) throw new Error(`issued responder certificate fails lint: ${problems.map((x) => x.message).join('; ')}`);
    this.identity = { signer: key.signer, responderCert: next };
    this.onRotate?.(next, cert);
    return this.identity;
  }
}
