// The staple reconciler: for one OcspStaple, read the certificate Secret and the staple Secret
// from the caches, decide what the staple Secret must publish, write it in one update if it
// differs, write status if it changed, and say when to look again.
//
// What it publishes, in order of preference (the lockstep invariant: a staple is only ever
// published beside the certificate it was validated for):
//   1. the current certificate with a response validated for it now, or earlier and still usable;
//   2. while a renewed certificate has no validated response yet: the previous pair if it is still
//      usable (KeepPreviousPair), or the new certificate with no staple (PublishWithoutStaple);
//   3. never a staple past its usable-until time: it is removed, with a Warning Event.
import type { Logger } from 'pino';
import { parseDuration } from '../api/duration.js';
import { findCondition, replaceConditions } from '../api/condition.js';
import { parseOcspStaple, stapleSecretNameFor, type OcspStaple, type OcspStapleStatus as StapleStatus } from '../api/staple.js';
import { buildOcspRequest, parsePemChain, validateOcspResponse, type ValidatedResponse } from '../ocsp/index.js';
import type { KubeClient } from '../kube/client.js';
import type { EventRecorder } from '../kube/events.js';
import { OcspStapleType, SecretType, splitKey, type KubeObject, type Secret } from '../kube/types.js';
import type { Clock } from '../base/clock.js';
import type { ReconcileResult, Reconciler } from '../runtime/controller.js';
import { sameJson } from '../runtime/same-json.js';
import { ANNOTATION_CERT_MANAGER_NAME } from '../api/annotations.js';
import { isBadStapleCondition } from './conditions.js';
import { fetchOcspResponse } from './fetch.js';
import { requestReissue } from './reissue.js';
import type { StapleMetrics } from './metrics.js';
import { jitterSeed, refreshTime, retryDelay } from './schedule.js';
import { clearRefreshRequest, refreshRequest } from './refresh-request.js';
import { CertificateSourceMemo, type CertificateSource } from './source.js';
import type { ReadCache } from '../runtime/read-cache.js';
import { buildStapleSecret, readPublished, samePublication, stapleSha256, type CertificatePair, type Published } from './staple-secret.js';

export const FIELD_MANAGER = 'ocsp-operator-staple';

export interface StapleReconcilerDeps {
  client: KubeClient;
  clock: Clock;
  log: Logger;
  events: EventRecorder;
  staples: ReadCache<KubeObject>;
  /** Data read through the filtered cache (kube/object-cache.ts); `put` holds what the reconciler wrote. */
  secrets: { load(namespace: string | undefined, name: string): Promise<Secret | undefined>; put(obj: Secret): void };
  metrics: StapleMetrics;
}

/** The outcome of one refresh attempt. */
type Attempt = { ok: true; response: ValidatedResponse; latencyMs: number } | { ok: false; reason: string; message: string };

export class StapleReconciler implements Reconciler {
  /** Source Secrets parsed once per version (source.ts): sized for one per staple and then some. */
  private readonly sources = new CertificateSourceMemo();
  /**
   * The staple as this reconciler's last status write left it, until the informer shows that
   * write: the staple Secret's event re-queues the key at once, and a reconcile that still saw the
   * old status would fetch again and PUT against a stale resourceVersion (a 409). One per staple.
   */
  private readonly written = new Map<string, { from: string; obj: KubeObject }>();
  /**
   * The refresh request (annotation value) served last, per staple, until the cache shows the
   * annotation gone: a reconcile that reads the staple before the removal arrives must not take
   * the same request for a new one and fetch twice.
   */
  private readonly servedRefresh = new Map<string, string>();

