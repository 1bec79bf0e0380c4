// The OcspResponderPool reconciler: read the pool, its issuer, its certificate sources and its
// pods' reports from the caches; write the generated index, the workloads (signers scaled on the
// backlog) and the status with its threshold conditions; Events on transitions; look again soon,
// because ages cross thresholds without anything changing. Quiet at rest: the workloads are
// applied only when what they render changed or one of them drifted, the status written only when
// it changed, and nothing in it grows by itself (instants, not ages).
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { parseDuration } from '../api/duration.js';
import { findCondition } from '../api/condition.js';
import { parseOcspResponderPool, type OcspResponderPoolStatus } from '../api/pool.js';
import { parsePemChain } from '../ocsp/index.js';
import { KubeApiError, type KubeApi } from '../kube/api.js';
import type { EventRecorder } from '../kube/events.js';
import {
  DeploymentType,
  OcspResponderPoolType,
  splitKey,
  StatefulSetType,
  ConfigMapType,
  ServiceType,
  type KubeObject,
  type Secret,
} from '../kube/types.js';
import type { Clock } from '../base/clock.js';
import type { ReconcileResult, Reconciler } from '../runtime/controller.js';
import { sameJson } from '../runtime/same-json.js';
import type { ReadCache } from '../runtime/read-cache.js';
import { StatusWriter } from '../runtime/status-writer.js';
import type { ObjectConditionMetrics } from '../runtime/object-metrics.js';
import { buildPoolIndex } from './index-builder.js';
import { isBad, notEvaluated, PoolConditionType as T, PoolReason as R, readyFrom, type PoolCondition } from './conditions.js';
import { countedReports, endpointPods, type EndpointSlice } from './liveness.js';
import { LABEL_POOL } from '../api/annotations.js';
import { readReports, reportConfigMapName, type ConfigMap, type PoolReports } from '../report/protocol.js';
import { handOverReplicas, pruneOwned } from './owned.js';
import { recommendReplicas, stabilize, type Recommendation } from './scaling.js';
import { poolConditions, type PoolObservation } from './thresholds.js';
import { type Workload } from './workload.js';
import { indexConfigMapName, poolWorkloads, REVOCATIONS_KEY, signerWorkloadName, type PoolImages } from './workloads.js';

export const POOL_FIELD_MANAGER = 'ocsp-operator-pool';
/** How often a pool is looked at even when nothing changes: response ages cross thresholds by themselves. */
export const POOL_RESYNC_MS = 15_000;

export interface PoolReconcilerDeps {
  client: KubeApi;
  clock: Clock;
  log: Logger;
  events: EventRecorder;
  pools: ReadCache<KubeObject>;
  /** Secrets and ConfigMaps: metadata held for the wanted ones, data loaded on use (kube/object-cache.ts). */
  secrets: LoadingCache<Secret> & { list(namespace?: string): KubeObject[]; loadAll(metas: KubeObject[]): Promise<Secret[]> };
  configMaps: LoadingCache<ConfigMap>;
  /** Resolves once the Secret cache has listed with this clusterSecrets scope among its interests. */
  scopeListed(scope: { namespaces?: string[]; labelSelector?: Record<string, string> }): Promise<void>;
  statefulSets: ReadCache<KubeObject & { spec?: { replicas?: number } }>;
  /** The pool's Deployments and Services (LABEL_POOL): a drifted or deleted one is applied again. */
  deployments: ReadCache<KubeObject>;
  services: ReadCache<KubeObject>;
  /** The pool Services' EndpointSlices (LABEL_POOL): which pods' reports count, which responders are ready. */
  endpointSlices: { list(namespace?: string): EndpointSlice[] };
  images: PoolImages;
  /** `ocsp_operator_pool_condition` / `_ready`: one series set per pool, removed with the pool. */
  conditionMetrics: ObjectConditionMetrics;
}

interface LoadingCache<T> {
  load(namespace: string | undefined, name: string): Promise<T | undefined>;
  put(obj: T): void;
}

