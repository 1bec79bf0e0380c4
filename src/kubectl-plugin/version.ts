// `kubectl ocsp version`: the plugin's version (package.json; the single executable has it built
// in) and, when the user may list Deployments, the operator's: the chart labels its Deployment
// app.kubernetes.io/part-of=ocsp-operator, component=controller, with app.kubernetes.io/version.
// No RBAC is asked for this: without the right to list Deployments the operator's is "unknown".
import { DeploymentType, type KubeObject } from '../kube/types.js';
import { readFileSync } from 'node:fs';
import { KubeApiError } from '../kube/client.js';
import type { Connection } from './kube.js';

// Set by hack/build-kubectl-ocsp.sh (esbuild --define) in the single executable.
declare const __KUBECTL_OCSP_VERSION__: string | undefined;

export function pluginVersion(): string {
  if (typeof __KUBECTL_OCSP_VERSION__ === 'string') return __KUBECTL_OCSP_VERSION__;
  // From a checkout: dist/src/kubectl-plugin/ (built) or src/kubectl-plugin/ (tests).
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'ocsp-operator' && pkg.version) return pkg.version;
    } catch {
      // not there: the next candidate
    }
  }
  return 'unknown';
}

const OPERATOR_SELECTOR = 'app.kubernetes.io/part-of=ocsp-operator,app.kubernetes.io/component=controller';

interface Deployment extends KubeObject {
  spec?: { template?: { spec?: { containers?: Array<{ name?: string; image?: string }> } } };
  status?: { readyReplicas?: number; replicas?: number };
}

export interface OperatorVersion {
  namespace: string;
  name: string;
  version: string | null;
  image: string | null;
  ready: string;
}

export type OperatorLookup = { found: OperatorVersion[] } | { unknown: string };

export async function operatorVersions(conn: Connection): Promise<OperatorLookup> {
  // Every namespace first (the operator lives in its own); the current one if that is forbidden.
  for (const namespace of [undefined, conn.namespace]) {
    try {
      const list = await conn.client.list<Deployment>(DeploymentType, {
        ...(namespace ? { namespace } : {}),
        labelSelector: OPERATOR_SELECTOR,
      });
      return {
        found: list.items.map((d) => ({
          namespace: d.metadata?.namespace ?? '',
          name: d.metadata?.name ?? '',
          version: d.metadata?.labels?.['app.kubernetes.io/version'] ?? null,
          image: d.spec?.template?.spec?.containers?.[0]?.image ?? null,
          ready: `${d.status?.readyReplicas ?? 0}/${d.status?.replicas ?? 0}`,
        })),
      };
    } catch (e) {
      if (e instanceof KubeApiError && (e.status === 403 || e.status === 401)) {
        if (namespace) return { unknown: `not allowed to list Deployments in ${namespace} or cluster-wide` };
        continue;
      }
      if (e instanceof KubeApiError && e.status === 0) return { unknown: `cannot reach the apiserver: ${e.message}` };
      throw e;
    }
  }
  return { unknown: 'not allowed to list Deployments' };
}
