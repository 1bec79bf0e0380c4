// The staple reconciler: for one OcspStaple, read the certificate Secret and the staple Secret
// from the caches, refresh the staple when it is due (refresh.ts), decide what the staple Secret
// must publish (decision.ts: the lockstep rule, pure), write it in one update if it differs, write
// status if it changed (runtime/status-writer.ts, conditions from conditions.ts), and say when to
// look again.
import type { Logger } from 'pino';
import { parseDuration } from '../api/duration.js';
import { findCondition } from '../api/condition.js';
import { parseOcspStaple, stapleSecretNameFor, type OcspStaple, type OcspStapleStatus as StapleStatus } from '../api/staple.js';
import { formatDateTime } from '../api/time.js';
import type { ValidatedResponse } from '../ocsp/index.js';
import type { KubeApi } from '../kube/api.js';
import type { EventRecorder } from '../kube/events.js';
import { OcspStapleType, SecretType, objectKey, splitKey, type KubeObject, type Secret } from '../kube/types.js';
import type { Clock } from '../base/clock.js';
import type { ReconcileResult, Reconciler } from '../runtime/controller.js';
import type { ReadCache } from '../runtime/read-cache.js';
import { StatusWriter, type PendingEvent, type ProducedCondition } from '../runtime/status-writer.js';
import { ANNOTATION_CERT_MANAGER_NAME } from '../api/annotations.js';
import { isBadStapleCondition, notApplicable, readyOnly, stapleConditions } from './conditions.js';
import { decide, expiryWake, heldStaple, nextLook, pairOf, refreshDue, responseChecks, type Attempt, type Decision } from './decision.js';
import { LastWrites } from './last-write.js';
import type { StapleMetrics } from './metrics.js';
import { attemptRefresh } from './refresh.js';
import { clearRefreshRequest, refreshRequest } from './refresh-request.js';
import { requestReissue } from './reissue.js';
import { SourceCertificateMemo, type SourceCertificate, type SourceResult } from './source.js';
import {
  buildStapleSecret,
  overCurrent,
  Publications,
  readPair,
  readPublished,
  stapleSha256,
  type Publication,
  type Published,
} from './staple-secret.js';

export const FIELD_MANAGER = 'ocsp-operator-staple';

export interface StapleReconcilerDeps {
  client: KubeApi;
  clock: Clock;
  log: Logger;
  events: EventRecorder;
  staples: ReadCache<KubeObject>;
  /** Read through the filtered cache (kube/object-cache.ts): metadata held, data loaded; `put` passes on what the reconciler wrote. */
  secrets: {
    get(namespace: string | undefined, name: string): KubeObject | undefined;
    load(namespace: string | undefined, name: string): Promise<Secret | undefined>;
    /** Certainly absent as of the watch's latest event (no GET needed to learn it). */
    knownAbsent(namespace: string | undefined, name: string): boolean;
    put(obj: Secret): void;
  };
  metrics: StapleMetrics;
}

export class StapleReconciler implements Reconciler {
  /** Source Secrets parsed once per version (source.ts): sized for one per staple and then some. */
  private readonly sources = new SourceCertificateMemo();
  /** This reconciler's own writes, one entry per staple, until the cache shows them (last-write.ts). */
  private readonly lastWrites = new LastWrites();
  /** What each staple's Secret publishes, per version of it (staple-secret.ts): the Secret's data is not held. */
  private readonly publications = new Publications();
  /**
   * Staples whose Secret is being written, with the versions of it the watch showed meanwhile: the
   * write's own version often comes through the watch before its answer, and is no news once the
   * answer names it. Staples a version other than the answer's came for, to look at again.
   */
  private readonly writing = new Map<string, KubeObject[]>();
  private readonly changedWhileWriting = new Set<string>();
  private readonly statusWriter: StatusWriter;