/** What was last applied for a pool: the rendered objects' hash, and each object's uid and version after the apply. */
interface Applied {
  hash: string;
  objects: Map<string, { uid: string; version: number }>;
}

export class PoolReconciler implements Reconciler {
  private readonly history = new Map<string, Recommendation[]>();
  private readonly lastSignerReports = new Map<string, PoolReports['signers']>();
  private readonly applied = new Map<string, Applied>();
  private readonly statusWriter: StatusWriter;

  constructor(private readonly deps: PoolReconcilerDeps) {
    this.statusWriter = new StatusWriter({
      client: deps.client,
      clock: deps.clock,
      events: deps.events,
      type: OcspResponderPoolType,
      isBad,
    });
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const { namespace, name } = splitKey(key);
    const raw = this.deps.pools.get(namespace, name);
    if (!raw || raw.metadata?.deletionTimestamp) {
      this.history.delete(key);
      this.lastSignerReports.delete(key);
      this.applied.delete(key);
      this.deps.conditionMetrics.forget(key);
      return; // owned workloads go with it
    }
    const log = this.deps.log.child({ object: key, kind: 'OcspResponderPool' });
    const parsed = parseOcspResponderPool(raw);
    if (!parsed.ok) {
      await this.finish(
        raw,
        undefined,
        [{ type: T.Ready, status: 'False', reason: R.InvalidSpec, message: parsed.message }, ...notEvaluated('the spec is invalid')],
        log,
      );
      return;
    }
    const pool = parsed.value;
    const ns = namespace ?? 'default';
    const now = this.deps.clock.now();
    const status: OcspResponderPoolStatus = { ...(pool.status ?? {}) };

    const issuerSecret = await this.deps.secrets.load(ns, pool.spec.issuer.secretName);
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
      return this.finish(
        raw,
        status,
        [{ type: T.Ready, status: 'False', reason: R.IssuerNotFound, message }, ...notEvaluated(message)],
        log,
        POOL_RESYNC_MS,
      );
    }

