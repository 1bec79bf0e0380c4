// How the operator's pods and commands reach the apiserver without client-node's kubeconfig loader
// (src/kube/cluster-access.ts), each way checked against the real apiserver by asking it who the
// request came from (a SelfSubjectReview): client certificates inline and as files beside the
// kubeconfig, a token, a token file that is rotated, the in-cluster service account, and an exec
// credential plugin, which is handed to client-node.
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inClusterAccess, kubeconfigAccess, loadClusterAccess, type ClusterAccess } from '../../src/kube/cluster-access.js';
import { KubeApiError, KubeClient } from '../../src/kube/client.js';
import { SecretType, ServiceAccountType } from '../../src/kube/types.js';
import { createNamespace, kubeClient, kubeconfigPath } from '../support/kube.js';

interface AdminKubeconfig {
  clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
  users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[];
}

let admin: KubeClient;
let ns: { name: string; remove(): Promise<void> };
let dir: string;
let server: string;
let caPem: Buffer;
let adminCfg: AdminKubeconfig;

/** The user name the apiserver gives the requests of `access`. */
async function whoami(access: ClusterAccess): Promise<string> {
  const review = await new KubeClient(access).request<{ status: { userInfo: { username: string } } }>(
    'POST',
    '/apis/authentication.k8s.io/v1/selfsubjectreviews',
    { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } },
  );
  return review.status.userInfo.username;
}

async function serviceAccountToken(name: string): Promise<string> {
  await admin.create(ServiceAccountType, {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name, namespace: ns.name },
  });
  const tr = await admin.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${ns.name}/serviceaccounts/${name}/token`, {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
  });
  return tr.status.token;
}

function kubeconfigText(
  user: Record<string, unknown>,
  cluster: Record<string, unknown> = { server, 'certificate-authority-data': caPem.toString('base64') },
): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'ctx',
  });
}

async function writeKubeconfig(name: string, user: Record<string, unknown>, cluster?: Record<string, unknown>): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, kubeconfigText(user, cluster), { mode: 0o600 });
  return file;
}

beforeAll(async () => {
  admin = kubeClient();
  ns = await createNamespace(admin, 'access');
  dir = await mkdtemp(join(tmpdir(), 'cluster-access-'));
  adminCfg = parseYaml(await readFile(kubeconfigPath(), 'utf8')) as AdminKubeconfig;
  const cluster = adminCfg.clusters[0]?.cluster;
  if (!cluster) throw new Error('the test kubeconfig has no cluster');
  server = cluster.server;
  caPem = Buffer.from(cluster['certificate-authority-data'], 'base64');
});

afterAll(async () => {
  await ns?.remove();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('kubeconfig credentials read without client-node', () => {
  it('client certificate and CA given inline', async () => {
    expect(await whoami(loadClusterAccess(kubeconfigPath()))).toBe('admin');
  });

  it('client certificate, key and CA as files relative to the kubeconfig', async () => {
    const user = adminCfg.users[0]?.user;
    if (!user) throw new Error('the test kubeconfig has no user');
    await mkdir(join(dir, 'pki'), { recursive: true });
    await writeFile(join(dir, 'pki', 'ca.crt'), caPem);
    await writeFile(join(dir, 'pki', 'admin.crt'), Buffer.from(user['client-certificate-data'], 'base64'));
    await writeFile(join(dir, 'pki', 'admin.key'), Buffer.from(user['client-key-data'], 'base64'));
    const file = await writeKubeconfig(
      'files.kubeconfig',
      { 'client-certificate': 'pki/admin.crt', 'client-key': 'pki/admin.key' },
      { server, 'certificate-authority': 'pki/ca.crt' },
    );
    expect(await whoami(kubeconfigAccess(file))).toBe('admin');
  });

  it('a bearer token', async () => {
    const token = await serviceAccountToken('with-token');
    const file = await writeKubeconfig('token.kubeconfig', { token });
    expect(await whoami(kubeconfigAccess(file))).toBe(`system:serviceaccount:${ns.name}:with-token`);
  });

  it('a token file, read again once it is replaced', async () => {
    const [first, second] = [await serviceAccountToken('first'), await serviceAccountToken('second')];
    const tokenPath = join(dir, 'rotating-token');
    await writeFile(tokenPath, first);
    const access = kubeconfigAccess(await writeKubeconfig('token-file.kubeconfig', { tokenFile: tokenPath }));
    expect(await whoami(access)).toBe(`system:serviceaccount:${ns.name}:first`);
    // As the kubelet rotates a projected token: a new file moved over the old one.
    await writeFile(`${tokenPath}.new`, second);
    await rename(`${tokenPath}.new`, tokenPath);
    expect(await whoami(access)).toBe(`system:serviceaccount:${ns.name}:second`);
  });

  it('an exec credential plugin, through client-node', async () => {
    const token = await serviceAccountToken('exec-plugin');
    const plugin = join(dir, 'credential-plugin.mjs');
    const credential = { apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token } };
    await writeFile(plugin, `#!/usr/bin/env node\nprocess.stdout.write(${JSON.stringify(JSON.stringify(credential))});\n`);
    await chmod(plugin, 0o755);
    const file = await writeKubeconfig('exec.kubeconfig', {
      exec: { apiVersion: 'client.authentication.k8s.io/v1', command: process.execPath, args: [plugin], interactiveMode: 'Never' },
    });
    expect(await whoami(kubeconfigAccess(file))).toBe(`system:serviceaccount:${ns.name}:exec-plugin`);
  });

  it('names the file when it cannot be used', async () => {
    expect(() => kubeconfigAccess(join(dir, 'absent.kubeconfig'))).toThrow(/kubeconfig .*absent\.kubeconfig cannot be read/);
    const noContext = join(dir, 'no-context.kubeconfig');
    await writeFile(noContext, JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [], 'current-context': 'gone' }));
    expect(() => kubeconfigAccess(noContext)).toThrow(/no-context\.kubeconfig has no current context \('gone'\)/);
    const notOne = join(dir, 'list.kubeconfig');
    await writeFile(notOne, JSON.stringify({ clusters: 'many' }));
    expect(() => kubeconfigAccess(notOne)).toThrow(/list\.kubeconfig is not a kubeconfig: clusters: /);
  });
});

describe('in a pod', () => {
  it("uses the service account's token and CA and the API Service's address", async () => {
    const saDir = join(dir, 'serviceaccount');
    await mkdir(saDir, { recursive: true });
    await writeFile(join(saDir, 'ca.crt'), caPem);
    await writeFile(join(saDir, 'token'), await serviceAccountToken('in-pod'));
    const url = new URL(server);
    const access = inClusterAccess(saDir, { KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port });
    expect(access.server).toBe(`https://${url.hostname}:${url.port}`);
    expect(await whoami(access)).toBe(`system:serviceaccount:${ns.name}:in-pod`);
  });
});

describe('a watch over the same access', () => {
  it('a refused watch is a KubeApiError with the Status reason and message', async () => {
    const token = await serviceAccountToken('no-rights');
    const client = new KubeClient(kubeconfigAccess(await writeKubeconfig('no-rights.kubeconfig', { token })));
    const ended = new Promise<unknown>((resolve) => {
      void client.watch(SecretType, { namespace: ns.name, resourceVersion: '', timeoutSeconds: 5 }, () => undefined, resolve);
    });
    const err = await ended;
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err).toMatchObject({ status: 403, reason: 'Forbidden' });
    expect((err as KubeApiError).apiMessage).toMatch(/cannot watch resource "secrets"/);
  });
});
