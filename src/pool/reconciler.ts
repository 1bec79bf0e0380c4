// The OcspResponderPool reconciler: read the pool, its issuer, its certificate sources and its
// pods' reports from the caches; write the generated index, the workloads (signers scaled on the
// backlog) and the status with its threshold conditions; Events on transitions; look again soon,
// because ages grow without anything changing.
import type { Logger } from 'pino';
import { parseDuration, formatDuration } from '../api/duration.js';
import { findCondition, setCondition, type Condition } from '../api/condition.js';
import { parseOcspResponderPool, type OcspResponderPoolStatus } from '../api/pool.js';
import { parsePemChain } from '../ocsp/index.js';
import { KubeApiError, type KubeClient } from '../kube/client.js';
import type { EventRecorder } from '../kube/events.js';
import { OcspResponderPoolType, splitKey, type KubeObject, type Secret } from '../kube/types.js';
import type { Clock } from '../runtime/clock.js';
import type { ReconcileResult, Reconciler } from '../runtime/controller.js';
import { sameJson } from '../runtime/same-json.js';
import type { ReadCache } from '../staple/reconciler.js';
import { buildPoolIndex } from './index-builder.js';
import { ConfigMapType, LABEL_POOL, readReports, reportConfigMapName, type ConfigMap, type PoolReports } from './report.js';
import { recommendReplicas, stabilize, type Recommendation } from './scaling.js';
import { poolConditions, type PoolCondition, type PoolObservation } from './thresholds.js';
import { indexConfigMapName, poolWorkloads, signerWorkloadName, type PoolImages } from './workloads.js';

export const POOL_FIELD_MANAGER = 'ocsp-operator-pool';
/** How often a pool is looked at even when nothing changes: response ages grow by themselves. */
export const POOL_RESYNC_MS = 15_000;
/** A report older than this is from a pod that is gone (or stuck) and no longer counts. */
const REPORT_MAX_AGE_MS = 2 * 60_000;

export interface PoolReconcilerDeps {
  client: KubeClient;
  clock: Clock;
  log: Logger;
  events: EventRecorder;
  pools: ReadCache<KubeObject>;
  secrets: ReadCache<Secret> & { list(namespace?: string): Secret[] };
  configMaps: ReadCache<ConfigMap>;
  statefulSets: ReadCache<KubeObject & { spec?: { replicas?: number } }>;
  images: PoolImages;
}

export class PoolReconciler implements Reconciler {
  private readonly history = new Map<string, Recommendation[]>();
  private readonly lastSignerReports = new Map<string, PoolReports['signers']>();

  constructor(private readonly deps: PoolReconcilerDeps) {}

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const { namespace, name } = splitKey(key);
    const raw = this.deps.pools.get(namespace, name);
    if (!raw || raw.metadata?.deletionTimestamp) {
      this.history.delete(key);
      this.lastSignerReports.delete(key);
      return; // owned workloads go with it
    }
    const log = this.deps.log.child({ object: key, kind: 'OcspResponderPool' });
    const parsed = parseOcspResponderPool(raw);
    if (!parsed.ok) {
      await this.finish(raw, undefined, [{ type: 'Ready', status: 'False', reason: 'InvalidSpec', message: parsed.message }], log);
      return;
    }
    const pool = parsed.value;
    const ns = namespace ?? 'default';
    const now = this.deps.clock.now();
    const status: OcspResponderPoolStatus = { ...(pool.status ?? {}) };

    const issuerSecret = this.deps.secrets.get(ns, pool.spec.issuer.secretName);
    const issuerPem = issuerSecret?.data?.['tls.crt'] ?? issuerSecret?.data?.['ca.crt'];
    let issuer;
    try {
      issuer = issuerPem ? parsePemChain(Buffer.from(issuerPem, 'base64').toString('utf8'))[0] : undefined;
    } catch {
      issuer = undefined;
    }
    if (!issuer) {
      const message = issuerSecret
        ? `Secret ${ns}/${pool.spec.issuer.secretName} holds no readable issuer certificate in tls.crt or ca.crt`
        : `issuer Secret ${ns}/${pool.spec.issuer.secretName} does not exist`;
      return this.finish(raw, status, [{ type: 'Ready', status: 'False', reason: 'IssuerNotFound', message }], log, POOL_RESYNC_MS);
    }