    // The certificates: one generated index for the signers.
    const indexTexts: Array<{ source: string; text: string }> = [];
    const missingSources: string[] = [];
    for (const src of pool.spec.sources) {
      if (!src.opensslIndex) continue;
      const cm = await this.deps.configMaps.load(ns, src.opensslIndex.configMapName);
      const text = cm?.data?.[src.opensslIndex.key];
      if (text === undefined) missingSources.push(`ConfigMap ${ns}/${src.opensslIndex.configMapName} key ${src.opensslIndex.key}`);
      else indexTexts.push({ source: `ConfigMap ${ns}/${src.opensslIndex.configMapName}`, text });
    }
    const secrets: Secret[] = [];
    for (const src of pool.spec.sources) {
      const cs = src.clusterSecrets;
      if (!cs) continue;
      await this.deps.scopeListed(cs);
      const inScope = (s: KubeObject) =>
        (!cs.namespaces?.length || cs.namespaces.includes(s.metadata?.namespace ?? '')) &&
        Object.entries(cs.labelSelector ?? {}).every(([k, v]) => s.metadata?.labels?.[k] === v);
      secrets.push(...(await this.deps.secrets.loadAll(this.deps.secrets.list().filter(inScope))));
    }
    const revocations = (pool.spec.revocations ?? []).map((r) => ({ serial: r.serial, time: Date.parse(r.time), reason: r.reason }));
    const signerReadSources = pool.spec.sources.some((src) => src.postgres !== undefined);
    const index = buildPoolIndex({ issuer, indexTexts, secrets, revocations, now, signerReadSources });
    const indexCm: ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: indexConfigMapName(name),
        namespace: ns,
        labels: { [LABEL_POOL]: name },
        ownerReferences: [{ apiVersion: raw.apiVersion ?? '', kind: raw.kind ?? '', name, uid: raw.metadata?.uid ?? '', controller: true }],
      },
      data: { 'index.txt': index.text, ...(index.revocations !== undefined ? { [REVOCATIONS_KEY]: index.revocations } : {}) },
    };
    if (!sameJson((await this.deps.configMaps.load(ns, indexConfigMapName(name)))?.data ?? {}, indexCm.data)) {
      this.deps.configMaps.put(await this.deps.client.apply<ConfigMap>(ConfigMapType, indexCm, POOL_FIELD_MANAGER));
      log.info({ certificates: index.certificates, revoked: index.revoked }, 'certificate index written');
    }

    // What the pods report, from the pods the kubelet vouches for (liveness.ts). When no signer
    // counts any more (dead or stuck, its pod unready: the updater incident), its last reports
    // still stand for the responses, whose ages keep growing; nothing is scaled down on missing
    // data, and Ready says the reports are missing.
    const slices = this.deps.endpointSlices.list(ns);
    const endpoints = { responders: endpointPods(slices, name), signers: endpointPods(slices, signerWorkloadName(name)) };
    const fresh = countedReports(readReports(await this.deps.configMaps.load(ns, reportConfigMapName(name))), {
      ...endpoints,
      embedded: pool.spec.store.type === 'Embedded',
    });
    const signersSilent = fresh.signers.length === 0 && this.lastSignerReports.has(key);
    if (fresh.signers.length) this.lastSignerReports.set(key, fresh.signers);
    const reports: PoolReports = signersSilent ? { ...fresh, signers: this.lastSignerReports.get(key) ?? [] } : fresh;
    // Database sources are read by the signers, not here: their reports say what each read found,
    // and count the certificates (their shares add up to all of them).
    const database = databaseSources(reports.signers);
    const certificates = database.read ? reports.signers.reduce((n, s) => n + s.certificates, 0) : index.certificates;
    const revoked = database.read ? reports.signers.reduce((n, s) => n + s.revoked, 0) : index.revoked;
    const observed = observe(reports, certificates, now, issuer.notAfter.getTime());

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
    const sourceProblems = [...missingSources.map((m) => `${m} not found`), ...index.problems, ...database.problems];
    const sources: PoolCondition = database.lagging.length
      ? {
          type: T.SourcesReadable,
          status: 'False',
          reason: R.SourceReplicaLagging,
          message: [...database.lagging, ...sourceProblems].slice(0, 10).join('; '),
        }
      : sourceProblems.length
        ? { type: T.SourcesReadable, status: 'False', reason: R.SourceProblem, message: sourceProblems.slice(0, 10).join('; ') }
        : {
            type: T.SourcesReadable,
            status: 'True',
            reason: R.SourcesRead,
            message: `${certificates} certificates from ${pool.spec.sources.length} sources`,
          };

    // The workloads: applied when what they render changed or one of them drifted (edited,
    // deleted); a report that changes nothing applies nothing.
    const workloads = poolWorkloads(pool, { images: this.deps.images, signerReplicas });
    const hash = createHash('sha256').update(JSON.stringify(workloads)).digest('hex');
    const last = this.applied.get(key);
    const why = last?.hash !== hash ? 'rendered state changed' : this.drifted(workloads, last);
    if (why) {
      this.applied.delete(key); // until every object is applied again
      await handOverReplicas(this.deps.client, workloads, POOL_FIELD_MANAGER, log);
      const objects = new Map<string, { uid: string; version: number }>();
      for (const w of workloads) {
        try {
          const out = await this.deps.client.apply(w.type, w.object, POOL_FIELD_MANAGER);
          objects.set(objectId(w), { uid: out.metadata?.uid ?? '', version: versionOf(out) });
        } catch (err) {
          // What the CRD leaves to Kubernetes (a volume's source, affinity terms, an init container)
          // is judged here: say so on the pool, where the user wrote it, rather than retry unseen.
          if (!(err instanceof KubeApiError) || (err.status !== 400 && err.status !== 422)) throw err;
          const message = `the apiserver refused ${w.type.kind} ${ns}/${w.object.metadata?.name ?? ''}: ${err.message}`;
          return this.finish(
            raw,
            status,
            [
              { type: T.Ready, status: 'False', reason: R.WorkloadRejected, message },
              sources,
              ...notEvaluated(message, [T.SourcesReadable]),
            ],
            log,
            POOL_RESYNC_MS,
          );
        }
      }
      // What the spec no longer renders (an Ingress, an HPA, a shape of the store) goes.
      await pruneOwned(this.deps.client, { namespace: ns, name, uid: pool.metadata.uid ?? '' }, workloads, log);
      this.applied.set(key, { hash, objects });
      log.debug({ why, objects: workloads.length }, 'workloads applied');
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
    conditions.splice(
      conditions.findIndex((c) => c.type === T.Ready),
      1,
    );
    conditions.unshift(sources);
    // Without reports nothing above is measured, and without a ready responder nothing is served:
    // say so rather than claim health.
    const ready = readyFrom(conditions, certificates);
    conditions.push(ready);
    const respondersReady = endpoints.responders
      ? [...endpoints.responders].filter(([, r]) => r).map(([pod]) => pod)
      : reports.responders.filter((r) => r.ready).map((r) => r.pod);
    const outOfRotation = endpoints.responders
      ? [...endpoints.responders].filter(([, r]) => !r).map(([pod]) => pod)
      : reports.responders.filter((r) => !r.ready).map((r) => r.pod);
    if (signersSilent) {
      const lastReport = iso(Math.max(...reports.signers.map((r) => r.time)));
      const silence = `no signer pod is ready to report (the last report is from ${lastReport}): the figures are from it and the responses keep aging`;
      if (ready.status === 'True') Object.assign(ready, { status: 'False', reason: R.SignerReportsMissing, message: silence });
      else ready.message = `${silence} | ${ready.message}`;
    } else if (ready.status === 'True' && reports.signers.length === 0) {
      Object.assign(ready, {
        status: 'False',
        reason: R.NoSignerReports,
        message: fresh.source.signers === 'endpoints' ? 'no ready signer pod has reported' : 'no signer pod has reported',
      });
    } else if (ready.status === 'True' && respondersReady.length === 0) {
      const message = endpoints.responders
        ? `no responder pod is a ready endpoint of Service ${ns}/${name}`
        : 'no responder pod reports itself ready';
      Object.assign(ready, { status: 'False', reason: R.NoResponderReady, message });
    }

    Object.assign(status, {
      certificates,
      backlog: observed.due,
      missing: observed.observation.missing,
      revoked,
      signers: {
        desired: signerReplicas,
        ready: fresh.signers.length,
        ...(observed.rate !== undefined ? { signaturesPerSecond: Math.round(observed.rate * 10) / 10 } : {}),
      },
      responders: { ready: respondersReady.length, outOfRotation: outOfRotation.sort() },
      oldestResponse: observed.observation.oldestThisUpdate !== undefined ? iso(observed.observation.oldestThisUpdate) : undefined,
      oldestUnsigned: observed.observation.oldestMissing
        ? { serial: observed.observation.oldestMissing.serial, since: iso(observed.observation.oldestMissing.since) }
        : undefined,
      replication: reports.responders
        .map((r) => ({ replica: r.pod, lagSeconds: Math.round(r.lagMs / 100) / 10, inRotation: r.ready }))
        .sort((a, b) => a.replica.localeCompare(b.replica)),
      delegatedResponder:
        observed.observation.signerNotAfter !== undefined && observed.signerSerial
          ? { serial: observed.signerSerial, notAfter: iso(observed.observation.signerNotAfter) }
          : undefined,
    });
    return this.finish(raw, status, conditions, log, POOL_RESYNC_MS);
  }

  private async finish(
    raw: KubeObject,
    status: OcspResponderPoolStatus | undefined,
    update: PoolCondition[],
    log: Logger,
    requeueAfterMs?: number,
  ): Promise<ReconcileResult> {
    const m = raw.metadata ?? {};
    // Exactly what this reconcile produced: a type it no longer produces is gone, not left standing.
    const { conditions } = await this.statusWriter.write(raw, status, update, {
      observe: (w) => this.deps.conditionMetrics.set(`${m.namespace}/${m.name}`, w.conditions), // after the write: what the status says
    });
    log.debug({ ready: findCondition(conditions, T.Ready)?.status }, 'reconciled');
    return requeueAfterMs === undefined ? {} : { requeueAfterMs };
  }

  /**
   * Why the workloads must be applied again although they render the same, or undefined: one we
   * watch is gone, was recreated, or was changed by someone else since our last apply (level-
   * triggered: the caches say what is there now, whatever events were missed).
   */
  private drifted(workloads: Workload[], last: Applied): string | undefined {
    for (const w of workloads) {
      const cache =
        w.type === StatefulSetType
          ? this.deps.statefulSets
          : w.type === DeploymentType
            ? this.deps.deployments
            : w.type === ServiceType
              ? this.deps.services
              : undefined;
      if (!cache) continue; // ServiceAccount, Role, RoleBinding: re-applied with the rest
      const mine = last.objects.get(objectId(w));
      const seen = cache.get(w.object.metadata?.namespace, w.object.metadata?.name ?? '');
      if (!mine || !seen) return `${objectId(w)} is gone`;
      if (seen.metadata?.uid !== mine.uid) return `${objectId(w)} was recreated`;
      // A cache a little behind our own apply shows an older version: not a drift.
      if (versionOf(seen) > mine.version) return `${objectId(w)} was changed`;
    }
    return undefined;
  }
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const objectId = (w: Workload) => `${w.type.kind} ${w.object.metadata?.name ?? ''}`;
/**
 * The version to compare with: metadata.generation where the type has one (spec changes only, not
 * the status the workload controllers keep writing), else the resourceVersion, which etcd makes
 * increasing (opaque by contract; read as a number only to tell "newer than ours").
 */
