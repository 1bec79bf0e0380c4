// The OcspStaple's condition types and their polarity in one place (the pool's are in
// src/pool/conditions.ts, with the same conventions): Ready, Fresh and MustStapleSatisfied are bad
// when False; Revoked and SignerCertificateExpiring name a fact or a coming event and are bad when
// True, as Kubernetes' own "*Pressure" conditions are. Warning Events follow the bad status. The
// conditions a reconcile produces are built here too (stapleConditions and the early-stop ones).
import { findCondition } from '../api/condition.js';
import { parseDuration } from '../api/duration.js';
import type { OcspStapleSpec, OcspStapleStatus } from '../api/staple.js';
import { formatDateTime as iso } from '../api/time.js';
import type { ValidatedResponse } from '../ocsp/index.js';
import type { ProducedCondition } from '../runtime/status-writer.js';
import type { Attempt } from './decision.js';
import type { SourceCertificate } from './source.js';
import type { Publication, Published } from './staple-secret.js';

export const StapleConditionType = {
  Ready: 'Ready',
  Fresh: 'Fresh',
  Revoked: 'Revoked',
  SignerCertificateExpiring: 'SignerCertificateExpiring',
  MustStapleSatisfied: 'MustStapleSatisfied',
} as const;
export type StapleConditionTypeName = (typeof StapleConditionType)[keyof typeof StapleConditionType];

const BAD_STATUS: Record<StapleConditionTypeName, 'True' | 'False'> = {
  Ready: 'False',
  Fresh: 'False',
  MustStapleSatisfied: 'False',
  Revoked: 'True',
  SignerCertificateExpiring: 'True',
};

/** True when the condition is in its bad state (an unknown type: when False). */
export function isBadStapleCondition(c: { type: string; status: string }): boolean {
  return c.status === (BAD_STATUS[c.type as StapleConditionTypeName] ?? 'False');
}