  constructor(private readonly deps: StapleReconcilerDeps) {
    this.statusWriter = new StatusWriter({
      client: deps.client,
      clock: deps.clock,
      events: deps.events,
      type: OcspStapleType,
      isBad: isBadStapleCondition,
    });
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    let result: ReconcileResult | void;
    try {
      result = await this.reconcileStaple(key);
    } finally {
      // Someone else's version of the staple Secret arrived while ours was written: look again now
      // (after a failure the retry reads everything again anyway).
      if (this.changedWhileWriting.delete(key)) result = { requeueAfterMs: 0 };
    }
    return result;
  }

  private async reconcileStaple(key: string): Promise<ReconcileResult | void> {
    const { namespace, name } = splitKey(key);
    const raw = this.lastWrites.newest(key, this.deps.staples.get(namespace, name));
    if (!raw || raw.metadata?.deletionTimestamp) {
      this.deps.metrics.forget(key); // its series go with it
      this.lastWrites.forget(key);
      this.publications.forget(key);
      return; // the staple Secret goes with it (owner reference)
    }
    const log = this.deps.log.child({ object: key, kind: 'OcspStaple' });
    const parsed = parseOcspStaple(raw);
    if (!parsed.ok) {
      await this.finish(raw, undefined, readyOnly('False', 'InvalidSpec', parsed.message), log);
      return;
    }
    return this.reconcileValid(key, parsed.value, raw, log);
  }