function versionOf(o: KubeObject): number {
  const g = o.metadata?.generation;
  if (typeof g === 'number' && g > 0) return g;
  const rv = Number(o.metadata?.resourceVersion);
  return Number.isFinite(rv) ? rv : Number.MAX_SAFE_INTEGER;
}

/** The pool as its signer and responder reports describe it, in the terms of the thresholds. */
function observe(r: PoolReports, certificates: number, now: number, issuerNotAfter: number) {
  const min = (xs: Array<number | undefined>) => {
    const v = xs.filter((x): x is number => x !== undefined);
    return v.length ? Math.min(...v) : undefined;
  };
  const signerWithCert = r.signers.filter((s) => s.signer).sort((a, b) => a.signer!.notAfter - b.signer!.notAfter)[0];
  const oldestMissing = r.signers
    .map((s) => s.oldestMissing)
    .filter((x): x is { serial: string; since: number } => !!x)
    .sort((a, b) => a.since - b.since)[0];
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

/**
 * The database sources as the signers' reports describe them: whether any signer has read one (its
 * figures then count the certificates), the ones whose server lags past its maximum, and the ones
 * that fail or have unusable rows. Worst state per source over the signers: one refusing signer
 * leaves its share unsigned.
 */
export function databaseSources(signers: PoolReports['signers']) {
  const rank = { pending: 0, read: 1, lagging: 2, failed: 3 } as const;
  const worst = new Map<string, NonNullable<PoolReports['signers'][number]['sources']>[number]>();
  for (const s of signers.flatMap((r) => r.sources ?? [])) {
    const prev = worst.get(s.name);
    if (!prev || rank[s.state] > rank[prev.state]) worst.set(s.name, s);
  }
  const all = [...worst.values()];
  const seconds = (ms: number) => `${Math.round(ms / 1000)}s`;
  return {
    read: all.length > 0 && all.every((s) => s.state !== 'pending'),
    lagging: all
      .filter((s) => s.state === 'lagging')
      .map((s) => s.message ?? `${s.name}: its server lags more than ${seconds(s.maxLagMs)}`),
    problems: all
      .filter((s) => s.state === 'failed' || (s.state === 'read' && s.problems))
      .map((s) => s.message ?? `${s.name}: ${s.state}`),
  };
}
