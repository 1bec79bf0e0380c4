// What the operator renders for a pool spec, without a cluster: the spec parsed as the controller
// parses it, the workloads it applies, and their pod templates by workload.
import { parseOcspResponderPool } from '../../src/api/pool.js';
import type { KubeObject } from '../../src/kube/types.js';
import { type Workload } from '../../src/pool/workload.js';
import { poolWorkloads } from '../../src/pool/workloads.js';

export interface RenderedContainer {
  name: string;
  image: string;
  env?: Array<{ name: string } & Record<string, unknown>>;
  volumeMounts?: Array<{ name: string; mountPath: string } & Record<string, unknown>>;
  securityContext?: Record<string, unknown>;
  [field: string]: unknown;
}

export interface RenderedPodTemplate {
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    containers: RenderedContainer[];
    initContainers?: RenderedContainer[];
    volumes?: Array<{ name: string } & Record<string, unknown>>;
    [field: string]: unknown;
  };
}

/** One workload's pod template, named as `Kind namespace/name` for assertion messages. */
export interface RenderedTemplate {
  workload: string;
  template: RenderedPodTemplate;
  /** The volumes a StatefulSet's claim templates give its first pod (as its controller names them). */
  claimVolumes: Array<{ name: string; persistentVolumeClaim: { claimName: string } }>;
}

export const RENDER_IMAGES = { operator: 'ocsp-operator:test', signer: 'ocsp-operator-signer:test' };

/** Renders the pool `name` in `namespace` with `spec` (input form: defaults not yet applied). */
export function renderPool(
  spec: Record<string, unknown>,
  o: { name?: string; namespace?: string; signerReplicas?: number } = {},
): { workloads: Workload[]; templates: RenderedTemplate[] } {
  const metadata = { name: o.name ?? 'ca', namespace: o.namespace ?? 'pki', uid: '00000000-0000-0000-0000-000000000000' };
  const pool = parseOcspResponderPool({ apiVersion: 'ocsp-operator.dev/v1alpha1', kind: 'OcspResponderPool', metadata, spec });
  if (!pool.ok) throw new Error(pool.message);
  const workloads = poolWorkloads(pool.value, { images: RENDER_IMAGES, signerReplicas: o.signerReplicas ?? 2 });
  const templates = workloads.flatMap((w) => {
    const obj = w.object as KubeObject & {
      spec?: { template?: RenderedPodTemplate; volumeClaimTemplates?: Array<{ metadata: { name: string } }> };
    };
    const claimVolumes = (obj.spec?.volumeClaimTemplates ?? []).map((c) => ({
      name: c.metadata.name,
      persistentVolumeClaim: { claimName: `${c.metadata.name}-${obj.metadata?.name}-0` },
    }));
    return obj.spec?.template
      ? [{ workload: `${obj.kind} ${obj.metadata?.namespace}/${obj.metadata?.name}`, template: obj.spec.template, claimVolumes }]
      : [];
  });
  return { workloads, templates };
}

/** The smallest Redis pool spec (software key, CA signs directly, one CA database). */
export const MINIMAL_REDIS_POOL_SPEC = {
  issuer: { secretName: 'ca' },
  signing: { softwareKey: { secretName: 'ca' } },
  delegatedResponder: { mode: 'None' },
  sources: [{ opensslIndex: { configMapName: 'ca-db' } }],
  store: { type: 'Redis', redis: { primaryURL: 'redis://redis:6379' } },
};