    // The certificates: one generated index for the signers.
    const indexTexts: Array<{ source: string; text: string }> = [];
    const missingSources: string[] = [];
    for (const src of pool.spec.sources) {
      if (!src.opensslIndex) continue;
      const cm = this.deps.configMaps.get(ns, src.opensslIndex.configMapName);
      const text = cm?.data?.[src.opensslIndex.key];
      if (text === undefined) missingSources.push(`ConfigMap ${ns}/${src.opensslIndex.configMapName} key ${src.opensslIndex.key}`);
      else indexTexts.push({ source: `ConfigMap ${ns}/${src.opensslIndex.configMapName}`, text });
    }
    const secrets = pool.spec.sources.flatMap((src) => {
      const cs = src.clusterSecrets;
      if (!cs) return [];
      const inScope = (s: Secret) =>
        (!cs.namespaces?.length || cs.namespaces.includes(s.metadata?.namespace ?? '')) &&
        Object.entries(cs.labelSelector ?? {}).every(([k, v]) => s.metadata?.labels?.[k] === v);
      return this.deps.secrets.list().filter(inScope);
    });
    const revocations = (pool.spec.revocations ?? []).map((r) => ({ serial: r.serial, time: Date.parse(r.time), reason: r.reason }));
    const index = buildPoolIndex({ issuer, indexTexts, secrets, revocations, now });
    const indexCm: ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: indexConfigMapName(name),
        namespace: ns,
        labels: { [LABEL_POOL]: name },
        ownerReferences: [{ apiVersion: raw.apiVersion ?? '', kind: raw.kind ?? '', name, uid: raw.metadata?.uid ?? '', controller: true }],
      },
      data: { 'index.txt': index.text },
    };
    if (this.deps.configMaps.get(ns, indexConfigMapName(name))?.data?.['index.txt'] !== index.text) {
      await this.deps.client.apply(ConfigMapType, indexCm, POOL_FIELD_MANAGER);
      log.info({ certificates: index.certificates, revoked: index.revoked }, 'certificate index written');
    }

    // What the pods report. When the signers stop reporting (dead or stuck: the updater incident),
    // their last reports still stand for the responses, whose ages keep growing; nothing is
    // scaled down on missing data, and Ready says the reports are missing.
    const fresh = readReports(this.deps.configMaps.get(ns, reportConfigMapName(name)), now, REPORT_MAX_AGE_MS);
    const signersSilent = fresh.signers.length === 0 && this.lastSignerReports.has(key);
    if (fresh.signers.length) this.lastSignerReports.set(key, fresh.signers);
    const reports: PoolReports = signersSilent ? { ...fresh, signers: this.lastSignerReports.get(key) ?? [] } : fresh;
    const observed = observe(reports, index.certificates, now, issuer.notAfter.getTime());

    // Signers: scaled on the backlog (Redis); one machine with the embedded store.
    let signerReplicas = 1;
    if (pool.spec.store.type === 'Redis' && signersSilent) {
      signerReplicas = this.deps.statefulSets.get(ns, signerWorkloadName(name))?.spec?.replicas ?? pool.spec.signers.minReplicas;
    } else if (pool.spec.store.type === 'Redis') {
      const current = this.deps.statefulSets.get(ns, signerWorkloadName(name))?.spec?.replicas ?? pool.spec.signers.minReplicas;
      const rates = reports.signers.map((s) => s.rate).filter((r): r is number => r !== undefined && r > 0);
      const recommendation = recommendReplicas({
        backlog: observed.due,
        perPodRate: rates.length ? rates.sort((a, b) => a - b)[Math.floor(rates.length / 2)] : undefined,
        targetDrainMs: parseDuration(pool.spec.signers.targetDrainTime),
        minReplicas: pool.spec.signers.minReplicas,
        maxReplicas: pool.spec.signers.maxReplicas,
        current,
      });
      // After a restart the history is empty: count the running replicas as a recent recommendation.
      const history = this.history.get(key) ?? [{ at: now, replicas: current }];
      const decision = stabilize({ now, recommendation, current, history, windowMs: parseDuration(pool.spec.signers.stabilizationWindow) });
      this.history.set(key, decision.history);
      signerReplicas = decision.replicas;
      if (signerReplicas !== current) log.info({ from: current, to: signerReplicas, backlog: observed.due }, 'scaling signers');
    }
    for (const w of poolWorkloads(pool, { images: this.deps.images, signerReplicas })) {
      try {
        await this.deps.client.apply(w.type, w.object, POOL_FIELD_MANAGER);
      } catch (err) {
        // What the CRD leaves to Kubernetes (a volume's source, affinity terms, an init container)
        // is judged here: say so on the pool, where the user wrote it, rather than retry unseen.
        if (!(err instanceof KubeApiError) || (err.status !== 400 && err.status !== 422)) throw err;
        const message = `the apiserver refused ${w.type.kind} ${ns}/${w.object.metadata?.name ?? ''}: ${err.message}`;
        return this.finish(raw, status, [{ type: 'Ready', status: 'False', reason: 'WorkloadRejected', message }], log, POOL_RESYNC_MS);
      }
    }

    const t = pool.spec.thresholds;
    const conditions: PoolCondition[] = poolConditions(observed.observation, {
      freshnessWarningAgeMs: parseDuration(t.freshnessWarningAge),
      freshnessCriticalAgeMs: parseDuration(t.freshnessCriticalAge),
      signerExpiryWarningMs: parseDuration(t.signerExpiryWarning),
      issuerExpiryWarningMs: parseDuration(t.issuerExpiryWarning),
      newCertificateTargetMs: parseDuration(t.newCertificateTarget),
      maxReplicationLagMs: parseDuration(pool.spec.responder.maxReplicationLag),
      responseValidityMs: parseDuration(pool.spec.responseValidity),
    });
    const sourceProblems = [...missingSources.map((m) => `${m} not found`), ...index.problems];
    if (sourceProblems.length) conditions.push({ type: 'SourcesReadable', status: 'False', reason: 'SourceProblem', message: sourceProblems.slice(0, 10).join('; ') });
    else conditions.push({ type: 'SourcesReadable', status: 'True', reason: 'SourcesRead', message: `${index.certificates} certificates from ${pool.spec.sources.length} sources` });
    // Without reports nothing above is measured, and without a ready responder nothing is served:
    // say so rather than claim health.
    const ready = conditions.find((c) => c.type === 'Ready');
    if (signersSilent) {
      const last = Math.max(...reports.signers.map((r) => r.time));
      const silence = `no signer has reported for ${formatDuration(Math.round((now - last) / 1000) * 1000)}: the figures are from its last report and the responses keep aging`;
      if (ready?.status === 'True') Object.assign(ready, { status: 'False', reason: 'SignerReportsMissing', message: silence });
      else if (ready) ready.message = `${silence} | ${ready.message}`;
    } else if (ready?.status === 'True' && reports.signers.length === 0) {
      Object.assign(ready, { status: 'False', reason: 'NoSignerReports', message: `no signer pod has reported in the last ${formatDuration(REPORT_MAX_AGE_MS)}` });
    } else if (ready?.status === 'True' && !reports.responders.some((r) => r.ready)) {
      Object.assign(ready, { status: 'False', reason: 'NoResponderReady', message: 'no responder pod reports itself ready' });
    }

    Object.assign(status, {
      certificates: index.certificates,
      backlog: observed.due,
      missing: observed.observation.missing,
      revoked: index.revoked,
      signers: { desired: signerReplicas, ready: reports.signers.length, ...(observed.rate !== undefined ? { signaturesPerSecond: Math.round(observed.rate * 10) / 10 } : {}) },
      responders: { ready: reports.responders.filter((r) => r.ready).length, outOfRotation: reports.responders.filter((r) => !r.ready).map((r) => r.pod).sort() },
      oldestResponseAge: observed.observation.oldestThisUpdate !== undefined ? formatDuration(Math.round((now - observed.observation.oldestThisUpdate) / 1000) * 1000) : undefined,
      oldestUnsigned: observed.observation.oldestMissing ? { serial: observed.observation.oldestMissing.serial, since: iso(observed.observation.oldestMissing.since) } : undefined,
      replication: reports.responders.map((r) => ({ replica: r.pod, lagSeconds: Math.round(r.lagMs / 100) / 10, inRotation: r.ready })).sort((a, b) => a.replica.localeCompare(b.replica)),
      delegatedResponder: observed.observation.signerNotAfter !== undefined && observed.signerSerial ? { serial: observed.signerSerial, notAfter: iso(observed.observation.signerNotAfter) } : undefined,
    });
    return this.finish(raw, status, conditions, log, POOL_RESYNC_MS);
  }

  private async finish(raw: KubeObject, status: OcspResponderPoolStatus | undefined, update: PoolCondition[], log: Logger, requeueAfterMs?: number): Promise<ReconcileResult> {
    const m = raw.metadata ?? {};
    const prev = ((raw as { status?: OcspResponderPoolStatus }).status ?? {}) as OcspResponderPoolStatus;
    const nowDate = new Date(this.deps.clock.now());
    let conditions: Condition[] = prev.conditions ?? [];
    for (const c of update) conditions = setCondition(conditions, { ...c, observedGeneration: m.generation }, nowDate);
    const next: OcspResponderPoolStatus = { ...(status ?? prev), conditions, observedGeneration: m.generation };
    if (!sameJson(next, prev)) {
      await this.deps.client.replace(OcspResponderPoolType, { ...raw, status: next } as KubeObject, 'status');
    }
    for (const c of update) {
      const before = findCondition(prev.conditions, c.type);
      if (before?.status === c.status && before.reason === c.reason) continue; // Events on transitions only
      // Ready repeats the reason of the condition that made it False: that one already says it.
      if (c.type === 'Ready' && update.some((o) => o.type !== 'Ready' && o.reason === c.reason)) continue;
      const bad = c.type === 'SignerCertificateExpiring' ? c.status === 'True' : c.status === 'False';
      if (!before && !bad) continue; // a healthy first look is not news
      await this.deps.events.record(OcspResponderPoolType, raw, bad ? 'Warning' : 'Normal', c.reason, `${c.type}=${c.status}: ${c.message}`);
    }
    log.debug({ ready: findCondition(conditions, 'Ready')?.status }, 'reconciled');
    return requeueAfterMs === undefined ? {} : { requeueAfterMs };
  }
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The pool as its signer and responder reports describe it, in the terms of the thresholds. */
function observe(r: PoolReports, certificates: number, now: number, issuerNotAfter: number) {
  const min = (xs: Array<number | undefined>) => {
    const v = xs.filter((x): x is number => x !== undefined);
    return v.length ? Math.min(...v) : undefined;
  };
  const signerWithCert = r.signers.filter((s) => s.signer).sort((a, b) => a.signer!.notAfter - b.signer!.notAfter)[0];
  const oldestMissing = r.signers.map((s) => s.oldestMissing).filter((x): x is { serial: string; since: number } => !!x).sort((a, b) => a.since - b.since)[0];
  const rates = r.signers.map((s) => s.rate).filter((x): x is number => x !== undefined);
  const observation: PoolObservation = {
    now,
    certificates,
    missing: r.signers.reduce((n, s) => n + s.missing, 0),
    oldestMissing,
    oldestThisUpdate: min(r.signers.map((s) => s.oldestThisUpdate)),
    soonestNextUpdate: min(r.signers.map((s) => s.soonestNextUpdate)),
    outlivingTheirSigner: r.signers.reduce((n, s) => n + s.outlivingTheirSigner, 0),
    signerNotAfter: signerWithCert?.signer?.notAfter,
    signerSubject: signerWithCert?.signer?.subject,
    issuerNotAfter,
    replicas: r.responders.map((x) => ({ name: x.pod, lagMs: x.lagMs, detached: x.detached })),
  };
  return {
    observation,
    due: r.signers.reduce((n, s) => n + s.due, 0),
    rate: rates.length ? rates.reduce((a, b) => a + b, 0) : undefined,
    signerSerial: signerWithCert?.signer?.serial,
  };
}

