// The cluster connection as kubectl would choose it: --kubeconfig, else $KUBECONFIG (a list of
// files, merged), else ~/.kube/config, else in-cluster; --context picks a context; the namespace is
// -n, else the context's, else "default".
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../kube/client.js';

import { UsageError } from './errors.js';

export { UsageError };

export interface Connection {
  client: KubeClient;
  namespace: string;
  context: string;
}

/** `timeoutMs`: each request's (--timeout; 15 s by default). */
export function connect(o: { kubeconfig?: string; context?: string; namespace?: string; timeoutMs?: number }): Connection {
  const kc = new KubeConfig();
  try {
    if (o.kubeconfig) kc.loadFromFile(o.kubeconfig);
    else kc.loadFromDefault();
  } catch (e) {
    throw new UsageError(`cannot load kubeconfig ${o.kubeconfig ?? process.env.KUBECONFIG ?? '~/.kube/config'}: ${(e as Error).message}`);
  }
  if (o.context) {
    if (!kc.getContextObject(o.context)) {
      throw new UsageError(
        `context ${JSON.stringify(o.context)} is not in the kubeconfig (have: ${
          kc
            .getContexts()
            .map((c) => c.name)
            .join(', ') || 'none'
        })`,
      );
    }
    kc.setCurrentContext(o.context);
  }
  if (!kc.getCurrentCluster())
    throw new UsageError(`kubeconfig ${o.kubeconfig ?? process.env.KUBECONFIG ?? '~/.kube/config'} has no current cluster`);
  const context = kc.getCurrentContext();
  const namespace = o.namespace ?? kc.getContextObject(context)?.namespace ?? 'default';
  return { client: new KubeClient(kc, { userAgent: 'kubectl-ocsp', timeoutMs: o.timeoutMs ?? 15_000 }), namespace, context };
}
