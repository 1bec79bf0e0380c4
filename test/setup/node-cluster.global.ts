// Global setup of the `node` test project: a real single-node Kubernetes on this machine
// (src/devenv/node-cluster.ts: etcd, kube-apiserver, controller-manager, scheduler, kubelet on
// containerd, kube-proxy, CoreDNS), the project's images built without a daemon
// (hack/build-images.sh) and imported into the node's containerd, the CRDs installed. When the
// machine cannot run a node, nothing starts and `nodeUnavailable` names the missing capability,
// which the tests print as their skip reason.
//
// With KUBECONFIG set (a kind cluster, test/kind/e2e.sh), the same tests run there: nothing is
// started or built, and OCSP_NODE_IMAGE_REFS names the images loaded into its nodes.
//
// OCSP_NODE_IMAGES=pause,toolbox limits the images built (all by default; a test that needs one
// not built fails naming it). The node's logs stay in /var/lib/ocsp-operator-node/logs.
import type { TestProject } from 'vitest/node';
import { ensureControlPlaneBinaries } from '../../src/devenv/control-plane.js';
import { installCrds } from '../../src/devenv/crds.js';
import { buildImages, type BuiltImage } from '../../src/devenv/images.js';
import { nodeCapabilityProblem, startNodeCluster, type NodeCluster } from '../../src/devenv/node-cluster.js';
import { loadKubeConfig } from '../../src/kube/config.js';

declare module 'vitest' {
  export interface ProvidedContext {
    nodeKubeconfig: string;
    /** image name (hack/build-images.sh's, plus `operator-upgrade`) → its reference */
    nodeImages: Record<string, string>;
    /** why the node cannot run here, '' when it runs */
    nodeUnavailable: string;
  }
}

const ALL_IMAGES = ['pause', 'toolbox', 'nginx', 'haproxy', 'redis', 'operator', 'signer'];
/** The operator image again under another tag (and OCI version label), for `helm upgrade`. */
const UPGRADE_TAG = 'upgrade';

let node: NodeCluster | undefined;

async function images(log: (m: string) => void): Promise<{ built: BuiltImage[]; failed: string[] }> {
  const wanted = process.env.OCSP_NODE_IMAGES?.split(',').filter(Boolean) ?? ALL_IMAGES;
  const t = Date.now();
  // The smoke tests' images first: a broken product image must not hide a working node.
  const essential: string[] = wanted.filter((n) => n === 'pause' || n === 'toolbox');
  const built = await buildImages(essential);
  const failed: string[] = [];
  const rest = wanted.filter((n) => !essential.includes(n));
  if (rest.length > 0) {
    try {
      built.push(...(await buildImages(rest)));
      if (rest.includes('operator')) {
        const up = await buildImages(['operator'], { OCSP_IMAGE_TAG: UPGRADE_TAG });
        built.push(...up.map((i) => ({ ...i, name: 'operator-upgrade' })));
      }
    } catch (err) {
      failed.push(...rest);
      log(`images ${rest.join(', ')} could not be built; the tests that need them fail: ${String(err).slice(0, 2000)}`);
    }
  }
  log(`images: ${built.map((i) => i.ref).join(', ')} (${Date.now() - t} ms)`);
  return { built, failed };
}

/**
 * `name=ref,…` from OCSP_NODE_IMAGE_REFS: the images already loaded into an existing cluster's
 * nodes (test/kind/e2e.sh builds them with docker and loads them into kind).
 */
function imageRefsFromEnv(): Record<string, string> {
  const text = process.env.OCSP_NODE_IMAGE_REFS ?? '';
  const refs = Object.fromEntries(
    text
      .split(',')
      .filter(Boolean)
      .map((pair) => pair.split('=', 2) as [string, string]),
  );
  const missing = [...ALL_IMAGES.filter((n) => n !== 'pause'), 'operator-upgrade'].filter((n) => !refs[n]);
  if (missing.length > 0) {
    throw new Error(
      `KUBECONFIG names an existing cluster, so the node tests use the images loaded into its nodes: set OCSP_NODE_IMAGE_REFS=name=ref,… for ${missing.join(', ')} (test/kind/e2e.sh does)`,
    );
  }
  return refs;
}

export async function setup(project: TestProject): Promise<void> {
  const log = (m: string) => process.stderr.write(`[node] ${m}\n`);
  const existing = process.env.KUBECONFIG;
  if (existing) {
    // The same tests on a cluster that has real nodes already (kind): nothing is started here.
    log(`using the existing cluster of KUBECONFIG=${existing}`);
    const nodeImages = imageRefsFromEnv();
    const binDir = await ensureControlPlaneBinaries(log);
    await installCrds(loadKubeConfig(existing), log);
    project.provide('nodeUnavailable', '');
    project.provide('nodeKubeconfig', existing);
    project.provide('kubeconfig', existing);
    project.provide('kubeBinDir', binDir);
    project.provide('nodeImages', nodeImages);
    return;
  }
  const reason = await nodeCapabilityProblem();
  if (reason) {
    log(`the node tests are skipped: ${reason}`);
    project.provide('nodeUnavailable', reason);
    project.provide('nodeKubeconfig', '');
    project.provide('kubeconfig', '');
    project.provide('kubeBinDir', '');
    project.provide('nodeImages', {});
    return;
  }
  // The images build (buildah) while the node starts (mostly waiting on its components).
  const [built, started] = await Promise.allSettled([images(log), startNodeCluster({ log })]);
  if (started.status === 'rejected') throw started.reason;
  node = started.value;
  try {
    if (built.status === 'rejected') throw built.reason;
    await node.importImages(built.value.built.map((i) => i.tarball));
    await installCrds(loadKubeConfig(node.kubeconfigPath), log);
    project.provide('nodeUnavailable', '');
    project.provide('nodeKubeconfig', node.kubeconfigPath);
    // The helpers shared with the `kube` project (test/support/kube.ts) read these two.
    project.provide('kubeconfig', node.kubeconfigPath);
    project.provide('kubeBinDir', node.binDir);
    project.provide('nodeImages', Object.fromEntries(built.value.built.map((i) => [i.name, i.ref])));
  } catch (err) {
    // vitest runs no teardown after a failed setup: stop the node here
    await node.stop();
    node = undefined;
    throw err;
  }
}

export async function teardown(): Promise<void> {
  await node?.stop();
}
