// Watches a Redis pool's signers while the StatefulSet controller scales them, from what the
// cluster and the pods themselves say: the StatefulSet (replicas, revisions), its pods (UIDs,
// restart counts, revision hash) and the pods' own reports (share, signedTotal). Polled once a
// second, so a pod scaled away is still counted: its report key stays in the ConfigMap.
import type { KubeClient } from '../../src/kube/client.js';
import type { KubeObject } from '../../src/kube/types.js';
import { reportConfigMapName, type ConfigMap } from '../../src/report/protocol.js';
import { ConfigMapType, PodType, StatefulSetType } from '../../src/kube/types.js';
import { signerWorkloadName } from '../../src/pool/workloads.js';

interface StatefulSetObj extends KubeObject {
  metadata: KubeObject['metadata'] & { generation?: number };
  spec?: { replicas?: number };
  status?: { replicas?: number; readyReplicas?: number; currentRevision?: string; updateRevision?: string };
}

interface PodObj extends KubeObject {
  status?: { containerStatuses?: Array<{ name: string; restartCount: number }> };
}

export interface SignerPodHistory {
  /** every UID seen under this name: more than one means the pod was replaced */
  uids: string[];
  maxRestarts: number;
  revisions: string[];
}

export interface SignerReportHistory {
  /** the shares the pod reported, in order, repeats collapsed */
  shares: string[];
  /** the most it reported, summed over its processes (a drop means a new process) */
  signedTotal: number;
}

export interface SharesObservation {
  /** spec.replicas as it changed, seconds since start */
  replicas: Array<{ atS: number; replicas: number }>;
  /** status.readyReplicas as it changed */
  ready: Array<{ atS: number; ready: number }>;
  /** status.replicas (pods that exist) as it changed */
  existing: Array<{ atS: number; replicas: number }>;
  /** the StatefulSet's current/update revisions seen */
  revisions: string[];
  pods: Map<string, SignerPodHistory>;
  reports: Map<string, SignerReportHistory>;
  samples: number;
  errors: string[];
}

const pushNew = <T>(list: T[], v: T) => {
  if (!list.includes(v)) list.push(v);
};

/** Starts sampling; `stop()` ends it (bounded anyway by `maxMs`) and returns what was seen. */
export function watchSignerShares(
  client: KubeClient,
  namespace: string,
  pool: string,
  o: { everyMs?: number; maxMs?: number } = {},
): { now(): SharesObservation; stop(): Promise<SharesObservation> } {
  const t0 = Date.now();
  const everyMs = o.everyMs ?? 1_000;
  const deadline = t0 + (o.maxMs ?? 1_200_000);
  const atS = () => Math.round((Date.now() - t0) / 100) / 10;
  const obs: SharesObservation = {
    replicas: [],
    ready: [],
    existing: [],
    revisions: [],
    pods: new Map(),
    reports: new Map(),
    samples: 0,
    errors: [],
  };
  // per report key: the running process's last value, and what earlier processes reported
  const last = new Map<string, { current: number; before: number }>();
  let stopped = false;

  const sample = async () => {
    const [sts, pods, cm] = await Promise.all([
      client.getOrUndefined<StatefulSetObj>(StatefulSetType, namespace, signerWorkloadName(pool)),
      client.list<PodObj>(PodType, { namespace, labelSelector: `ocsp-operator.dev/pool=${pool},app.kubernetes.io/component=signer` }),
      client.getOrUndefined<ConfigMap>(ConfigMapType, namespace, reportConfigMapName(pool)),
    ]);
    if (sts) {
      const r = sts.spec?.replicas ?? 1;
      if (obs.replicas.at(-1)?.replicas !== r) obs.replicas.push({ atS: atS(), replicas: r });
      const ready = sts.status?.readyReplicas ?? 0;
      if (obs.ready.at(-1)?.ready !== ready) obs.ready.push({ atS: atS(), ready });
      const existing = sts.status?.replicas ?? 0;
      if (obs.existing.at(-1)?.replicas !== existing) obs.existing.push({ atS: atS(), replicas: existing });
      for (const rev of [sts.status?.currentRevision, sts.status?.updateRevision]) if (rev) pushNew(obs.revisions, rev);
    }
    for (const p of pods.items) {
      const name = p.metadata?.name ?? '';
      const h = obs.pods.get(name) ?? { uids: [], maxRestarts: 0, revisions: [] };
      pushNew(h.uids, p.metadata?.uid ?? '');
      h.maxRestarts = Math.max(h.maxRestarts, ...(p.status?.containerStatuses ?? []).map((c) => c.restartCount));
      const hash = p.metadata?.labels?.['controller-revision-hash'];
      if (hash) pushNew(h.revisions, hash);
      obs.pods.set(name, h);
    }
    for (const [key, text] of Object.entries(cm?.data ?? {})) {
      if (!key.startsWith('signer.')) continue;
      const r = JSON.parse(text) as { pod: string; share?: string; signedTotal?: number };
      const h = obs.reports.get(r.pod) ?? { shares: [], signedTotal: 0 };
      if (r.share && h.shares.at(-1) !== r.share) h.shares.push(r.share);
      const l = last.get(r.pod) ?? { current: 0, before: 0 };
      const n = r.signedTotal ?? 0;
      if (n < l.current) l.before += l.current; // a new process under the same pod name
      l.current = n;
      last.set(r.pod, l);
      h.signedTotal = l.before + l.current;
      obs.reports.set(r.pod, h);
    }
    obs.samples++;
  };

  const loop = (async () => {
    while (!stopped && Date.now() < deadline) {
      const started = Date.now();
      try {
        await sample();
      } catch (err) {
        if (obs.errors.length < 20) obs.errors.push(String(err));
      }
      await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (Date.now() - started))));
    }
  })();

  return {
    now: () => obs,
    async stop() {
      stopped = true;
      await loop;
      return obs;
    },
  };
}

/** Signatures over all signer processes, from their own reports. */
export const signedTotal = (obs: SharesObservation): number => [...obs.reports.values()].reduce((n, r) => n + r.signedTotal, 0);
