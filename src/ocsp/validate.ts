// Strict validation of an OCSP response for one certificate: the gate before anything is stapled.
import { certDer, derIssuedBy, type CertDer, type CertificateView } from './cert-der.js';
import { certHashes, issuerHashes } from './cert-id.js';
import { serialBytesToHex } from './certificate.js';
import { equalBytes, toHex } from './der.js';
import { nameString } from './dn.js';
import type { IncludedCert } from './included-cert.js';
import { findNonce } from './nonce.js';
import { CRL_REASON_BY_CODE, hashAlgorithmFromOid, type HashAlgorithm } from './oids.js';
import { fail, readResponse, type Failure, type Included, type SingleResponse } from './response.js';
import { verifySignature } from './signature.js';

export type { FailureReason } from './response.js';

export type CertStatus = 'good' | 'revoked' | 'unknown';

export interface ValidatedResponse {
  der: Uint8Array;
  certStatus: CertStatus;
  revocationTime?: Date;
  /** e.g. 'keyCompromise' */
  revocationReason?: string;
  thisUpdate: Date;
  nextUpdate: Date;
  producedAt: Date;
  signer: { subject: string; serial: string; notAfter: Date; delegated: boolean };
  /** the earliest of nextUpdate, the delegated signer's notAfter and the certificate's notAfter */
  usableUntil: Date;
  certIdHash: HashAlgorithm;
}

export type Verdict = { ok: true; response: ValidatedResponse } | Failure;

export interface ValidationOptions {
  cert: CertificateView;
  issuer: CertificateView;
  now: Date;
  /** how far thisUpdate/producedAt may be ahead of now (the responder's clock is ahead); default 5 minutes. Not applied to nextUpdate. */
  clockSkewMs?: number;
  /** nextUpdate must be at least this far from now; default 0 */
  minRemainingMs?: number;
  /** a delegated signer certificate must outlive now by this; default 1 hour */
  signerMinRemainingMs?: number;
  /** the nonce we sent; the response must echo it */
  nonce?: Uint8Array;
}

const MINUTE = 60_000;

/** Validates `body` as the OCSP response for `o.cert`. Never throws, whatever the bytes. */
export function validateOcspResponse(body: Uint8Array, o: ValidationOptions): Verdict {
  try {
    return validate(body, o);
  } catch (e) {
    // Anything unforeseen in a hostile body is still only a malformed response.
    return fail('Malformed', `response could not be processed: ${(e as Error)?.message ?? String(e)}`);
  }
}

function iso(d: Date): string {
  return d.toISOString();
}

