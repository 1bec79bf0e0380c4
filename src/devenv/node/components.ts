// How each node component is started: the kubelet (config file), kube-proxy, the
// controller-manager, the scheduler and CoreDNS (a host process on the node's address, the
// kubelet's --cluster-dns). Servers bind the node's address or 127.0.0.1, never more.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import {
  CLUSTER_DOMAIN,
  COREDNS_HEALTH_PORT,
  COREDNS_READY_PORT,
  KUBELET_PORT,
  NODE_IP,
  NODE_NAME,
  POD_CIDR,
  SERVICE_CIDR,
  paths,
} from './config.js';
import { startDaemon, type Daemon } from './processes.js';

export interface Ports {
  kubeletHealthz: number;
  proxyHealthz: number;
  proxyMetrics: number;
  controllerManager: number;
  scheduler: number;
}

const pki = (f: string) => join(paths.pki, f);

export async function startKubelet(binDir: string, ports: Ports): Promise<Daemon> {
  await mkdir(paths.kubeletRoot, { recursive: true });
  await mkdir(paths.podLogs, { recursive: true });
  // Pods with dnsPolicy Default get the cluster DNS too: no name is ever asked outside the machine.
  await writeFile(paths.resolvConf, `nameserver ${NODE_IP}\n`);
  const config = {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: NODE_IP,
    port: KUBELET_PORT,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: ports.kubeletHealthz,
    tlsCertFile: pki('kubelet-serving.crt'),
    tlsPrivateKeyFile: pki('kubelet-serving.key'),
    rotateCertificates: false,
    serverTLSBootstrap: false,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: pki('ca.crt') } },
    authorization: { mode: 'Webhook' },
    containerRuntimeEndpoint: `unix://${paths.containerdSocket}`,
    // no systemd on these machines; cgroup v1 is still supported by 1.34 (maintenance mode)
    cgroupDriver: 'cgroupfs',
    failCgroupV1: false,
    clusterDNS: [NODE_IP],
    clusterDomain: CLUSTER_DOMAIN,
    resolvConf: paths.resolvConf,
    podLogsDir: paths.podLogs,
    // The kubelet cannot read the root filesystem's stats here; no eviction, no swap check, and
    // no image garbage collection (every image was imported by hand and cannot be pulled again).
    evictionHard: {},
    failSwapOn: false,
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    imageMaximumGCAge: '0s',
    serializeImagePulls: true,
    shutdownGracePeriod: '0s',
    maxPods: 110,
    registerNode: true,
  };
  await writeFile(paths.kubeletConfig, stringify(config));
  return startDaemon('kubelet', join(binDir, 'kubelet'), [
    `--config=${paths.kubeletConfig}`,
    `--kubeconfig=${paths.kubeconfig('kubelet')}`,
    `--root-dir=${paths.kubeletRoot}`,
    `--cert-dir=${join(paths.kubeletRoot, 'pki')}`,
    `--hostname-override=${NODE_NAME}`,
    `--node-ip=${NODE_IP}`,
    // cAdvisor's own containerd client (container stats) looks at the default socket otherwise
    `--containerd=${paths.containerdSocket}`,
    '--v=1',
  ]);
}

export function startKubeProxy(binDir: string, ports: Ports): Daemon {
  return startDaemon('kube-proxy', join(binDir, 'kube-proxy'), [
    `--kubeconfig=${paths.kubeconfig('kube-proxy')}`,
    `--hostname-override=${NODE_NAME}`,
    '--proxy-mode=iptables',
    `--cluster-cidr=${POD_CIDR}`,
    `--bind-address=${NODE_IP}`,
    // NodePorts only on the node's own address, never on the machine's outside interfaces.
    `--nodeport-addresses=${POD_CIDR}`,
    `--healthz-bind-address=127.0.0.1:${ports.proxyHealthz}`,
    `--metrics-bind-address=127.0.0.1:${ports.proxyMetrics}`,
    // nf_conntrack_max cannot be raised here; leave it, and the machine's conntrack timeouts, as they are.
    '--conntrack-max-per-core=0',
    '--conntrack-tcp-timeout-established=0s',
    '--conntrack-tcp-timeout-close-wait=0s',
    '--v=1',
  ]);
}

export function startControllerManager(binDir: string, ports: Ports): Daemon {
  const kubeconfig = paths.kubeconfig('kube-controller-manager');
  return startDaemon('kube-controller-manager', join(binDir, 'kube-controller-manager'), [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${ports.controllerManager}`,
    `--service-account-private-key-file=${pki('sa.key')}`,
    `--root-ca-file=${pki('ca.crt')}`,
    `--cluster-signing-cert-file=${pki('ca.crt')}`,
    `--cluster-signing-key-file=${pki('ca.key')}`,
    '--use-service-account-credentials=true',
    '--controllers=*',
    `--cluster-cidr=${POD_CIDR}`,
    '--allocate-node-cidrs=true',
    '--node-cidr-mask-size=24',
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    '--cluster-name=ocsp-node',
    '--leader-elect=false',
    '--profiling=false',
    '--v=1',
  ]);
}

export function startScheduler(binDir: string, ports: Ports): Daemon {
  const kubeconfig = paths.kubeconfig('kube-scheduler');
  return startDaemon('kube-scheduler', join(binDir, 'kube-scheduler'), [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${ports.scheduler}`,
    '--leader-elect=false',
    '--profiling=false',
    '--v=1',
  ]);
}

/** CoreDNS's permissions: what its kubernetes plugin lists and watches. */
export const corednsRbac = [
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'system:coredns' },
    rules: [
      { apiGroups: [''], resources: ['endpoints', 'services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
    ],
  },
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'system:coredns' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:coredns' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'system:coredns' }],
  },
];

export async function startCoreDns(binDir: string): Promise<Daemon> {
  // Cluster names only: no forward plugin, a name outside cluster.local gets no answer from here.
  const corefile = `.:53 {
    bind ${NODE_IP}
    errors
    log
    health ${NODE_IP}:${COREDNS_HEALTH_PORT}
    ready ${NODE_IP}:${COREDNS_READY_PORT}
    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {
        kubeconfig ${paths.kubeconfig('coredns')} local
        pods insecure
    }
    cache 30
    loop
}
`;
  await writeFile(paths.corefile, corefile);
  return startDaemon('coredns', join(binDir, 'coredns'), ['-conf', paths.corefile]);
}
