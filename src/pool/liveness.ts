// Which of a pool's pod reports still count, from the kubelet's word rather than the pods' own:
// the EndpointSlices of the pool's Services (the endpointslice controller copies a Service's
// labels, LABEL_POOL among them, onto its slices). A report counts while its pod is an endpoint;
// a responder is ready when its endpoint is (the kubelet runs its readiness probe, the lag check);
// a Redis pool's signer counts while its endpoint in the headless `<pool>-signer` Service is ready
// (its readiness fails when no signing round finished lately). Where a Service has no slice at all
// (an apiserver without controller-manager or kubelet), the reports stand as the pods wrote them.
import type { KubeObject } from '../kube/types.js';
import type { PoolReports } from '../report/protocol.js';

export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';

export interface EndpointSlice extends KubeObject {
  endpoints?: Array<{
    conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
    targetRef?: { kind?: string; name?: string; namespace?: string };
  }> | null;
}

/** Pod name → ready, over every slice of `service`; undefined when the Service has no slice. */
export function endpointPods(slices: readonly EndpointSlice[], service: string): Map<string, boolean> | undefined {
  const mine = slices.filter((s) => s.metadata?.labels?.[LABEL_SERVICE_NAME] === service);
  if (!mine.length) return undefined;
  const out = new Map<string, boolean>();
  for (const s of mine) {
    for (const e of s.endpoints ?? []) {
      const pod = e.targetRef?.kind === 'Pod' || e.targetRef?.kind === undefined ? e.targetRef?.name : undefined;
      if (!pod) continue;
      // ready unset means ready (discovery.k8s.io/v1); a terminating pod is leaving
      const ready = e.conditions?.ready !== false && e.conditions?.terminating !== true;
      out.set(pod, (out.get(pod) ?? false) || ready);
    }
  }
  return out;
}

export interface CountedReports extends PoolReports {
  /** Where readiness came from, for the messages. */
  source: { responders: 'endpoints' | 'reports'; signers: 'endpoints' | 'reports' };
}

/**
 * The reports that count, with responder readiness from the endpoints where there are any.
 * `responders`: the pods behind the pool's Service; `signers`: behind `<pool>-signer` (Redis), or
 * the same pods as the responders (embedded: the signer shares the responder's pod, counted while
 * that pod is an endpoint at all: its readiness is the responder's, not the signer's).
 */
export function countedReports(
  r: PoolReports,
  o: { responders: Map<string, boolean> | undefined; signers: Map<string, boolean> | undefined; embedded: boolean },
): CountedReports {
  const responders =
    o.responders === undefined
      ? r.responders
      : r.responders.filter((x) => o.responders!.has(x.pod)).map((x) => ({ ...x, ready: o.responders!.get(x.pod)! }));
  const signerPods = o.embedded ? o.responders : o.signers;
  const signers =
    signerPods === undefined ? r.signers : r.signers.filter((x) => (o.embedded ? signerPods.has(x.pod) : signerPods.get(x.pod) === true));
  return {
    signers,
    responders,
    unreadable: r.unreadable,
    source: { responders: o.responders ? 'endpoints' : 'reports', signers: signerPods ? 'endpoints' : 'reports' },
  };
}