  constructor(private readonly deps: StapleReconcilerDeps) {}

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const { namespace, name } = splitKey(key);
    const raw = this.newest(key, this.deps.staples.get(namespace, name));
    if (!raw || raw.metadata?.deletionTimestamp) {
      this.deps.metrics.forget(key); // its series go with it
      this.servedRefresh.delete(key);
      return; // the staple Secret goes with it (owner reference)
    }
    const log = this.deps.log.child({ object: key, kind: 'OcspStaple' });
    const parsed = parseOcspStaple(raw);
    if (!parsed.ok) {
      await this.finish(raw, undefined, { conditions: [{ type: 'Ready', status: 'False', reason: 'InvalidSpec', message: parsed.message }] }, log);
      return;
    }
    return this.reconcileValid(key, parsed.value, raw, log);
  }

  /**
   * The cached staple, or the one this reconciler wrote when the cache still has the version that
   * write replaced (a PUT with that resourceVersion succeeded, so nothing came in between).
   */
  private newest(key: string, cached: KubeObject | undefined): KubeObject | undefined {
    const w = this.written.get(key);
    if (!w) return cached;
    if (cached && cached.metadata?.resourceVersion === w.from) return w.obj;
    this.written.delete(key); // the cache caught up (or the staple is gone)
    return cached;
  }

  private async reconcileValid(key: string, staple: OcspStaple, raw: KubeObject, log: Logger): Promise<ReconcileResult | void> {
    const { clock, secrets } = this.deps;
    const now = clock.now();
    const ns = staple.metadata.namespace ?? 'default';
    const spec = staple.spec;
    const prev = staple.status ?? {};
    const stapleSecretName = stapleSecretNameFor(spec);
    const status: StapleStatus = { ...prev, stapleSecretName, conditions: prev.conditions };

    if (spec.paused) {
      return this.finish(raw, status, { conditions: [{ type: 'Ready', status: 'Unknown', reason: 'Paused', message: 'spec.paused is true; nothing is fetched or written' }] }, log);
    }

    const current = await secrets.load(ns, stapleSecretName);
    if (current && !ownedBy(current, staple.metadata.uid)) {
      const message = `Secret ${ns}/${stapleSecretName} exists and is not owned by this OcspStaple; refusing to overwrite it`;
      return this.finish(raw, status, { conditions: [{ type: 'Ready', status: 'False', reason: 'StapleSecretConflict', message }] }, log);
    }
    const published = readPublished(current);

    const issuerRef = spec.issuerSecretRef;
    const issuerData = issuerRef ? (await secrets.load(ns, issuerRef.name))?.data?.[issuerRef.key] : undefined;
    const issuerPem = issuerData ? Buffer.from(issuerData, 'base64').toString('utf8') : undefined;
    const src = this.sources.read(await secrets.load(ns, spec.secretName), `${ns}/${spec.secretName}`, now, issuerPem);

    if (!src.ok) {
      // Whatever is published stays (it is still a consistent pair) until its staple expires.
      const desired = published && dropExpired(published, now);
      await this.publish(staple, stapleSecretName, published, desired, log);
      const message = desired && desired !== published ? `${src.message}; the published staple expired and was removed` : src.message;
      return this.finish(
        raw,
        { ...status, staple: desired?.staple ? status.staple : undefined },
        { conditions: [{ type: 'Ready', status: 'False', reason: src.reason, message }] },
        log,
        expiryRequeue(desired, now),
      );
    }
    const cert = src.source;
    status.certificate = {
      serial: cert.serial,
      sha256: cert.sha256,
      subject: cert.leaf.subject,
      issuer: cert.leaf.issuer,
      notBefore: iso(cert.leaf.notBefore),
      notAfter: iso(cert.leaf.notAfter),
      ocspURL: spec.responderURL ?? cert.ocspUrl,
      mustStaple: cert.mustStaple,
    };
    const pair = pairOf(cert);
    const responderUrl = spec.responderURL ?? cert.ocspUrl;

    if (!responderUrl) {
      await this.publish(staple, stapleSecretName, published, { pair }, log);
      this.deps.metrics.setUsableUntil(key, undefined);
      const message = `certificate ${cert.serial} has no OCSP responder URL (no AIA id-ad-ocsp) and spec.responderURL is unset; the certificate is published without a staple`;
      return this.finish(
        raw,
        { ...status, staple: undefined, nextRefreshTime: undefined, consecutiveFailures: 0 },
        {
          conditions: [
            { type: 'Ready', status: 'True', reason: 'NotApplicable', message },
            { type: 'Fresh', status: 'True', reason: 'NotApplicable', message: 'no OCSP for this certificate' },
          ],
        },
        log,
      );
    }

    const validation = {
      cert: cert.leaf,
      issuer: cert.issuer,
      clockSkewMs: parseDuration(spec.clockSkew),
      signerMinRemainingMs: parseDuration(spec.signerMinRemaining),
    };
    // The response already published for this very certificate, re-checked now.
    const sameCert = published?.pair.sha256 === cert.sha256;
    let held: ValidatedResponse | undefined;
    if (sameCert && published?.staple) {
      const v = validateOcspResponse(published.staple.der, { ...validation, now: new Date(now) });
      if (v.ok) held = v.response;
    }
    // A published `unknown` (spec.publishUnknown was on) is not held once it is turned off.
    const refusedHeld = held?.certStatus === 'unknown' && !spec.publishUnknown;
    if (refusedHeld) held = undefined;

    const scheduled = prev.nextRefreshTime ? Date.parse(prev.nextRefreshTime) : 0;
    const inBackoff = (prev.consecutiveFailures ?? 0) > 0;
    const certChanged = prev.certificate?.sha256 !== cert.sha256;
    const specChanged = prev.observedGeneration !== staple.metadata.generation;
    // `kubectl ocsp refresh`: due now, but not sooner than minInterval after the last attempt.
    const requested = refreshRequest(raw, prev.lastAttemptTime, parseDuration(spec.refresh.minInterval));
    if (!requested) this.servedRefresh.delete(key);
    const alreadyServed = requested !== undefined && this.servedRefresh.get(key) === requested.value;
    const refresh = alreadyServed ? undefined : requested;
    const due = certChanged || specChanged || now >= scheduled || (!held && !inBackoff) || (refresh !== undefined && now >= refresh.notBefore);
    if (refresh && !due) log.info({ requested: refresh.value, notBefore: iso(new Date(refresh.notBefore)) }, 'refresh request waits for spec.refresh.minInterval');

    let attempt: Attempt | undefined;
    if (due) {
      attempt = await this.attempt(cert, responderUrl, spec, validation, now, held, log);
      status.lastAttemptTime = iso(new Date(now));
      if (!attempt.ok) this.deps.metrics.refreshFailed(key, attempt.reason);
    }

    // What to publish.
    let desired: Published;
    let fresh: ValidatedResponse | undefined = held;
    if (attempt?.ok) {
      fresh = attempt.response;
      desired = { pair, staple: stapleOf(fresh) };
    } else if (held && published?.staple) {
      desired = { pair, staple: published.staple };
    } else if (published && !sameCert && spec.onRenewal === 'KeepPreviousPair' && pairStillValid(published, now)) {
      desired = dropExpired(published, now);
    } else {
      desired = { pair };
    }
    const removedExpired = !!published?.staple && sameCert && !held && !attempt?.ok && !refusedHeld;
    await this.publish(staple, stapleSecretName, published, desired, log);
    const servingCurrent = desired.pair.sha256 === cert.sha256;
    const servedResponse = servingCurrent && desired.staple ? fresh : undefined;
    this.deps.metrics.setUsableUntil(key, desired.staple ? Date.parse(desired.staple.usableUntil) : undefined);

    // Status.
    const failures = attempt ? (attempt.ok ? 0 : (prev.consecutiveFailures ?? 0) + 1) : (prev.consecutiveFailures ?? 0);
    status.consecutiveFailures = failures;
    if (attempt?.ok) status.lastSuccessTime = iso(new Date(now));
    if (attempt && !attempt.ok) status.lastFailure = { reason: attempt.reason, message: attempt.message, time: iso(new Date(now)) };
    status.staple = servedResponse ? stapleInfo(servedResponse) : undefined;

    const seed = jitterSeed(staple.metadata.uid ?? key, cert.sha256, servedResponse ? iso(servedResponse.thisUpdate) : '');
    let next: number;
    if (failures > 0) {
      const usable = desired.staple ? Date.parse(desired.staple.usableUntil) : undefined;
      next = now + retryDelay({
        failures,
        initialMs: parseDuration(spec.refresh.retryInitial),
        maxMs: parseDuration(spec.refresh.retryMax),
        now,
        deadline: usable,
        seed,
      });
    } else if (servedResponse) {
      next = refreshTime({
        thisUpdate: servedResponse.thisUpdate.getTime(),
        nextUpdate: servedResponse.nextUpdate.getTime(),
        usableUntil: servedResponse.usableUntil.getTime(),
        now,
        policy: { fraction: spec.refresh.fraction, jitter: spec.refresh.jitter, minIntervalMs: parseDuration(spec.refresh.minInterval) },
        seed,
      });
    } else {
      next = now + parseDuration(spec.refresh.retryInitial);
    }
    if (!due && scheduled > now) next = scheduled; // keep the plan made when the response arrived
    status.nextRefreshTime = iso(new Date(next));

    const conditions = this.conditionsFor({ cert, servedResponse, attempt, prev, desired, spec, now, failures, removedExpired, stapleSecret: `${ns}/${stapleSecretName}` });
    const events: PendingEvent[] = [];
    if (attempt?.ok && published && !sameCert) {
      events.push({ kind: 'Normal', reason: 'RenewedCertificateStapled', note: `certificate ${cert.serial} (replacing ${published.pair.serial}) published with its validated staple` });
    }
    if (servedResponse?.certStatus === 'revoked' && spec.onRevoked.reissue) {
      events.push(...(await this.reissue(ns, spec.secretName, cert, servedResponse, now)));
    }
    // Also look again when the delegated signer enters its warning window: the condition must
    // turn then, not at the next refresh.
    const signerWarnAt = servedResponse?.signer.delegated ? servedResponse.signer.notAfter.getTime() - parseDuration(spec.signerExpiryWarning) : Infinity;
    const wake = Math.min(next, desired.staple ? Date.parse(desired.staple.usableUntil) : Infinity, signerWarnAt > now ? signerWarnAt : Infinity, refresh && !attempt ? refresh.notBefore : Infinity);
    const result = await this.finish(raw, status, { conditions, events }, log, Math.max(0, wake - now));
    // After the status write (a PUT with the resourceVersion read, which this patch would change).
    if (refresh && attempt) {
      await clearRefreshRequest(this.deps.client, raw, refresh.value, log);
      this.servedRefresh.set(key, refresh.value);
      this.written.delete(key); // that patch moved the staple past the version remembered
    }
    return result;
  }

  private async attempt(
    cert: CertificateSource,
    url: string,
    spec: OcspStaple['spec'],
    validation: { cert: CertificateSource['leaf']; issuer: CertificateSource['issuer']; clockSkewMs: number; signerMinRemainingMs: number },
    now: number,
    held: ValidatedResponse | undefined,
    log: Logger,
  ): Promise<Attempt> {
    const req = buildOcspRequest({ cert: cert.leaf, issuer: cert.issuer, hashAlgorithm: spec.hashAlgorithm, nonce: spec.nonce });
    const fetched = await fetchOcspResponse({ url, requestDer: req.der, method: spec.method, timeoutMs: parseDuration(spec.requestTimeout) });
    const result = (r: string) => this.deps.metrics.fetchDuration.observe({ result: r }, fetched.latencyMs / 1000);
    if (!fetched.ok) {
      result(fetched.reason);
      log.warn({ responder: url, reason: fetched.reason, msg2: fetched.message }, 'OCSP fetch failed');
      return { ok: false, reason: fetched.reason, message: fetched.message };
    }
    // Validated against the time of the fetch, by the clock the schedule uses.
    const verdict = validateOcspResponse(fetched.body, { ...validation, now: new Date(now), nonce: req.nonce });
    if (!verdict.ok) {
      result(verdict.reason);
      log.warn({ responder: url, reason: verdict.reason, detail: verdict.message }, 'OCSP response rejected');
      return { ok: false, reason: verdict.reason, message: `response from ${url} rejected: ${verdict.message}` };
    }
    if (held && verdict.response.thisUpdate < held.thisUpdate) {
      result('NotNewer');
      return {
        ok: false,
        reason: 'NotNewer',
        message: `response from ${url} (thisUpdate ${iso(verdict.response.thisUpdate)}) is older than the published one (${iso(held.thisUpdate)}); kept the published one`,
      };
    }
    // Browsers fail on a stapled `unknown` (certmagic staples only good): by default it is a
    // failed refresh, so the previous usable staple stays and the failure backoff applies.
    if (verdict.response.certStatus === 'unknown' && !spec.publishUnknown) {
      result('ResponderSaysUnknown');
      log.warn({ responder: url, serial: cert.serial }, 'OCSP responder says unknown; not published');
      return {
        ok: false,
        reason: 'ResponderSaysUnknown',
        message: `responder ${url} says certificate ${cert.serial} is unknown (not in its records); a stapled unknown is an error to browsers, so it is not published (spec.publishUnknown allows it)`,
      };
    }
    result('ok');
    log.info({ responder: url, serial: cert.serial, certStatus: verdict.response.certStatus, nextUpdate: iso(verdict.response.nextUpdate), latencyMs: Math.round(fetched.latencyMs) }, 'OCSP response validated');
    return { ok: true, response: verdict.response, latencyMs: fetched.latencyMs };
  }

  /** spec.onRevoked.reissue: ask cert-manager for a new certificate (and key, after keyCompromise). */
  private async reissue(ns: string, secretName: string, cert: CertificateSource, r: ValidatedResponse, now: number): Promise<PendingEvent[]> {
    const certificateName = (await this.deps.secrets.load(ns, secretName))?.metadata?.annotations?.[ANNOTATION_CERT_MANAGER_NAME];
    if (!certificateName) {
      return [{ kind: 'Warning', reason: 'ReissueImpossible', note: `certificate ${cert.serial} is revoked but Secret ${ns}/${secretName} names no cert-manager Certificate to reissue` }];
    }
    const outcome = await requestReissue(this.deps.client, { namespace: ns, certificateName, serial: cert.serial, revocationReason: r.revocationReason, now: new Date(now) });
    if (outcome === 'requested') {
      const key = r.revocationReason === 'keyCompromise' ? ' with a new private key' : '';
      return [{ kind: 'Warning', reason: 'ReissueRequested', note: `certificate ${cert.serial} is revoked (${r.revocationReason ?? 'unspecified'}): asked cert-manager to reissue Certificate ${ns}/${certificateName}${key}` }];
    }
    if (outcome === 'no-certificate') {
      return [{ kind: 'Warning', reason: 'ReissueImpossible', note: `certificate ${cert.serial} is revoked but cert-manager Certificate ${ns}/${certificateName} does not exist` }];
    }
    return [];
  }

  private conditionsFor(o: {
    cert: CertificateSource;
    servedResponse: ValidatedResponse | undefined;
    attempt: Attempt | undefined;
    prev: StapleStatus;
    desired: Published;
    spec: OcspStaple['spec'];
    now: number;
    failures: number;
    removedExpired: boolean;
    stapleSecret: string;
  }): ConditionSpec[] {
    const { cert, servedResponse: r, attempt, desired, spec, now } = o;
    const out: ConditionSpec[] = [];
    const lastFailure = attempt && !attempt.ok ? attempt : o.failures > 0 && o.prev.lastFailure ? { reason: o.prev.lastFailure.reason ?? 'Failed', message: o.prev.lastFailure.message ?? '' } : undefined;
    if (r) {
      out.push({ type: 'Ready', status: 'True', reason: 'Stapled', message: `staple for certificate ${cert.serial} (${r.certStatus}) valid until ${iso(r.usableUntil)}` });
    } else if (o.removedExpired || (findCondition(o.prev.conditions, 'Ready')?.reason === 'StapleExpired' && desired.pair.sha256 === cert.sha256)) {
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
      out.push({ type: 'Ready', status: 'False', reason: lastFailure?.reason ?? 'AwaitingStaple', message: lastFailure?.message ?? `no validated staple yet for certificate ${cert.serial}` });
    }
    // A staple is not fresh when less than freshnessWarning is left, but never before half the
    // time between the planned refresh and expiry has gone by: short-lived responses (an hour)
    // are fresh right after a refresh even though they are always under a 24 h warning.
    const warnMs = r ? Math.min(parseDuration(spec.freshnessWarning), ((1 - spec.refresh.fraction) * (r.nextUpdate.getTime() - r.thisUpdate.getTime())) / 2) : 0;
    if (lastFailure) {
      out.push({ type: 'Fresh', status: 'False', reason: lastFailure.reason, message: `${o.failures} consecutive failed refresh(es): ${lastFailure.message}` });
    } else if (r && r.usableUntil.getTime() - now < warnMs) {
      out.push({ type: 'Fresh', status: 'False', reason: 'ExpiringSoon', message: `staple valid only until ${iso(r.usableUntil)}: the planned refresh is overdue` });
    } else if (r) {
      out.push({ type: 'Fresh', status: 'True', reason: 'Refreshed', message: `thisUpdate ${iso(r.thisUpdate)}, nextUpdate ${iso(r.nextUpdate)}` });
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
      out.push({ type: 'Revoked', status: 'False', reason: r.certStatus === 'good' ? 'Good' : 'Unknown', message: `the responder says ${r.certStatus}` });
    }
    if (r?.signer.delegated) {
      const left = r.signer.notAfter.getTime() - now;
      out.push(
        left < parseDuration(spec.signerExpiryWarning)
          ? { type: 'SignerCertificateExpiring', status: 'True', reason: 'SignerExpiresSoon', message: `responder certificate ${r.signer.subject} expires at ${iso(r.signer.notAfter)}` }
          : { type: 'SignerCertificateExpiring', status: 'False', reason: 'SignerValid', message: `responder certificate ${r.signer.subject} valid until ${iso(r.signer.notAfter)}` },
      );
    }
    if (cert.mustStaple) {
      out.push(
        desired.staple && desired.pair.sha256 === cert.sha256
          ? { type: 'MustStapleSatisfied', status: 'True', reason: 'Stapled', message: 'the must-staple certificate has a staple' }
          : { type: 'MustStapleSatisfied', status: 'False', reason: 'MissingStaple', message: `certificate ${cert.serial} requires a staple (TLS Feature status_request) and none is published: clients will refuse the connection` },
      );
    }
    return out;
  }

  /** Writes the staple Secret when what it publishes changes; nothing when it is already right. */
  private async publish(staple: OcspStaple | KubeObject, name: string, published: Published | undefined, desired: Published | undefined, log: Logger): Promise<void> {
    if (!desired || samePublication(published, desired)) return;
    const m = staple.metadata ?? {};
    const secret = buildStapleSecret({ namespace: m.namespace ?? 'default', name, owner: { name: m.name ?? '', uid: m.uid ?? '' }, published: desired });
    this.deps.secrets.put(await this.deps.client.apply<Secret>(SecretType, secret, FIELD_MANAGER));
    this.deps.metrics.secretWrites.inc({ kind: desired.staple ? 'stapled' : 'unstapled' });
    log.info(
      { secret: `${m.namespace}/${name}`, serial: desired.pair.serial, staple: desired.staple ? stapleSha256(desired.staple.der).slice(0, 16) : null },
      'staple Secret written',
    );
  }

  /** Writes status if it changed and records Events for condition transitions. */
  private async finish(
    staple: KubeObject,
    status: StapleStatus | undefined,
    update: { conditions: ConditionSpec[]; events?: PendingEvent[] },
    log: Logger,
    requeueAfterMs?: number,
  ): Promise<ReconcileResult> {
    const m = staple.metadata ?? {};
    const prevStatus = ((staple as { status?: StapleStatus }).status ?? {});
    const nowDate = new Date(this.deps.clock.now());
    const conditions = replaceConditions(
      prevStatus.conditions,
      update.conditions.map((c) => ({ ...c, observedGeneration: m.generation })),
      nowDate,
    );
    const next: StapleStatus = { ...(status ?? prevStatus), conditions, observedGeneration: m.generation };
    const events = [...(update.events ?? [])];
    for (const c of update.conditions) {
      const before = findCondition(prevStatus.conditions, c.type);
      if (before?.status === c.status && before.reason === c.reason) continue; // Events on transitions only
      const warn = isBadStapleCondition(c);
      // A first look that finds all well is one Event (Ready), not one per condition: at ten
      // thousand staples, Events would otherwise be half of all writes.
      if (!before && !warn && c.type !== 'Ready') continue;
      events.push({ kind: warn ? 'Warning' : 'Normal', reason: c.reason, note: `${c.type}=${c.status}: ${c.message}` });
    }
    if (!sameJson(next, prevStatus)) {
      // PUT with the resourceVersion read: the whole status is replaced (fields that went away go
      // away), and a concurrent writer makes this a 409 that the queue retries.
      const stored = await this.deps.client.replace(OcspStapleType, { ...(staple), status: next } as KubeObject, 'status');
      if (m.resourceVersion) this.written.set(`${m.namespace}/${m.name}`, { from: m.resourceVersion, obj: stored });
    }
    // After the write succeeded: the series say what the status says.
    this.deps.metrics.observe(`${m.namespace}/${m.name}`, {
      conditions,
      notAfter: timestamp(next.certificate?.notAfter),
      nextUpdate: timestamp(next.staple?.nextUpdate),
    });
    for (const e of events) await this.deps.events.record(OcspStapleType, staple, e.kind, e.reason, e.note);
    const ready = findCondition(conditions, 'Ready');
    log.debug({ ready: ready?.status, reason: ready?.reason, requeueAfterMs }, 'reconciled');
    return requeueAfterMs === undefined ? {} : { requeueAfterMs };
  }
}

