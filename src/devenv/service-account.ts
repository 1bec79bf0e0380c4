// A kubeconfig that authenticates as a ServiceAccount with a token minted for it (TokenRequest),
// to the admin kubeconfig's server and CA: how a pod's credentials look from outside the pod.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeClient } from '../kube/client.js';
import { loadKubeConfig } from '../kube/config.js';

export async function serviceAccountKubeconfig(o: {
  admin: KubeClient;
  adminKubeconfig: string;
  namespace: string;
  serviceAccount: string;
  dir: string;
}): Promise<string> {
  const tr = await o.admin.request<{ status: { token: string } }>(
    'POST',
    `/api/v1/namespaces/${o.namespace}/serviceaccounts/${o.serviceAccount}/token`,
    {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
    },
  );
  const cluster = loadKubeConfig(o.adminKubeconfig).getCurrentCluster();
  if (!cluster) throw new Error(`${o.adminKubeconfig} has no cluster`);
  const caData = cluster.caData ?? (cluster.caFile ? (await readFile(cluster.caFile)).toString('base64') : undefined);
  const file = join(o.dir, `${o.namespace}.${o.serviceAccount}.kubeconfig`);
  const lines = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: c',
    '  cluster:',
    `    server: ${cluster.server}`,
    ...(caData ? [`    certificate-authority-data: ${caData}`] : []),
    ...(cluster.skipTLSVerify ? ['    insecure-skip-tls-verify: true'] : []),
    'users:',
    '- name: sa',
    '  user:',
    `    token: ${tr.status.token}`,
    'contexts:',
    '- name: sa',
    '  context: {cluster: c, user: sa}',
    'current-context: sa',
    '',
  ];
  await writeFile(file, lines.join('\n'), { mode: 0o600 });
  return file;
}