  private async reconcileValid(key: string, staple: OcspStaple, raw: KubeObject, log: Logger): Promise<ReconcileResult | void> {
    const { clock, secrets, metrics } = this.deps;
    const now = clock.now();
    const ns = staple.metadata.namespace ?? 'default';
    const spec = staple.spec;
    const prev = staple.status ?? {};
    const stapleSecretName = stapleSecretNameFor(spec);
    const status: StapleStatus = { ...prev, stapleSecretName, conditions: prev.conditions };

    if (spec.paused) {
      return this.finish(raw, status, readyOnly('Unknown', 'Paused', 'spec.paused is true; nothing is fetched or written'), log);
    }

    const { current, published } = await this.readStapleSecret(key, ns, stapleSecretName);
    if (current && !ownedBy(current, staple.metadata.uid)) {
      const message = `Secret ${ns}/${stapleSecretName} exists and is not owned by this OcspStaple; refusing to overwrite it`;
      return this.finish(raw, status, readyOnly('False', 'StapleSecretConflict', message), log);
    }

    const issuerRef = spec.issuerSecretRef;
    const issuerData = issuerRef ? (await secrets.load(ns, issuerRef.name))?.data?.[issuerRef.key] : undefined;
    const issuerPem = issuerData ? Buffer.from(issuerData, 'base64').toString('utf8') : undefined;
    const src = await this.readSource(ns, spec.secretName, now, issuerPem);

    if (!src.ok) {
      const decision = decide({ now, published, hasResponder: false, onRenewal: spec.onRenewal });
      await this.publish(staple, stapleSecretName, current, decision, log);
      const message =
        decision.action === 'RemoveExpiredStaple' ? `${src.message}; the published staple expired and was removed` : src.message;
      const wake = expiryWake(decision.desired);
      return this.finish(
        raw,
        { ...status, staple: decision.desired?.staple ? status.staple : undefined },
        readyOnly('False', src.reason, message),
        log,
        wake === undefined ? undefined : Math.max(0, wake - now),
      );
    }
    const cert = src.source;
    const responderUrl = spec.responderURL ?? cert.ocspUrl;
    status.certificate = {
      serial: cert.serial,
      sha256: cert.sha256,
      subject: cert.leaf.subject,
      issuer: cert.leaf.issuer,
      notBefore: iso(cert.leaf.notBefore),
      notAfter: iso(cert.leaf.notAfter),
      ocspURL: responderUrl,
      mustStaple: cert.mustStaple,
    };
    const pair = pairOf(cert);

    if (!responderUrl) {
      await this.publish(
        staple,
        stapleSecretName,
        current,
        decide({ now, published, current: pair, hasResponder: false, onRenewal: spec.onRenewal }),
        log,
      );
      metrics.setUsableUntil(key, undefined);
      return this.finish(
        raw,
        { ...status, staple: undefined, nextRefreshTime: undefined, consecutiveFailures: 0 },
        notApplicable(cert.serial),
        log,
      );
    }

    const checks = responseChecks(cert, spec);
    // The response already published for this very certificate, re-checked now.
    const held = heldStaple({ published, certSha256: cert.sha256, checks, now, publishUnknown: spec.publishUnknown });
    // `kubectl ocsp refresh`: due now, but not sooner than minInterval after the last attempt.
    const refresh = this.lastWrites.pending(key, refreshRequest(raw, prev.lastAttemptTime, parseDuration(spec.refresh.minInterval)));
    const { due, scheduled } = refreshDue({
      now,
      prev,
      certSha256: cert.sha256,
      generation: staple.metadata.generation,
      held: held.response,
      refresh,
    });
    if (refresh && !due)
      log.info(
        { requested: refresh.value, notBefore: iso(new Date(refresh.notBefore)) },
        'refresh request waits for spec.refresh.minInterval',
      );

    let attempt: Attempt | undefined;
    if (due) {
      attempt = await attemptRefresh({ cert, url: responderUrl, spec, checks, now, held: held.response, metrics, log });
      status.lastAttemptTime = iso(new Date(now));
      if (!attempt.ok) metrics.refreshFailed(key, attempt.reason);
    }

    const decision = decide({ now, published, current: pair, hasResponder: true, onRenewal: spec.onRenewal, held, attempt });
    const { desired, served } = decision;
    await this.publish(staple, stapleSecretName, current, decision, log);
    metrics.setUsableUntil(key, desired.staple ? Date.parse(desired.staple.usableUntil) : undefined);

    // Status.
    const failures = attempt ? (attempt.ok ? 0 : (prev.consecutiveFailures ?? 0) + 1) : (prev.consecutiveFailures ?? 0);
    status.consecutiveFailures = failures;
    if (attempt?.ok) status.lastSuccessTime = iso(new Date(now));
    if (attempt && !attempt.ok) status.lastFailure = { reason: attempt.reason, message: attempt.message, time: iso(new Date(now)) };
    status.staple = served ? stapleInfo(served) : undefined;
    const look = nextLook({
      now,
      spec,
      seedKey: staple.metadata.uid ?? key,
      certSha256: cert.sha256,
      failures,
      decision,
      due,
      scheduled,
      waitingRefresh: attempt ? undefined : refresh,
    });
    status.nextRefreshTime = iso(new Date(look.nextRefresh));

    const conditions = stapleConditions({
      cert,
      served,
      attempt,
      prev,
      desired,
      spec,
      now,
      failures,
      removedExpired: decision.removedExpired,
      stapleSecret: `${ns}/${stapleSecretName}`,
    });
    const events: PendingEvent[] = [];
    if (attempt?.ok && published && published.pair.sha256 !== cert.sha256) {
      events.push({
        type: 'Normal',
        reason: 'RenewedCertificateStapled',
        note: `certificate ${cert.serial} (replacing ${published.pair.serial}) published with its validated staple`,
      });
    }
    if (served?.certStatus === 'revoked' && spec.onRevoked.reissue) {
      events.push(...(await this.reissue(ns, spec.secretName, cert, served, now)));
    }
    const result = await this.finish(raw, status, conditions, log, Math.max(0, look.wake - now), events);
    // After the status write (a PUT with the resourceVersion read, which this patch would change).
    if (refresh && attempt) {
      await clearRefreshRequest(this.deps.client, raw, refresh.value, log);
      this.lastWrites.servedRefresh(key, refresh.value);
    }
    return result;
  }

  /** The staple cache changed: a status write it now shows (or went past) need not be held any more. */
  cacheShows(staple: KubeObject): void {
    this.lastWrites.newest(objectKey(staple), staple);
  }

