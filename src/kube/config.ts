// client-node's KubeConfig, for the tools that need one (the development environment, the
// benchmarks), found the way cluster-access.ts finds a cluster: an explicit kubeconfig path, else
// KUBECONFIG, else the in-cluster service account, else ~/.kube/config. The operator's own
// commands use cluster-access.ts, which does not load client-node.
import { KubeConfig } from '@kubernetes/client-node';

export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  const file = path ?? process.env.KUBECONFIG;
  if (file) {
    kc.loadFromFile(file);
  } else if (process.env.KUBERNETES_SERVICE_HOST) {
    kc.loadFromCluster();
  } else {
    kc.loadFromDefault();
  }
  if (!kc.getCurrentCluster()) throw new Error(`kubeconfig ${file ?? '(default)'} has no current cluster`);
  return kc;
}
