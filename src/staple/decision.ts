// The lockstep decision, pure: given what the staple Secret publishes, the certificate the source
// Secret holds and the outcome of the last refresh attempt, what the staple Secret must publish,
// whether a refresh is due, and when to look again. No I/O and no clock but the `now` passed in,
// so every lockstep case is a row of a table (test/staple/decision.test.ts).
//
// What it publishes, in order of preference (the lockstep invariant: a staple is only ever
// published beside the certificate it was validated for):
//   1. the current certificate with a response validated for it now, or earlier and still usable;
//   2. while a renewed certificate has no validated response yet: the previous pair if it is still
//      usable (KeepPreviousPair), or the new certificate with no staple (PublishWithoutStaple);
//   3. never a staple past its usable-until time: it is removed.
import { parseDuration } from '../api/duration.js';
import { formatDateTime as iso } from '../api/time.js';
import type { OcspStapleSpec, OcspStapleStatus } from '../api/staple.js';
import { certificatePem, validateOcspResponse, type CertificateView, type ValidatedResponse } from '../ocsp/index.js';
import type { RefreshRequest } from './refresh-request.js';
import { jitterSeed, refreshTime, retryDelay } from './schedule.js';
import { tlsCrtPem, type SourceCertificate } from './source.js';
import { samePublication, type CertificatePair, type Publication, type Published, type PublishedStaple } from './staple-secret.js';

/** The outcome of one refresh attempt: a response fit to publish, or why there is none. */
export type Attempt = { ok: true; response: ValidatedResponse } | { ok: false; reason: string; message: string; detail?: string };

/** What a response must be checked against: the current certificate, its issuer and the spec's margins. */
export interface ResponseChecks {
  cert: CertificateView;
  issuer: CertificateView;
  clockSkewMs: number;
  signerMinRemainingMs: number;
}

export function responseChecks(
  cert: Pick<SourceCertificate, 'leaf' | 'issuer'>,
  spec: Pick<OcspStapleSpec, 'clockSkew' | 'signerMinRemaining'>,
): ResponseChecks {
  return {
    cert: cert.leaf,
    issuer: cert.issuer,
    clockSkewMs: parseDuration(spec.clockSkew),
    signerMinRemainingMs: parseDuration(spec.signerMinRemaining),
  };
}

/**
 * A fetched response judged for publication: validated for the current certificate at `now` (the
 * time of the fetch, by the clock the schedule uses), not older than the staple held, and not
 * `unknown` unless spec.publishUnknown allows it.
 */
export function judgeResponse(o: {
  body: Uint8Array;
  url: string;
  serial: string;
  checks: ResponseChecks;
  now: number;
  nonce?: Uint8Array;
  held?: ValidatedResponse;
  publishUnknown: boolean;
}): Attempt {
  const verdict = validateOcspResponse(o.body, { ...o.checks, now: new Date(o.now), nonce: o.nonce });
  if (!verdict.ok)
    return { ok: false, reason: verdict.reason, message: `response from ${o.url} rejected: ${verdict.message}`, detail: verdict.message };
  const r = verdict.response;
  if (o.held && r.thisUpdate < o.held.thisUpdate) {
    return {
      ok: false,
      reason: 'NotNewer',
      message: `response from ${o.url} (thisUpdate ${iso(r.thisUpdate)}) is older than the published one (${iso(o.held.thisUpdate)}); kept the published one`,
    };
  }
  // Browsers fail on a stapled `unknown` (certmagic staples only good): by default it is a
  // failed refresh, so the previous usable staple stays and the failure backoff applies.
  if (r.certStatus === 'unknown' && !o.publishUnknown) {
    return {
      ok: false,
      reason: 'ResponderSaysUnknown',
      message: `responder ${o.url} says certificate ${o.serial} is unknown (not in its records); a stapled unknown is an error to browsers, so it is not published (spec.publishUnknown allows it)`,
    };
  }
  return { ok: true, response: r };
}

/** The staple published for the current certificate, re-checked now. */
export interface Held {
  /** It is for this very certificate and still valid: it may stay. */
  response?: ValidatedResponse;
  /** It is a published `unknown` and spec.publishUnknown has been turned off: it goes. */
  refused: boolean;
}

