// One judgement of "a certificate and the OCSP staple beside it", shared by the prober (what a TLS
// server serves) and `kubectl ocsp inspect` (what a staple Secret holds): whom the staple names
// (its CertIDs, read even when the response does not validate, so a mismatch names both serials),
// whether it validates for exactly this certificate at `now`, and the first problem, if any.
import type { X509Certificate } from '@peculiar/x509';
import {
  decodeResponse,
  equalBytes,
  findIssuer,
  fromAsn1CertId,
  isMustStaple,
  issuerHashes,
  ocspUrls,
  serialBytesToHex,
  serialHex,
  sha256Fingerprint,
  validateOcspResponse,
  type ValidatedResponse,
} from '../ocsp/index.js';

export interface CertificateSummary {
  serial: string;
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  sha256: string;
  ocspUrls: string[];
  mustStaple: boolean;
}

/** One SingleResponse of the staple, as far as it could be read. */
export interface StapleEntry {
  serial: string;
  hashAlgorithm: string;
  /** whether its issuer name and key hashes are those of the certificate's issuer; undefined when the issuer is unknown */
  issuerMatches?: boolean;
  thisUpdate: Date;
  nextUpdate?: Date;
  certStatus: 'good' | 'revoked' | 'unknown';
}

export type ProblemReason =
  | 'NoStaple'
  | 'IssuerUnknown'
  | 'StapleMismatch'
  | 'CertificateExpired'
  | 'CertificateNotYetValid'
  | 'Revoked'
  | 'UnknownStatus'
  // every FailureReason of validateOcspResponse (Expired, BadSignature, TryLater, …)
  | (string & {});

export interface Problem {
  reason: ProblemReason;
  message: string;
}

export interface StapleCheck {
  certificate: CertificateSummary;
  /** the issuer found among the candidates, if any */
  issuer?: { subject: string; serial: string };
  staple: {
    present: boolean;
    bytes?: number;
    /** what the staple is about, when it decodes to a successful BasicOCSPResponse */
    entries?: StapleEntry[];
    /** the staple names this certificate (serial, and issuer hashes when the issuer is known); undefined without a staple */
    matchesCertificate?: boolean;
    /** passed strict validation for this certificate at `now` */
    valid?: boolean;
    validated?: ValidatedResponse;
    /** the validation failure, when it did not pass */
    failure?: Problem;
    /** when the staple stops being usable: usableUntil when validated, else the matching (or first) entry's nextUpdate */
    expiresAt?: Date;
  };
  /** the first problem is the one that matters most; empty when all is well */
  problems: Problem[];
}

export interface CheckOptions {
  /** the certificate (leaf first) and whatever else came with it */
  chain: X509Certificate[];
  /** more places the issuer may be: ca.crt, haproxy.pem.issuer, an --issuer file */
  issuerCandidates?: X509Certificate[];
  staple?: Uint8Array;
  now: Date;
  /** tolerated clock difference for thisUpdate (default 5 minutes) */
  clockSkewMs?: number;
}

const iso = (d: Date) => d.toISOString();

export function summarizeCertificate(cert: X509Certificate): CertificateSummary {
  return {
    serial: serialHex(cert),
    subject: cert.subject,
    issuer: cert.issuer,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    sha256: sha256Fingerprint(cert),
    ocspUrls: ocspUrls(cert),
    mustStaple: isMustStaple(cert),
  };
}

/** The SingleResponses of a staple; undefined when it is not a successful BasicOCSPResponse. */
export function stapleEntries(staple: Uint8Array, issuer: X509Certificate | undefined): StapleEntry[] | undefined {
  const decoded = decodeResponse(staple);
  if (!decoded.ok) return undefined;
  const out: StapleEntry[] = [];
  for (const single of decoded.data.responses) {
    const id = fromAsn1CertId(single.certID);
    const s = single.certStatus;
    const entry: StapleEntry = {
      serial: id ? serialBytesToHex(id.serialNumber) : serialBytesToHex(new Uint8Array(single.certID.serialNumber)),
      hashAlgorithm: id?.hashAlgorithm ?? single.certID.hashAlgorithm.algorithm,
      thisUpdate: single.thisUpdate,
      certStatus: s.good !== undefined ? 'good' : s.revoked ? 'revoked' : 'unknown',
    };
    if (single.nextUpdate) entry.nextUpdate = single.nextUpdate;
    if (id && issuer) {
      const h = issuerHashes(issuer, id.hashAlgorithm);
      entry.issuerMatches = equalBytes(h.nameHash, id.issuerNameHash) && equalBytes(h.keyHash, id.issuerKeyHash);
    }
    out.push(entry);
  }
  return out;
}