interface ConditionSpec {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

interface PendingEvent {
  kind: 'Normal' | 'Warning';
  reason: string;
  note: string;
}

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** An RFC 3339 status time as epoch milliseconds (undefined when absent or unparsable). */
function timestamp(t: string | undefined): number | undefined {
  const ms = t === undefined ? NaN : Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}

function pascal(reason: string): string {
  return reason.charAt(0).toUpperCase() + reason.slice(1);
}

function ownedBy(secret: Secret, uid: string | undefined): boolean {
  return !!uid && (secret.metadata?.ownerReferences ?? []).some((r) => r.uid === uid);
}

function pairOf(cert: CertificateSource): CertificatePair {
  return { certPem: cert.certPem, keyPem: cert.keyPem, caPem: cert.caPem, issuerPem: cert.issuer.toString('pem'), serial: cert.serial, sha256: cert.sha256 };
}

function stapleOf(r: ValidatedResponse) {
  return { der: r.der, thisUpdate: iso(r.thisUpdate), nextUpdate: iso(r.nextUpdate), usableUntil: iso(r.usableUntil) };
}

function stapleInfo(r: ValidatedResponse): NonNullable<StapleStatus['staple']> {
  return {
    certStatus: r.certStatus,
    thisUpdate: iso(r.thisUpdate),
    nextUpdate: iso(r.nextUpdate),
    producedAt: iso(r.producedAt),
    revocationTime: r.revocationTime ? iso(r.revocationTime) : undefined,
    revocationReason: r.revocationReason as NonNullable<StapleStatus['staple']>['revocationReason'],
    signer: { subject: r.signer.subject, notAfter: iso(r.signer.notAfter), delegated: r.signer.delegated },
    usableUntil: iso(r.usableUntil),
    sha256: stapleSha256(r.der),
  };
}

/** The same publication without a staple that is past its usable-until time. */
function dropExpired(p: Published, now: number): Published {
  return p.staple && Date.parse(p.staple.usableUntil) <= now ? { pair: p.pair } : p;
}

function expiryRequeue(p: Published | undefined, now: number): number | undefined {
  return p?.staple ? Math.max(0, Date.parse(p.staple.usableUntil) - now) : undefined;
}

function pairStillValid(p: Published, now: number): boolean {
  try {
    const leaf = parsePemChain(p.pair.certPem)[0];
    return !!leaf && leaf.notAfter.getTime() > now;
  } catch {
    return false;
  }
}