export function heldStaple(o: {
  published?: Publication;
  certSha256: string;
  checks: ResponseChecks;
  now: number;
  publishUnknown: boolean;
}): Held {
  const p = o.published;
  if (p?.pair.sha256 !== o.certSha256 || !p.staple) return { refused: false };
  const v = validateOcspResponse(p.staple.der, { ...o.checks, now: new Date(o.now) });
  if (!v.ok) return { refused: false };
  if (v.response.certStatus === 'unknown' && !o.publishUnknown) return { refused: true };
  return { response: v.response, refused: false };
}

/**
 * Whether to fetch now: a new certificate or spec, the planned time reached, nothing held and no
 * backoff running, or a refresh request (`kubectl ocsp refresh`) past spec.refresh.minInterval.
 * `refresh` is the pending request not yet served.
 */
export function refreshDue(o: {
  now: number;
  prev: OcspStapleStatus;
  certSha256: string;
  generation?: number;
  held?: ValidatedResponse;
  refresh?: RefreshRequest;
}): { due: boolean; scheduled: number } {
  const scheduled = o.prev.nextRefreshTime ? Date.parse(o.prev.nextRefreshTime) : 0;
  const inBackoff = (o.prev.consecutiveFailures ?? 0) > 0;
  const certChanged = o.prev.certificate?.sha256 !== o.certSha256;
  const specChanged = o.prev.observedGeneration !== o.generation;
  const requested = o.refresh !== undefined && o.now >= o.refresh.notBefore;
  return { due: certChanged || specChanged || o.now >= scheduled || (!o.held && !inBackoff) || requested, scheduled };
}

/** What the staple Secret is to publish, named for logs and tests. */
export type PublishAction =
  /** the current certificate with the response just validated for it */
  | 'PublishStaple'
  /** the current certificate's staple, still valid for it, stays */
  | 'KeepStaple'
  /** a renewed certificate has no staple yet: the previous certificate (and its staple while usable) stays */
  | 'KeepPreviousPair'
  /** the current certificate alone: no staple for it (yet), or no OCSP for it at all */
  | 'PublishWithoutStaple'
  /** the staple passed its usable-until time (or no longer validates) and goes; its certificate stays */
  | 'RemoveExpiredStaple'
  /** the source cannot be read: the pair published stays, a consistent pair */
  | 'KeepPublished'
  /** nothing is published and there is nothing to publish */
  | 'Nothing';

export interface DecisionInput {
  now: number;
  /** What the staple Secret publishes now (undefined: no staple Secret of ours yet). */
  published?: Publication;
  /** The current certificate; undefined when its source Secret cannot be read. */
  current?: CertificatePair;
  /** The current certificate has an OCSP responder (its AIA or spec.responderURL). */
  hasResponder: boolean;
  onRenewal: OcspStapleSpec['onRenewal'];
  held?: Held;
  /** This reconcile's refresh attempt; undefined when none was due. */
  attempt?: Attempt;
}

export interface Decision {
  action: PublishAction;
  /** What the staple Secret must hold (what it publishes, maybe without its staple, or a new publication); undefined: nothing to publish. */
  desired?: Published | Publication;
  /** `desired` differs from what is published: the Secret is written. */
  write: boolean;
  /** The response published beside the current certificate, if any. */
  served?: ValidatedResponse;
  /** The current certificate's staple was removed because it is no longer usable. */
  removedExpired: boolean;
}

/** With a current certificate there is always something to publish. */
export function decide(i: DecisionInput & { current: CertificatePair }): Decision & { desired: Published | Publication };
export function decide(i: DecisionInput): Decision;
export function decide(i: DecisionInput): Decision {
  const { now, published } = i;
  const done = (action: PublishAction, desired: Published | Publication | undefined, extra: Partial<Decision> = {}): Decision => ({
    action,
    desired,
    write: !!desired && !samePublication(published, desired),
    removedExpired: false,
    ...extra,
  });
  if (!i.current) {
    // Whatever is published stays (it is still a consistent pair) until its staple expires.
    if (!published) return done('Nothing', undefined);
    const kept = dropExpired(published, now);
    return done(kept === published ? 'KeepPublished' : 'RemoveExpiredStaple', kept);
  }
  const pair = i.current;
  if (!i.hasResponder) return done('PublishWithoutStaple', { pair });

  const sameCert = published?.pair.sha256 === pair.sha256;
  const held = i.held?.response;
  const attempt = i.attempt;
  if (attempt?.ok) {
    const desired = { pair, staple: publishedStaple(attempt.response) };
    return done('PublishStaple', desired, { served: attempt.response });
  }
  if (held && published?.staple) return done('KeepStaple', { pair, staple: published.staple }, { served: held });
  if (published && !sameCert && i.onRenewal === 'KeepPreviousPair' && pairStillValid(published, now)) {
    return done('KeepPreviousPair', dropExpired(published, now));
  }
  const removedExpired = !!published?.staple && sameCert && !i.held?.refused;
  return done(removedExpired ? 'RemoveExpiredStaple' : 'PublishWithoutStaple', { pair }, { removedExpired });
}