/** The conditions of a reconcile that fetched or held a staple (or tried to): what it publishes and how fresh it is. */
export function stapleConditions(o: {
  cert: SourceCertificate;
  /** The response published beside the current certificate, if any. */
  served: ValidatedResponse | undefined;
  attempt: Attempt | undefined;
  prev: OcspStapleStatus;
  desired: Published | Publication;
  spec: OcspStapleSpec;
  now: number;
  failures: number;
  removedExpired: boolean;
  stapleSecret: string;
}): ProducedCondition[] {
  const { cert, served: r, attempt, desired, spec, now } = o;
  const out: ProducedCondition[] = [];
  const lastFailure =
    attempt && !attempt.ok
      ? attempt
      : o.failures > 0 && o.prev.lastFailure
        ? { reason: o.prev.lastFailure.reason ?? 'Failed', message: o.prev.lastFailure.message ?? '' }
        : undefined;
  if (r) {
    out.push({
      type: 'Ready',
      status: 'True',
      reason: 'Stapled',
      message: `staple for certificate ${cert.serial} (${r.certStatus}) valid until ${iso(r.usableUntil)}`,
    });
  } else if (
    o.removedExpired ||
    (findCondition(o.prev.conditions, 'Ready')?.reason === 'StapleExpired' && desired.pair.sha256 === cert.sha256)
  ) {
    // The reason stays StapleExpired until a new staple arrives: it is the fact that matters.
    // The Ready transition's Event is the one that says it; its message names Secret and serial.
    out.push({
      type: 'Ready',
      status: 'False',
      reason: 'StapleExpired',
      message: `the staple for certificate ${cert.serial} passed its usable-until time and was removed from Secret ${o.stapleSecret}${lastFailure ? `; last refresh failed: ${lastFailure.message}` : ''}`,
    });
  } else if (desired.pair.sha256 !== cert.sha256) {
    out.push({
      type: 'Ready',
      status: 'False',
      reason: lastFailure?.reason ?? 'AwaitingStaple',
      message: `renewed certificate ${cert.serial} has no validated staple yet; the previous pair (${desired.pair.serial}) stays published${lastFailure ? `: ${lastFailure.message}` : ''}`,
    });
  } else {
    out.push({
      type: 'Ready',
      status: 'False',
      reason: lastFailure?.reason ?? 'AwaitingStaple',
      message: lastFailure?.message ?? `no validated staple yet for certificate ${cert.serial}`,
    });
  }
  // A staple is not fresh when less than freshnessWarning is left, but never before half the
  // time between the planned refresh and expiry has gone by: short-lived responses (an hour)
  // are fresh right after a refresh even though they are always under a 24 h warning.
  const warnMs = r
    ? Math.min(parseDuration(spec.freshnessWarning), ((1 - spec.refresh.fraction) * (r.nextUpdate.getTime() - r.thisUpdate.getTime())) / 2)
    : 0;
  if (lastFailure) {
    out.push({
      type: 'Fresh',
      status: 'False',
      reason: lastFailure.reason,
      message: `${o.failures} consecutive failed refresh(es): ${lastFailure.message}`,
    });
  } else if (r && r.usableUntil.getTime() - now < warnMs) {
    out.push({
      type: 'Fresh',
      status: 'False',
      reason: 'ExpiringSoon',
      message: `staple valid only until ${iso(r.usableUntil)}: the planned refresh is overdue`,
    });
  } else if (r) {
    out.push({
      type: 'Fresh',
      status: 'True',
      reason: 'Refreshed',
      message: `thisUpdate ${iso(r.thisUpdate)}, nextUpdate ${iso(r.nextUpdate)}`,
    });
  } else {
    out.push({ type: 'Fresh', status: 'False', reason: 'NoStaple', message: 'no staple is published for the current certificate' });
  }
  if (r?.certStatus === 'revoked') {
    out.push({
      type: 'Revoked',
      status: 'True',
      reason: pascal(r.revocationReason ?? 'unspecified'),
      message: `certificate ${cert.serial} was revoked at ${r.revocationTime ? iso(r.revocationTime) : 'an unstated time'} (${r.revocationReason ?? 'no reason given'}); the truthful revoked staple is served`,
    });
  } else if (r) {
    out.push({
      type: 'Revoked',
      status: 'False',
      reason: r.certStatus === 'good' ? 'Good' : 'Unknown',
      message: `the responder says ${r.certStatus}`,
    });
  }
  if (r?.signer.delegated) {
    const left = r.signer.notAfter.getTime() - now;
    out.push(
      left < parseDuration(spec.signerExpiryWarning)
        ? {
            type: 'SignerCertificateExpiring',
            status: 'True',
            reason: 'SignerExpiresSoon',
            message: `responder certificate ${r.signer.subject} expires at ${iso(r.signer.notAfter)}`,
          }
        : {
            type: 'SignerCertificateExpiring',
            status: 'False',
            reason: 'SignerValid',
            message: `responder certificate ${r.signer.subject} valid until ${iso(r.signer.notAfter)}`,
          },
    );
  }
  if (cert.mustStaple) {
    out.push(
      desired.staple && desired.pair.sha256 === cert.sha256
        ? { type: 'MustStapleSatisfied', status: 'True', reason: 'Stapled', message: 'the must-staple certificate has a staple' }
        : {
            type: 'MustStapleSatisfied',
            status: 'False',
            reason: 'MissingStaple',
            message: `certificate ${cert.serial} requires a staple (TLS Feature status_request) and none is published: clients will refuse the connection`,
          },
    );
  }
  return out;
}

/** A reconcile that stopped early (invalid spec, paused, a conflict, an unreadable source) says only Ready. */
export function readyOnly(status: ProducedCondition['status'], reason: string, message: string): ProducedCondition[] {
  return [{ type: 'Ready', status, reason, message }];
}

/** A certificate without an OCSP responder: published without a staple, and that is fine. */
export function notApplicable(serial: string): ProducedCondition[] {
  const message = `certificate ${serial} has no OCSP responder URL (no AIA id-ad-ocsp) and spec.responderURL is unset; the certificate is published without a staple`;
  return [
    { type: 'Ready', status: 'True', reason: 'NotApplicable', message },
    { type: 'Fresh', status: 'True', reason: 'NotApplicable', message: 'no OCSP for this certificate' },
  ];
}

function pascal(reason: string): string {
  return reason.charAt(0).toUpperCase() + reason.slice(1);
}