export function checkStaple(o: CheckOptions): StapleCheck {
  const [leaf, ...rest] = o.chain;
  if (!leaf) throw new Error('checkStaple needs at least the certificate');
  const now = o.now;
  const certificate = summarizeCertificate(leaf);
  const issuer = findIssuer(leaf, [...rest, ...(o.issuerCandidates ?? [])]);
  const problems: Problem[] = [];
  const result: StapleCheck = { certificate, staple: { present: o.staple !== undefined && o.staple.length > 0 }, problems };
  if (issuer) result.issuer = { subject: issuer.subject, serial: serialHex(issuer) };

  if (leaf.notAfter.getTime() <= now.getTime()) {
    problems.push({
      reason: 'CertificateExpired',
      message: `certificate ${certificate.serial} expired at ${iso(leaf.notAfter)} (now ${iso(now)})`,
    });
  } else if (leaf.notBefore.getTime() > now.getTime() + (o.clockSkewMs ?? 5 * 60_000)) {
    problems.push({
      reason: 'CertificateNotYetValid',
      message: `certificate ${certificate.serial} is not valid before ${iso(leaf.notBefore)} (now ${iso(now)})`,
    });
  }

  const staple = o.staple && o.staple.length > 0 ? o.staple : undefined;
  if (!staple) {
    if (certificate.ocspUrls.length > 0 || certificate.mustStaple) {
      problems.unshift({
        reason: 'NoStaple',
        message: `no OCSP staple for certificate ${certificate.serial}${certificate.mustStaple ? ' (must-staple: clients will refuse the connection)' : ''}`,
      });
    }
    return result;
  }
  const s = result.staple;
  s.bytes = staple.length;
  const entries = stapleEntries(staple, issuer);
  if (entries) {
    s.entries = entries;
    const mine = entries.find((e) => e.serial === certificate.serial && e.issuerMatches !== false);
    s.matchesCertificate = mine !== undefined;
    const shown = mine ?? entries[0];
    if (shown?.nextUpdate) s.expiresAt = shown.nextUpdate;
  } else {
    // not a successful response at all (tryLater, garbage): it names no certificate
    s.matchesCertificate = false;
  }

  if (!issuer) {
    s.valid = false;
    s.failure = {
      reason: 'IssuerUnknown',
      message: `the issuer of certificate ${certificate.serial} ("${leaf.issuer}") is not among the ${rest.length + (o.issuerCandidates?.length ?? 0)} other certificate(s) given: the staple cannot be verified`,
    };
  } else {
    const verdict = validateOcspResponse(staple, {
      cert: leaf,
      issuer,
      now,
      clockSkewMs: o.clockSkewMs ?? 5 * 60_000,
      signerMinRemainingMs: 0,
    });
    if (verdict.ok) {
      s.valid = true;
      s.validated = verdict.response;
      s.expiresAt = verdict.response.usableUntil;
    } else {
      s.valid = false;
      s.failure = { reason: verdict.reason, message: verdict.message };
    }
  }

  if (s.matchesCertificate === false && entries) {
    const names = entries.map((e) => `${e.serial}${e.issuerMatches === false ? ' (other issuer)' : ''}`).join(', ');
    problems.unshift({
      reason: 'StapleMismatch',
      message: `not in lockstep: the staple is for serial ${names}, the certificate is ${certificate.serial}`,
    });
  } else if (s.failure) {
    problems.unshift(s.failure);
  } else if (s.validated?.certStatus === 'revoked') {
    const r = s.validated;
    problems.unshift({
      reason: 'Revoked',
      message: `certificate ${certificate.serial} is revoked${r.revocationTime ? ` since ${iso(r.revocationTime)}` : ''}${r.revocationReason ? ` (${r.revocationReason})` : ''}`,
    });
  } else if (s.validated?.certStatus === 'unknown') {
    problems.unshift({ reason: 'UnknownStatus', message: `the responder says "unknown" for certificate ${certificate.serial}` });
  }
  return result;
}