  /**
   * Whether this version of the staple's Secret is the one the reconciler last read or wrote, or
   * arrived while the reconciler writes it (publish() then decides whether it was news).
   */
  knows(key: string, secret: KubeObject): boolean {
    if (this.publications.get(key, secret)) return true;
    const seen = this.writing.get(key);
    seen?.push(secret);
    return !!seen;
  }

  /**
   * The staple Secret (its metadata) and what it publishes: remembered per version, so its data is
   * read (and parsed) only when it changed.
   */
  private async readStapleSecret(key: string, ns: string, name: string): Promise<{ current?: KubeObject; published?: Publication }> {
    const meta = this.deps.secrets.get(ns, name);
    const known = meta && this.publications.get(key, meta);
    if (known) return { current: meta, published: known.publication };
    // A new staple's Secret, not written yet: no GET to learn that.
    if (!meta && this.deps.secrets.knownAbsent(ns, name)) return {};
    const live = await this.deps.secrets.load(ns, name);
    if (!live) return {};
    const published = readPublished(live);
    this.publications.set(key, live, published);
    return { current: live, published };
  }

  /** The source Secret, parsed once per version: while the cache shows the version read, its data is not needed again. */
  private async readSource(ns: string, name: string, now: number, issuerPem: string | undefined): Promise<SourceResult> {
    const ref = `${ns}/${name}`;
    const meta = this.deps.secrets.get(ns, name);
    return (
      (meta && this.sources.cached(meta, ref, now, issuerPem)) ??
      this.sources.read(await this.deps.secrets.load(ns, name), ref, now, issuerPem)
    );
  }

  /** spec.onRevoked.reissue: ask cert-manager for a new certificate (and key, after keyCompromise). */
  private async reissue(
    ns: string,
    secretName: string,
    cert: SourceCertificate,
    r: ValidatedResponse,
    now: number,
  ): Promise<PendingEvent[]> {
    const certificateName = (await this.deps.secrets.load(ns, secretName))?.metadata?.annotations?.[ANNOTATION_CERT_MANAGER_NAME];
    if (!certificateName) {
      return [
        {
          type: 'Warning',
          reason: 'ReissueImpossible',
          note: `certificate ${cert.serial} is revoked but Secret ${ns}/${secretName} names no cert-manager Certificate to reissue`,
        },
      ];
    }
    const outcome = await requestReissue(this.deps.client, {
      namespace: ns,
      certificateName,
      serial: cert.serial,
      revocationReason: r.revocationReason,
      now: new Date(now),
    });
    if (outcome === 'requested') {
      const key = r.revocationReason === 'keyCompromise' ? ' with a new private key' : '';
      return [
        {
          type: 'Warning',
          reason: 'ReissueRequested',
          note: `certificate ${cert.serial} is revoked (${r.revocationReason ?? 'unspecified'}): asked cert-manager to reissue Certificate ${ns}/${certificateName}${key}`,
        },
      ];
    }
    if (outcome === 'no-certificate') {
      return [
        {
          type: 'Warning',
          reason: 'ReissueImpossible',
          note: `certificate ${cert.serial} is revoked but cert-manager Certificate ${ns}/${certificateName} does not exist`,
        },
      ];
    }
    return [];
  }