function validate(body: Uint8Array, o: ValidationOptions): Verdict {
  const skew = o.clockSkewMs ?? 5 * MINUTE;
  const now = o.now.getTime();
  const decoded = readResponse(body);
  if (!decoded.ok) return decoded;
  const { data, tbs, signatureAlgorithm, signature, included, responderId } = decoded;
  if (data.version !== 0) return fail('Malformed', `ResponseData version ${String(data.version)} is not v1`);

  // 1. The SingleResponse about our certificate, under whatever hash its CertID uses.
  const picked = pickSingle(data.responses, o.cert, o.issuer);
  if ('reason' in picked) return picked;
  const { single, certIdHash } = picked;

  // 2. Who signed, and may they.
  const signer = findSigner(included, responderId, o.issuer);
  if ('reason' in signer) return signer;
  const sig = verifySignature(signatureAlgorithm, tbs, signature, signer.der.publicKey);
  if (!sig.ok) {
    return fail(sig.unsupported ? 'UnsupportedAlgorithm' : 'BadSignature', `response signature by ${signer.subject}: ${sig.message}`);
  }
  if (signer.delegated) {
    const authorized = checkDelegated(signer, o, now, skew);
    if (authorized) return authorized;
  }
  const stray = checkIncludedCerts(included, o.issuer);
  if (stray) return stray;

  // 3. Nonce, when we sent one.
  if (o.nonce) {
    const got = findNonce(data.responseExtensions);
    if (!got) return fail('NonceMismatch', `we sent nonce ${toHex(o.nonce)}; the response carries none`);
    if (!equalBytes(got, o.nonce)) return fail('NonceMismatch', `we sent nonce ${toHex(o.nonce)}; the response echoes ${toHex(got)}`);
  }

  // 4. The time window.
  const thisUpdate = single.thisUpdate;
  const producedAt = data.producedAt;
  if (thisUpdate.getTime() > now + skew) {
    return fail('NotYetValid', `thisUpdate ${iso(thisUpdate)} is in the future (now ${iso(o.now)}, skew ${skew / 1000}s)`);
  }
  if (producedAt.getTime() > now + skew) {
    return fail('NotYetValid', `producedAt ${iso(producedAt)} is in the future (now ${iso(o.now)}, skew ${skew / 1000}s)`);
  }
  const nextUpdate = single.nextUpdate;
  if (!nextUpdate)
    return fail('NoNextUpdate', `the response has no nextUpdate (thisUpdate ${iso(thisUpdate)}): it cannot say how long it is fresh`);
  if (nextUpdate.getTime() <= thisUpdate.getTime()) {
    return fail('Malformed', `nextUpdate ${iso(nextUpdate)} is not after thisUpdate ${iso(thisUpdate)}`);
  }
  // No skew here: a staple past its nextUpdate is never served, whoever's clock is right.
  if (nextUpdate.getTime() <= now) {
    return fail('Expired', `nextUpdate ${iso(nextUpdate)} has passed (now ${iso(o.now)}; thisUpdate ${iso(thisUpdate)})`);
  }
  const minRemaining = o.minRemainingMs ?? 0;
  if (nextUpdate.getTime() - now < minRemaining) {
    return fail(
      'TooShortValidity',
      `nextUpdate ${iso(nextUpdate)} is ${Math.round((nextUpdate.getTime() - now) / 1000)}s away, less than the required ${minRemaining / 1000}s (now ${iso(o.now)})`,
    );
  }

  const status = single.certStatus;
  const certStatus: CertStatus = status.good !== undefined ? 'good' : status.revoked ? 'revoked' : 'unknown';
  let usableUntil = Math.min(nextUpdate.getTime(), o.cert.notAfter.getTime());
  if (signer.delegated) usableUntil = Math.min(usableUntil, signer.notAfter.getTime());
  const response: ValidatedResponse = {
    der: body.slice(),
    certStatus,
    thisUpdate,
    nextUpdate,
    producedAt,
    signer: { subject: signer.subject, serial: serialHexOf(signer.der), notAfter: signer.notAfter, delegated: signer.delegated },
    usableUntil: new Date(usableUntil),
    certIdHash,
  };
  if (status.revoked) {
    response.revocationTime = status.revoked.revocationTime;
    const r = status.revoked.revocationReason;
    if (r !== undefined) response.revocationReason = CRL_REASON_BY_CODE[r] ?? `reason(${r})`;
  }
  return { ok: true, response };
}

// The signer's serial goes into every ValidatedResponse; its hex is made once per certificate.
const serialHexes = new WeakMap<CertDer, string>();
function serialHexOf(d: CertDer): string {
  let h = serialHexes.get(d);
  if (h === undefined) serialHexes.set(d, (h = serialBytesToHex(d.serial)));
  return h;
}

function pickSingle(
  responses: SingleResponse[],
  cert: CertificateView,
  issuer: CertificateView,
): { single: SingleResponse; certIdHash: HashAlgorithm } | Failure {
  const serial = certDer(cert).serial;
  const got: string[] = [];
  let unsupported: string | undefined;
  let sameSerialOtherIssuer = false;
  for (const single of responses) {
    const id = single.certID;
    const alg = hashAlgorithmFromOid(id.hashAlgorithm.algorithm);
    if (!alg) {
      unsupported = id.hashAlgorithm.algorithm;
      continue;
    }
    const h = issuerHashes(issuer, alg);
    const issuerMatches = equalBytes(id.issuerNameHash, h.nameHash) && equalBytes(id.issuerKeyHash, h.keyHash);
    const serialMatches = equalBytes(id.serialNumber, serial);
    if (issuerMatches && serialMatches) return { single, certIdHash: alg };
    if (serialMatches) sameSerialOtherIssuer = true;
    got.push(`${serialBytesToHex(id.serialNumber)}${issuerMatches ? '' : ' (other issuer)'}`);
  }
  if (got.length === 0 && unsupported)
    return fail('UnsupportedAlgorithm', `the only CertID hash algorithm in the response is ${unsupported}`);
  const want = `serial ${serialBytesToHex(serial)} from ${issuer.subject}`;
  if (got.length === 0) return fail('Malformed', `the response has no SingleResponse; expected ${want}`);
  return fail(
    'CertIdMismatch',
    `response is for ${got.join(', ')}, expected ${want}` +
      (sameSerialOtherIssuer ? ': the serial matches but the issuer name/key hash do not (a response from another CA)' : ''),
  );
}

interface Signer {
  der: CertDer;
  subject: string;
  notBefore: Date;
  notAfter: Date;
  delegated: boolean;
  cert?: IncludedCert;
}

