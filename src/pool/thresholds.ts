// The pool's conditions, computed from what was observed of its certificates and responses. One
// pure function, so each threshold is tested without a cluster: freshness over all responses (not
// one canary), the Baseline Requirements' re-signing deadlines, signer and issuer certificate
// expiry, replication lag, and how long new certificates wait for a first response. Messages name
// instants, not ages: an age grows by itself, and a message that changes on every look would
// rewrite the status every time the pool is looked at.
import { formatDuration } from '../api/duration.js';
import { PoolConditionType as T, PoolReason as R, readyFrom, type PoolCondition } from './conditions.js';

export interface ReplicaObservation {
  name: string;
  lagMs: number;
  detached: boolean;
}

export interface PoolObservation {
  now: number;
  certificates: number;
  /** Certificates with no response at all, and since when the longest-waiting one has waited. */
  missing: number;
  oldestMissing?: { serial: string; since: number };
  /** Oldest thisUpdate and soonest nextUpdate over all stored responses. */
  oldestThisUpdate?: number;
  soonestNextUpdate?: number;
  /** Responses whose signing certificate expires before their nextUpdate. */
  outlivingTheirSigner: number;
  signerNotAfter?: number;
  signerSubject?: string;
  issuerNotAfter?: number;
  replicas: ReplicaObservation[];
}

export interface PoolThresholds {
  freshnessWarningAgeMs: number;
  freshnessCriticalAgeMs: number;
  signerExpiryWarningMs: number;
  issuerExpiryWarningMs: number;
  newCertificateTargetMs: number;
  maxReplicationLagMs: number;
  responseValidityMs: number;
}

const HOUR = 3_600_000;
const BR_MAX_AGE_MS = 96 * HOUR; // re-signed no later than 4 days after thisUpdate
const BR_MIN_BEFORE_NEXT_UPDATE_MS = 8 * HOUR; // and at least 8 hours before nextUpdate
const BR_LONG_VALIDITY_MS = 16 * HOUR; // the two rules above apply from this validity on

const age = (ms: number) => formatDuration(Math.max(0, Math.round(ms / 1000) * 1000));
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function poolConditions(o: PoolObservation, t: PoolThresholds): PoolCondition[] {
  const out: PoolCondition[] = [];
  const oldestAge = o.oldestThisUpdate === undefined ? undefined : o.now - o.oldestThisUpdate;

  if (oldestAge === undefined) {
    out.push({
      type: T.Fresh,
      status: o.certificates ? 'False' : 'True',
      reason: o.certificates ? R.NoResponses : R.NoCertificates,
      message: o.certificates ? `${o.certificates} certificates and no signed response yet` : 'no certificates to answer for',
    });
  } else if (oldestAge >= t.freshnessCriticalAgeMs) {
    out.push({
      type: T.Fresh,
      status: 'False',
      reason: R.ResponsesCritical,
      message: `the oldest response was signed at ${iso(o.oldestThisUpdate!)}, past the critical age ${age(t.freshnessCriticalAgeMs)}; responses expire at ${age(t.responseValidityMs)}`,
    });
  } else if (oldestAge >= t.freshnessWarningAgeMs) {
    out.push({
      type: T.Fresh,
      status: 'False',
      reason: R.ResponsesStale,
      message: `the oldest response was signed at ${iso(o.oldestThisUpdate!)}, past the warning age ${age(t.freshnessWarningAgeMs)}`,
    });
  } else {
    out.push({
      type: T.Fresh,
      status: 'True',
      reason: R.ResponsesFresh,
      message: `the oldest response was signed at ${iso(o.oldestThisUpdate!)}, within the warning age ${age(t.freshnessWarningAgeMs)}`,
    });
  }

  const br: string[] = [];
  if (t.responseValidityMs >= BR_LONG_VALIDITY_MS) {
    if (oldestAge !== undefined && oldestAge > BR_MAX_AGE_MS)
      br.push(`a response was signed at ${iso(o.oldestThisUpdate!)}, more than 96h ago`);
    if (o.soonestNextUpdate !== undefined && o.soonestNextUpdate - o.now < BR_MIN_BEFORE_NEXT_UPDATE_MS) {
      br.push(`a response reaches its nextUpdate at ${iso(o.soonestNextUpdate)} without having been re-signed 8h before`);
    }
  }
  if (o.oldestMissing && o.now - o.oldestMissing.since > 15 * 60_000)
    br.push(`certificate ${o.oldestMissing.serial} has had no response since ${iso(o.oldestMissing.since)} (at most 15m)`);
  out.push(
    br.length
      ? { type: T.BaselineRequirements, status: 'False', reason: R.DeadlineMissed, message: br.join('; ') }
      : {
          type: T.BaselineRequirements,
          status: 'True',
          reason: R.DeadlinesMet,
          message: 'every response is within the re-signing deadlines',
        },
  );

  const expiring: string[] = [];
  if (o.signerNotAfter !== undefined && o.signerNotAfter - o.now < t.signerExpiryWarningMs) {
    expiring.push(`responder certificate ${o.signerSubject ?? ''} expires at ${iso(o.signerNotAfter)}`.replace('  ', ' '));
  }
  if (o.issuerNotAfter !== undefined && o.issuerNotAfter - o.now < t.issuerExpiryWarningMs)
    expiring.push(`the issuer certificate expires at ${iso(o.issuerNotAfter)}`);
  if (o.outlivingTheirSigner > 0)
    expiring.push(`${o.outlivingTheirSigner} responses are valid past their signer's expiry and must be re-signed first`);
  out.push(
    expiring.length
      ? { type: T.SignerCertificateExpiring, status: 'True', reason: R.SignerExpiresSoon, message: expiring.join('; ') }
      : {
          type: T.SignerCertificateExpiring,
          status: 'False',
          reason: R.SignerValid,
          message: 'signer and issuer certificates are outside their warning windows',
        },
  );

  const lagging = o.replicas.filter((r) => r.detached || r.lagMs > t.maxReplicationLagMs);
  out.push(
    lagging.length
      ? {
          type: T.Replicated,
          status: 'False',
          reason: R.ReplicaLagging,
          message: `out of rotation: ${lagging.map((r) => (r.detached ? `${r.name} (not replicating)` : `${r.name} (${age(r.lagMs)} behind)`)).join(', ')}`,
        }
      : {
          type: T.Replicated,
          status: 'True',
          reason: R.ReplicasCurrent,
          message: o.replicas.length ? `${o.replicas.length} replicas within ${age(t.maxReplicationLagMs)}` : 'no replicas',
        },
  );

  const waited = o.oldestMissing ? o.now - o.oldestMissing.since : 0;
  out.push(
    o.oldestMissing && waited > t.newCertificateTargetMs
      ? {
          type: T.NewCertificatesServed,
          status: 'False',
          reason: R.NewCertificateWaiting,
          message: `certificate ${o.oldestMissing.serial} has waited since ${iso(o.oldestMissing.since)} for its first response (target ${age(t.newCertificateTargetMs)}); ${o.missing} without a response`,
        }
      : {
          type: T.NewCertificatesServed,
          status: 'True',
          reason: R.WithinTarget,
          message: o.missing ? `${o.missing} new certificates, none waiting past the target` : 'every certificate has a response',
        },
  );

  out.push(readyFrom(out, o.certificates));
  return out;
}