  /**
   * Writes the staple Secret when what it publishes changes; nothing when it is already right.
   * Created with a POST, then replaced with a PUT at the version read (`current`): the apiserver
   * spends half as much on the POST and a fifth less on the PUT as on server-side apply
   * (bench/apiserver-writes.js), and a write made meanwhile by someone else is a 409 that the
   * queue retries, not lost. Every write is an update of one field manager, so fields dropped
   * from the Secret go away.
   */
  private async publish(staple: OcspStaple, name: string, current: KubeObject | undefined, decision: Decision, log: Logger): Promise<void> {
    const desired = decision.desired;
    if (!desired || !decision.write) return;
    const m = staple.metadata;
    const namespace = m.namespace ?? 'default';
    const owner = { name: m.name ?? '', uid: m.uid ?? '' };
    // Keeping the published pair: its PEMs come from the live Secret, which is then the version to replace.
    const { published, base } =
      'digest' in desired ? await this.republished(namespace, name, desired) : { published: desired, base: current };
    const secret = buildStapleSecret({ namespace, name, owner, published });
    const key = `${namespace}/${m.name}`;
    const seen: KubeObject[] = [];
    this.writing.set(key, seen);
    let stored: Secret;
    try {
      stored = base
        ? await this.deps.client.replace<Secret>(SecretType, overCurrent(base, secret), undefined, { fieldManager: FIELD_MANAGER })
        : await this.deps.client.create<Secret>(SecretType, secret, { fieldManager: FIELD_MANAGER });
    } finally {
      this.writing.delete(key); // a failed write is retried with backoff, which reads everything again
    }
    const { uid, resourceVersion } = stored.metadata ?? {};
    if (seen.some((s) => s.metadata?.uid !== uid || s.metadata?.resourceVersion !== resourceVersion)) this.changedWhileWriting.add(key);
    this.publications.set(key, stored, readPublished(stored));
    this.deps.secrets.put(stored);
    this.deps.metrics.secretWrites.inc({ kind: desired.staple ? 'stapled' : 'unstapled' });
    log.info(
      {
        secret: `${m.namespace}/${name}`,
        serial: desired.pair.serial,
        staple: desired.staple ? stapleSha256(desired.staple.der).slice(0, 16) : null,
        action: decision.action,
      },
      'staple Secret written',
    );
  }

  /** The publication a staple Secret holds, PEMs read back: it must still be the one decided on. */
  private async republished(namespace: string, name: string, desired: Publication): Promise<{ published: Published; base: Secret }> {
    const live = await this.deps.client.getOrUndefined<Secret>(SecretType, namespace, name);
    const pair = live && readPublished(live)?.digest === desired.digest ? readPair(live) : undefined;
    if (!live || !pair) throw new Error(`staple Secret ${namespace}/${name} changed while it was being rewritten; looking again`);
    return { published: { pair, staple: desired.staple }, base: live };
  }

  /** Writes status if it changed (remembering the write until the cache shows it), records Events, updates the series. */
  private async finish(
    staple: KubeObject,
    status: StapleStatus | undefined,
    conditions: ProducedCondition[],
    log: Logger,
    requeueAfterMs?: number,
    events?: PendingEvent[],
  ): Promise<ReconcileResult> {
    const m = staple.metadata ?? {};
    const key = `${m.namespace}/${m.name}`;
    const written = await this.statusWriter.write(staple, status, conditions, {
      events,
      observe: ({ status: next, conditions: all, stored }) => {
        if (stored && m.resourceVersion)
          this.lastWrites.wroteStatus(key, m.resourceVersion, stored, this.deps.staples.get(m.namespace, m.name ?? ''));
        // After the write succeeded: the series say what the status says.
        this.deps.metrics.observe(key, {
          conditions: all,
          notAfter: timestamp(next.certificate?.notAfter),
          nextUpdate: timestamp(next.staple?.nextUpdate),
        });
      },
    });
    const ready = findCondition(written.conditions, 'Ready');
    log.debug({ ready: ready?.status, reason: ready?.reason, requeueAfterMs }, 'reconciled');
    return requeueAfterMs === undefined ? {} : { requeueAfterMs };
  }
}

const iso = formatDateTime;

/** An RFC 3339 status time as epoch milliseconds (undefined when absent or unparsable). */
function timestamp(t: string | undefined): number | undefined {
  const ms = t === undefined ? NaN : Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}

function ownedBy(secret: Secret, uid: string | undefined): boolean {
  return !!uid && (secret.metadata?.ownerReferences ?? []).some((r) => r.uid === uid);
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