/** When to fetch next (status.nextRefreshTime) and when to look again (the requeue). */
export interface NextLook {
  nextRefresh: number;
  wake: number;
}

/**
 * After a failure: the capped exponential backoff, never past the published staple's end. After a
 * response: its planned refresh (a fraction into its window, jittered per staple). With neither:
 * retryInitial. A plan made earlier stands until it is due. The wake is the soonest of the next
 * refresh, the staple's end (it must be removed on time), the moment the delegated signer enters
 * its warning window (the condition must turn then) and a refresh request's earliest time.
 */
export function nextLook(o: {
  now: number;
  spec: Pick<OcspStapleSpec, 'refresh' | 'signerExpiryWarning'>;
  /** Stable per staple (its uid): spreads staples of one responder apart. */
  seedKey: string;
  certSha256: string;
  failures: number;
  decision: Pick<Decision, 'desired' | 'served'>;
  due: boolean;
  scheduled: number;
  /** A refresh request that waits for spec.refresh.minInterval. */
  waitingRefresh?: RefreshRequest;
}): NextLook {
  const { now, spec } = o;
  const served = o.decision.served;
  const usableUntil = o.decision.desired?.staple ? Date.parse(o.decision.desired.staple.usableUntil) : undefined;
  const seed = jitterSeed(o.seedKey, o.certSha256, served ? iso(served.thisUpdate) : '');
  let next: number;
  if (o.failures > 0) {
    next =
      now +
      retryDelay({
        failures: o.failures,
        initialMs: parseDuration(spec.refresh.retryInitial),
        maxMs: parseDuration(spec.refresh.retryMax),
        now,
        deadline: usableUntil,
        seed,
      });
  } else if (served) {
    next = refreshTime({
      thisUpdate: served.thisUpdate.getTime(),
      nextUpdate: served.nextUpdate.getTime(),
      usableUntil: served.usableUntil.getTime(),
      now,
      policy: { fraction: spec.refresh.fraction, jitter: spec.refresh.jitter, minIntervalMs: parseDuration(spec.refresh.minInterval) },
      seed,
    });
  } else {
    next = now + parseDuration(spec.refresh.retryInitial);
  }
  if (!o.due && o.scheduled > now) next = o.scheduled; // keep the plan made when the response arrived
  const signerWarnAt = served?.signer.delegated ? served.signer.notAfter.getTime() - parseDuration(spec.signerExpiryWarning) : Infinity;
  const wake = Math.min(
    next,
    usableUntil ?? Infinity,
    signerWarnAt > now ? signerWarnAt : Infinity,
    o.waitingRefresh?.notBefore ?? Infinity,
  );
  return { nextRefresh: next, wake };
}

/** With the source unreadable: look again when the published staple must go. */
export function expiryWake(desired: Published | Publication | undefined): number | undefined {
  return desired?.staple ? Date.parse(desired.staple.usableUntil) : undefined;
}

/** The current certificate as the staple Secret publishes it: certificate, key and the issuer validated against travel together. */
export function pairOf(cert: SourceCertificate): CertificatePair {
  return {
    serial: cert.serial,
    sha256: cert.sha256,
    digest: cert.pairDigest,
    pems: () => ({ certPem: tlsCrtPem(cert), keyPem: cert.keyPem, caPem: cert.caPem, issuerPem: certificatePem(cert.issuer) }),
  };
}

/** A validated response as the staple Secret publishes it. */
export function publishedStaple(r: ValidatedResponse): PublishedStaple {
  return { der: r.der, thisUpdate: iso(r.thisUpdate), nextUpdate: iso(r.nextUpdate), usableUntil: iso(r.usableUntil) };
}

/** The same publication without a staple that is past its usable-until time. */
function dropExpired(p: Publication, now: number): Publication {
  return p.staple && Date.parse(p.staple.usableUntil) <= now ? { ...p, staple: undefined } : p;
}

function pairStillValid(p: Publication, now: number): boolean {
  return p.pair.notAfter > now;
}