type ResponderIdBytes = { byName?: Uint8Array; byKey?: Uint8Array };

function responderIdMatches(d: CertDer, rid: ResponderIdBytes): boolean {
  if (rid.byKey) return equalBytes(rid.byKey, certHashes(d, 'SHA-1').keyHash);
  // RFC 5280 name matching allows more, but responders copy the subject bytes; OpenSSL compares exactly too.
  if (rid.byName) return equalBytes(rid.byName, d.subjectName);
  return false;
}

function findSigner(certs: Included[], rid: ResponderIdBytes, issuer: CertificateView): Signer | Failure {
  const issuerDer = certDer(issuer);
  const asIssuer = (): Signer => ({
    der: issuerDer,
    subject: issuer.subject,
    notBefore: issuer.notBefore,
    notAfter: issuer.notAfter,
    delegated: false,
  });
  if (responderIdMatches(issuerDer, rid)) return asIssuer();
  for (const { cert: c } of certs) {
    if (!c || !responderIdMatches(c.der, rid)) continue;
    // The issuer's own certificate included in certs is not a delegation.
    if (equalBytes(c.der.spki, issuerDer.spki) && equalBytes(c.der.subjectName, issuerDer.subjectName)) return asIssuer();
    return { der: c.der, subject: c.subject, notBefore: c.notBefore, notAfter: c.notAfter, delegated: true, cert: c };
  }
  const described = rid.byKey ? `key hash ${toHex(rid.byKey)}` : rid.byName ? `name "${nameString(rid.byName)}"` : 'nothing';
  return fail(
    'SignerNotAuthorized',
    `responder ID ${described} is neither the issuer (${issuer.subject}) nor an included certificate (${certs.length} included)`,
  );
}

function checkDelegated(signer: Signer, o: ValidationOptions, now: number, skew: number): Failure | undefined {
  const d = signer.der;
  const issuerDer = certDer(o.issuer);
  if (!equalBytes(d.issuerName, issuerDer.subjectName)) {
    return fail(
      'SignerNotAuthorized',
      `responder certificate "${signer.subject}" is issued by "${nameString(d.issuerName)}", not by ${o.issuer.subject}`,
    );
  }
  if (!signer.cert || !derIssuedBy(d, issuerDer)) {
    return fail(
      'SignerNotAuthorized',
      `responder certificate "${signer.subject}" names ${o.issuer.subject} as issuer but its signature does not verify with that key`,
    );
  }
  if (!signer.cert.ocspSigning) {
    return fail('SignerNotAuthorized', `responder certificate "${signer.subject}" lacks extendedKeyUsage id-kp-OCSPSigning`);
  }
  if (signer.notBefore.getTime() > now + skew) {
    return fail(
      'SignerCertExpired',
      `responder certificate "${signer.subject}" is not valid before ${iso(signer.notBefore)} (now ${iso(o.now)})`,
    );
  }
  if (signer.notAfter.getTime() <= now) {
    return fail('SignerCertExpired', `responder certificate "${signer.subject}" expired at ${iso(signer.notAfter)} (now ${iso(o.now)})`);
  }
  const minLife = o.signerMinRemainingMs ?? 60 * MINUTE;
  if (signer.notAfter.getTime() - now < minLife) {
    return fail(
      'SignerCertExpiringSoon',
      `responder certificate "${signer.subject}" expires at ${iso(signer.notAfter)}, within ${minLife / 1000}s of now (${iso(o.now)})`,
    );
  }
  return undefined;
}

/**
 * Every included certificate must be the issuer, issued by the issuer, or the self-signed root that issued the issuer.
 * The certs field is outside the signature, and TLS clients look for the signer there first: a stapled
 * response carrying a corrupted or foreign certificate can fail at the client even though ours verified.
 */
function checkIncludedCerts(certs: Included[], issuer: CertificateView): Failure | undefined {
  const i = certDer(issuer);
  for (const [n, { raw, cert: c }] of certs.entries()) {
    if (equalBytes(raw, i.der)) continue;
    if (!c) return fail('Malformed', `included certificate #${n + 1} does not parse`);
    const d = c.der;
    if (derIssuedBy(d, i)) continue;
    // A root that issued our issuer: it must verify itself too, or a corrupted copy with the same key would pass.
    if (equalBytes(d.subjectName, d.issuerName) && derIssuedBy(i, d) && derIssuedBy(d, d)) continue;
    return fail('Malformed', `included certificate #${n + 1} ("${c.subject}") is neither the issuer, nor issued by it, nor its issuer`);
  }
  return undefined;
}
