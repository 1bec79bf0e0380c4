// The fixed names of the test node (one per machine): its addresses, directories and ports.
// Every component of src/devenv/node-cluster.ts reads them from here.
import { join } from 'node:path';

export const NODE_NAME = 'ocsp-node';
/** The bridge's address: gateway of the pod network, the node's InternalIP, and where every
 *  server pods must reach listens (apiserver, kubelet, CoreDNS). */
export const NODE_IP = '10.244.0.1';
export const POD_CIDR = '10.244.0.0/24';
export const SERVICE_CIDR = '10.96.0.0/24';
export const KUBERNETES_SERVICE_IP = '10.96.0.1';
export const CLUSTER_DOMAIN = 'cluster.local';
export const BRIDGE = 'ocsp0';
/** The CNI network's name (containerd's CNI cache and host-local's store are keyed by it). */
export const CNI_NETWORK = 'ocsp-node';
export const API_PORT = 6443;
export const KUBELET_PORT = 10250;
export const COREDNS_HEALTH_PORT = 8080;
export const COREDNS_READY_PORT = 8181;
export const SANDBOX_IMAGE = 'localhost/pause:3.10';

export const STATE_DIR = '/var/lib/ocsp-operator-node';
export const RUN_DIR = '/run/ocsp-operator-node';

export const paths = {
  state: STATE_DIR,
  run: RUN_DIR,
  /** The control plane's work dir: pki/, etcd/, kubeconfig (admin). */
  pki: join(STATE_DIR, 'pki'),
  adminKubeconfig: join(STATE_DIR, 'kubeconfig'),
  logs: join(STATE_DIR, 'logs'),
  pids: join(RUN_DIR, 'pids'),
  containerdRoot: join(STATE_DIR, 'containerd'),
  containerdState: join(RUN_DIR, 'containerd'),
  containerdSocket: join(RUN_DIR, 'containerd', 'containerd.sock'),
  containerdConfig: join(STATE_DIR, 'containerd.toml'),
  cniConfDir: join(STATE_DIR, 'cni', 'net.d'),
  cniIpamDir: join(STATE_DIR, 'cni', 'networks'),
  /** libcni's result cache, which containerd 1.6 does not let us move. */
  cniCacheDir: '/var/lib/cni/results',
  kubeletRoot: join(STATE_DIR, 'kubelet'),
  kubeletConfig: join(STATE_DIR, 'kubelet-config.yaml'),
  podLogs: join(STATE_DIR, 'pod-logs'),
  resolvConf: join(STATE_DIR, 'resolv.conf'),
  corefile: join(STATE_DIR, 'Corefile'),
  kubeconfig: (user: string) => join(STATE_DIR, `${user}.kubeconfig`),
  /** Host settings changed at start and restored at teardown (ip_forward). */
  savedSysctls: join(RUN_DIR, 'sysctls.json'),
  netnsDir: '/var/run/netns',
};
