// The node's certificates, issued by the control plane's CA (src/devenv/control-plane.ts writes
// it): a client certificate and kubeconfig per component, in the groups the apiserver's default
// RBAC binds (system:nodes for the kubelet, with the Node authorizer and NodeRestriction), and the
// kubelet's serving certificate for the node's IP, which the apiserver verifies.
import { writeFile } from 'node:fs/promises';
import { issueCert, kubeconfigFor } from '../control-plane.js';
import { NODE_IP, NODE_NAME, paths } from './config.js';

const client = 'extendedKeyUsage=clientAuth\n';

/** Component → its certificate's subject; the kubeconfig is paths.kubeconfig(component). */
export const identities: Record<string, string> = {
  kubelet: `/O=system:nodes/CN=system:node:${NODE_NAME}`,
  'kube-controller-manager': '/CN=system:kube-controller-manager',
  'kube-scheduler': '/CN=system:kube-scheduler',
  'kube-proxy': '/CN=system:kube-proxy',
  // Bound by the ClusterRole node-cluster.ts applies (what CoreDNS's kubernetes plugin reads).
  coredns: '/CN=system:coredns',
};

export async function writeNodePki(server: string): Promise<void> {
  // One at a time: openssl keeps the CA's next serial in one file.
  for (const [name, subject] of Object.entries(identities)) {
    await issueCert(paths.pki, name, subject, client);
    await writeFile(paths.kubeconfig(name), await kubeconfigFor(paths.pki, server, name), { mode: 0o600 });
  }
  await issueCert(
    paths.pki,
    'kubelet-serving',
    `/CN=${NODE_NAME}`,
    `subjectAltName=IP:${NODE_IP},DNS:${NODE_NAME}\nextendedKeyUsage=serverAuth\n`,
  );
}
