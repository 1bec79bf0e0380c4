// The pool's conditions, computed from what was observed of its certificates and responses. One
// pure function, so each threshold is tested without a cluster: freshness over all responses (not
// one canary), the Baseline Requirements' re-signing deadlines, signer and issuer certificate
// expiry, replication lag, and how long new certificates wait for a first response.
import { formatDuration } from '../api/duration.js';

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

export interface PoolCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
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
    out.push({ type: 'Fresh', status: o.certificates ? 'False' : 'True', reason: o.certificates ? 'NoResponses' : 'NoCertificates', message: o.certificates ? `${o.certificates} certificates and no signed response yet` : 'no certificates to answer for' });
  } else if (oldestAge >= t.freshnessCriticalAgeMs) {
    out.push({ type: 'Fresh', status: 'False', reason: 'ResponsesCritical', message: `the oldest response is ${age(oldestAge)} old, past the critical age ${age(t.freshnessCriticalAgeMs)}; responses expire at ${age(t.responseValidityMs)}` });
  } else if (oldestAge >= t.freshnessWarningAgeMs) {
    out.push({ type: 'Fresh', status: 'False', reason: 'ResponsesStale', message: `the oldest response is ${age(oldestAge)} old, past the warning age ${age(t.freshnessWarningAgeMs)}` });
  } else {
    out.push({ type: 'Fresh', status: 'True', reason: 'ResponsesFresh', message: oldestAge !== undefined ? `the oldest response is ${age(oldestAge)} old` : 'fresh' });
  }

  const br: string[] = [];
  if (t.responseValidityMs >= BR_LONG_VALIDITY_MS) {
    if (oldestAge !== undefined && oldestAge > BR_MAX_AGE_MS) br.push(`a response is ${age(oldestAge)} old (at most 96h)`);
    if (o.soonestNextUpdate !== undefined && o.soonestNextUpdate - o.now < BR_MIN_BEFORE_NEXT_UPDATE_MS) {
      br.push(`a response reaches its nextUpdate at ${iso(o.soonestNextUpdate)} without having been re-signed 8h before`);
    }
  }
  if (o.oldestMissing && o.now - o.oldestMissing.since > 15 * 60_000) br.push(`certificate ${o.oldestMissing.serial} has had no response for ${age(o.now - o.oldestMissing.since)} (at most 15m)`);
  out.push(
    br.length
      ? { type: 'BaselineRequirements', status: 'False', reason: 'DeadlineMissed', message: br.join('; ') }
      : { type: 'BaselineRequirements', status: 'True', reason: 'DeadlinesMet', message: 'every response is within the re-signing deadlines' },
  );

  const expiring: string[] = [];
  if (o.signerNotAfter !== undefined && o.signerNotAfter - o.now < t.signerExpiryWarningMs) {
    expiring.push(`responder certificate ${o.signerSubject ?? ''} expires at ${iso(o.signerNotAfter)}`.replace('  ', ' '));
  }
  if (o.issuerNotAfter !== undefined && o.issuerNotAfter - o.now < t.issuerExpiryWarningMs) expiring.push(`the issuer certificate expires at ${iso(o.issuerNotAfter)}`);
  if (o.outlivingTheirSigner > 0) expiring.push(`${o.outlivingTheirSigner} responses are valid past their signer's expiry and must be re-signed first`);
  out.push(
    expiring.length
      ? { type: 'SignerCertificateExpiring', status: 'True', reason: 'SignerExpiresSoon', message: expiring.join('; ') }
      : { type: 'SignerCertificateExpiring', status: 'False', reason: 'SignerValid', message: 'signer and issuer certificates are outside their warning windows' },
  );

  const lagging = o.replicas.filter((r) => r.detached || r.lagMs > t.maxReplicationLagMs);
  out.push(
    lagging.length
      ? {
          type: 'Replicated',
          status: 'False',
          reason: 'ReplicaLagging',
          message: `out of rotation: ${lagging.map((r) => (r.detached ? `${r.name} (not replicating)` : `${r.name} (${age(r.lagMs)} behind)`)).join(', ')}`,
        }
      : { type: 'Replicated', status: 'True', reason: 'ReplicasCurrent', message: o.replicas.length ? `${o.replicas.length} replicas within ${age(t.maxReplicationLagMs)}` : 'no replicas' },
  );

  const waited = o.oldestMissing ? o.now - o.oldestMissing.since : 0;
  out.push(
    o.oldestMissing && waited > t.newCertificateTargetMs
      ? { type: 'NewCertificatesServed', status: 'False', reason: 'NewCertificateWaiting', message: `certificate ${o.oldestMissing.serial} has waited ${age(waited)} for its first response (target ${age(t.newCertificateTargetMs)}); ${o.missing} without a response` }
      : { type: 'NewCertificatesServed', status: 'True', reason: 'WithinTarget', message: o.missing ? `${o.missing} new certificates, none waiting past the target` : 'every certificate has a response' },
  );

  const bad = out.filter((c) => (c.type === 'SignerCertificateExpiring' ? c.status === 'True' : c.status === 'False'));
  out.push(
    bad.length
      ? { type: 'Ready', status: 'False', reason: bad[0]!.reason, message: bad.map((c) => `${c.type}: ${c.message}`).join(' | ') }
      : { type: 'Ready', status: 'True', reason: 'Serving', message: `${o.certificates} certificates answered with fresh responses` },
  );
  return out;
}
