// Global setup of the `kube` test project: a real etcd + kube-apiserver on 127.0.0.1 with RBAC,
// the CRDs installed and Established. When KUBECONFIG already names a cluster (for instance a
// kind cluster made from kind-config.yaml), the same tests run there and nothing is started.
import type { TestProject } from 'vitest/node';
import { startControlPlane, ensureControlPlaneBinaries, type ControlPlane } from '../../src/devenv/control-plane.js';
import { installCrds } from '../../src/devenv/crds.js';
import { loadKubeConfig } from '../../src/kube/config.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    kubeBinDir: string;
  }
}

let plane: ControlPlane | undefined;

export async function setup(project: TestProject): Promise<void> {
  const log = (msg: string) => process.stderr.write(`[control-plane] ${msg}\n`);
  let kubeconfig = process.env.KUBECONFIG;
  const binDir = await ensureControlPlaneBinaries(log);
  if (!kubeconfig) {
    plane = await startControlPlane({ log });
    kubeconfig = plane.kubeconfigPath;
  } else {
    log(`using the existing cluster of KUBECONFIG=${kubeconfig}`);
  }
  await installCrds(loadKubeConfig(kubeconfig), log);
  project.provide('kubeconfig', kubeconfig);
  project.provide('kubeBinDir', binDir);
}

export async function teardown(): Promise<void> {
  await plane?.stop();
}
