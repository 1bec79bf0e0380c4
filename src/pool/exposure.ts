// How a pool's responders meet the world and the cluster's operations, from spec.responder and
// spec.signers: an Ingress for the public OCSP URL, a HorizontalPodAutoscaler per responder
// Deployment, and PodDisruptionBudgets for responders and signers. Pure, like workloads.ts: it
// reads the workloads already rendered (the Service, the Deployments, the StatefulSet) and points
// at them by name and selector, so the two never disagree.
//
// The Embedded store runs one pod, the only writer of its store: it gets the Ingress, and neither
// an autoscaler (the spec refuses it) nor a budget (one that keeps one pod of one up would block
// every node drain).
import type { OcspResponderPool } from '../api/pool.js';
import { HorizontalPodAutoscalerType, IngressType, PodDisruptionBudgetType, type OwnerReference } from '../kube/types.js';
import type { Workload } from './workload.js';

const COMPONENT = 'app.kubernetes.io/component';

interface Rendered {
  metadata: { name: string; namespace?: string; labels: Record<string, string>; ownerReferences: OwnerReference[] };
  spec: { selector?: Record<string, string> | { matchLabels: Record<string, string> }; ports?: Array<{ name: string }> };
}

const rendered = (w: Workload): Rendered => w.object as unknown as Rendered;
const ofKind = (ws: Workload[], kind: string, component: string) =>
  ws.filter((w) => w.type.kind === kind && rendered(w).metadata.labels[COMPONENT] === component);

/** The metadata of an object that belongs with `like`: its namespace, labels and owner, under its own name. */
function metaLike(like: Rendered, name: string, annotations?: Record<string, string>) {
  const m = like.metadata;
  return { name, namespace: m.namespace, labels: m.labels, ...(annotations ? { annotations } : {}), ownerReferences: m.ownerReferences };
}

function budget(like: Rendered, name: string, matchLabels: Record<string, string>, maxUnavailable: number): Workload {
  return {
    type: PodDisruptionBudgetType,
    object: {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: metaLike(like, name),
      spec: {
        maxUnavailable,
        selector: { matchLabels },
        // A pod that is not ready serves nothing (a responder whose replica lags, a signer stuck on
        // its HSM): evicting it costs nothing, and counting it would block the drain that moves it.
        unhealthyPodEvictionPolicy: 'AlwaysAllow',
      },
    },
  };
}

/** The Ingress, autoscalers and budgets for `pool`, given what poolWorkloads rendered for it. */
export function exposureWorkloads(pool: OcspResponderPool, workloads: Workload[]): Workload[] {
  const out: Workload[] = [];
  const name = pool.metadata.name ?? '';
  const { responder, signers } = pool.spec;
  const service = ofKind(workloads, 'Service', 'responder').map(rendered)[0];
  if (!service) return out;

  const ing = responder.ingress;
  if (ing) {
    const backend = { service: { name: service.metadata.name, port: { name: 'ocsp' } } };
    out.push({
      type: IngressType,
      object: {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: metaLike(service, name, ing.annotations),
        spec: {
          ...(ing.className ? { ingressClassName: ing.className } : {}),
          ...(ing.tls ? { tls: [{ hosts: ing.hosts, secretName: ing.tls.secretName }] } : {}),
          rules: ing.hosts.map((host) => ({ host, http: { paths: [{ path: ing.path, pathType: 'Prefix', backend }] } })),
        },
      },
    });
  }

  if (pool.spec.store.type !== 'Redis') return out;

  const deployments = ofKind(workloads, 'Deployment', 'responder').map(rendered);
  const auto = responder.autoscaling;
  if (auto) {
    for (const d of deployments) {
      out.push({
        type: HorizontalPodAutoscalerType,
        object: {
          apiVersion: 'autoscaling/v2',
          kind: 'HorizontalPodAutoscaler',
          metadata: metaLike(d, d.metadata.name),
          spec: {
            scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: d.metadata.name },
            minReplicas: auto.minReplicas,
            maxReplicas: auto.maxReplicas,
            metrics: [
              {
                type: 'Resource',
                resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: auto.targetCPUUtilizationPercentage } },
              },
            ],
          },
        },
      });
    }
  }

  // One budget over every responder of the pool (the Service's selector), whichever replica they read.
  if (deployments.length)
    out.push(
      budget(service, `${name}-responder`, service.spec.selector as Record<string, string>, responder.disruptionBudget.maxUnavailable),
    );
  const signerSet = ofKind(workloads, 'StatefulSet', 'signer').map(rendered)[0];
  const signerSelector = signerSet?.spec.selector as { matchLabels: Record<string, string> } | undefined;
  if (signerSet && signerSelector)
    out.push(budget(signerSet, `${name}-signer`, signerSelector.matchLabels, signers.disruptionBudget.maxUnavailable));
  return out;
}
