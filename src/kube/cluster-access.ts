// How a process reaches its apiserver and proves who it is, read without @kubernetes/client-node:
// loading that package brings its generated API clients (~20 MiB of a pod's heap, their sources
// and code) for a kubeconfig parser. The credentials pods and most kubeconfigs carry (the in-cluster
// service account, client certificates, bearer tokens and token files, basic auth) are read here;
// a user entry that runs a program or a plugin (exec, auth-provider) is handed to client-node,
// loaded only then.
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import type { RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export interface ClusterAccess {
  /** The apiserver's URL, without a trailing slash. */
  readonly server: string;
  /** The kubeconfig cluster's proxy-url, if any. */
  readonly proxyUrl?: string;
  /** Puts the TLS trust, client certificate and Authorization header of the next request on `options`. */
  authorize(options: RequestOptions): Promise<void>;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * An explicit kubeconfig path, else KUBECONFIG, else the in-cluster service account (the normal
 * case in a pod), else ~/.kube/config.
 */
export function loadClusterAccess(path?: string): ClusterAccess {
  const file = path ?? process.env.KUBECONFIG;
  if (file) return kubeconfigAccess(file);
  if (process.env.KUBERNETES_SERVICE_HOST) return inClusterAccess();
  return kubeconfigAccess(join(homedir(), '.kube', 'config'));
}

/** The access a client-node KubeConfig gives (tests and tools that hold one already). */
export function accessFromKubeConfig(kc: KubeConfig): ClusterAccess {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  return {
    server: cluster.server.replace(/\/+$/, ''),
    proxyUrl: cluster.proxyUrl,
    authorize: (options) => kc.applyToHTTPSOptions(options),
  };
}

export function isClusterAccess(x: ClusterAccess | KubeConfig): x is ClusterAccess {
  return 'authorize' in x;
}

/** The pod's service account: the API Service's address, the cluster CA and a token the kubelet rotates. */
export function inClusterAccess(dir = SERVICE_ACCOUNT_DIR, env: NodeJS.ProcessEnv = process.env): ClusterAccess {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host) throw new Error('KUBERNETES_SERVICE_HOST is not set: not running in a pod');
  const ca = readFileSync(join(dir, 'ca.crt'));
  const token = new TokenFile(join(dir, 'token'));
  return new StaticAccess(`https://${host.includes(':') ? `[${host}]` : host}:${port}`, undefined, { ca }, () => token.bearer());
}

// The kubeconfig fields read here (client-go's names); others are ignored, as client-go ignores them.
const Kubeconfig = z.object({
  'current-context': z.string().optional(),
  clusters: z
    .array(
      z.object({
        name: z.string(),
        cluster: z.object({
          server: z.string(),
          'certificate-authority': z.string().optional(),
          'certificate-authority-data': z.string().optional(),
          'insecure-skip-tls-verify': z.boolean().optional(),
          'tls-server-name': z.string().optional(),
          'proxy-url': z.string().optional(),
        }),
      }),
    )
    .nullish(),
  users: z
    .array(
      z.object({
        name: z.string(),
        user: z
          .object({
            'client-certificate': z.string().optional(),
            'client-certificate-data': z.string().optional(),
            'client-key': z.string().optional(),
            'client-key-data': z.string().optional(),
            token: z.string().optional(),
            tokenFile: z.string().optional(),
            username: z.string().optional(),
            password: z.string().optional(),
            exec: z.unknown().optional(),
            'auth-provider': z.unknown().optional(),
          })
          .nullish(),
      }),
    )
    .nullish(),
  contexts: z.array(z.object({ name: z.string(), context: z.object({ cluster: z.string(), user: z.string().optional() }) })).nullish(),
});

/** A kubeconfig file's current context. */
export function kubeconfigAccess(file: string): ClusterAccess {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`kubeconfig ${file} cannot be read: ${(err as Error).message}`);
  }
  const parsed = Kubeconfig.safeParse(parseYaml(text));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `kubeconfig ${file} is not a kubeconfig: ${issue ? `${issue.path.join('.') || '(top)'}: ${issue.message}` : 'invalid'}`,
    );
  }
  const cfg = parsed.data;
  const context = cfg.contexts?.find((c) => c.name === cfg['current-context'])?.context;
  if (!context) throw new Error(`kubeconfig ${file} has no current context ('${cfg['current-context'] ?? ''}')`);
  const cluster = cfg.clusters?.find((c) => c.name === context.cluster)?.cluster;
  if (!cluster) throw new Error(`kubeconfig ${file} has no current cluster ('${context.cluster}')`);
  const user = cfg.users?.find((u) => u.name === context.user)?.user ?? {};
  const server = cluster.server.replace(/\/+$/, '');
  // client-node reads the whole entry (cluster TLS included) for a plugin user.
  if (user.exec !== undefined || user['auth-provider'] !== undefined) return new DelegatedAccess(file, server, cluster['proxy-url']);
  // Relative paths in a kubeconfig are relative to the file (client-go's rule).
  const resolve = (path: string) => (isAbsolute(path) ? path : join(dirname(file), path));
  const pem = (data: string | undefined, path: string | undefined) =>
    data !== undefined ? Buffer.from(data, 'base64') : path !== undefined ? readFileSync(resolve(path)) : undefined;
  const tls: Tls = {
    ca: pem(cluster['certificate-authority-data'], cluster['certificate-authority']),
    insecure: cluster['insecure-skip-tls-verify'],
    serverName: cluster['tls-server-name'],
    cert: pem(user['client-certificate-data'], user['client-certificate']),
    key: pem(user['client-key-data'], user['client-key']),
  };
  let authorization: () => string | undefined = () => undefined;
  if (user.token) authorization = () => `Bearer ${user.token}`;
  else if (user.tokenFile) {
    const token = new TokenFile(resolve(user.tokenFile));
    authorization = () => token.bearer();
  } else if (user.username !== undefined) {
    const basic = `Basic ${Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64')}`;
    authorization = () => basic;
  }
  return new StaticAccess(server, cluster['proxy-url'], tls, authorization);
}

interface Tls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  insecure?: boolean;
  serverName?: string;
}

function applyTls(options: RequestOptions, tls: Tls): void {
  if (tls.ca) options.ca = tls.ca;
  if (tls.cert) options.cert = tls.cert;
  if (tls.key) options.key = tls.key;
  if (tls.insecure) options.rejectUnauthorized = false;
  if (tls.serverName) options.servername = tls.serverName;
}

function setAuthorization(options: RequestOptions, value: string | undefined): void {
  if (value === undefined) return;
  options.headers = { ...(options.headers as Record<string, string> | undefined), Authorization: value };
}

class StaticAccess implements ClusterAccess {
  constructor(
    readonly server: string,
    readonly proxyUrl: string | undefined,
    private readonly tls: Tls,
    private readonly authorization: () => string | undefined,
  ) {}

  authorize(options: RequestOptions): Promise<void> {
    applyTls(options, this.tls);
    setAuthorization(options, this.authorization());
    return Promise.resolve();
  }
}

/** A user entry that runs a program or a plugin: client-node knows them all; it is loaded on the first request. */
class DelegatedAccess implements ClusterAccess {
  private kubeConfig: Promise<KubeConfig> | undefined;

  constructor(
    private readonly file: string,
    readonly server: string,
    readonly proxyUrl: string | undefined,
  ) {}

  async authorize(options: RequestOptions): Promise<void> {
    this.kubeConfig ??= import('@kubernetes/client-node').then(({ KubeConfig }) => {
      const kc = new KubeConfig();
      kc.loadFromFile(this.file);
      return kc;
    });
    await (await this.kubeConfig).applyToHTTPSOptions(options);
  }
}

/**
 * A bearer token kept in a file that something else rotates (the kubelet swaps in a new file
 * through a symlink): read again whenever the file it names changes, so a request never carries
 * a token the kubelet has already replaced.
 */
class TokenFile {
  private token = '';
  private version = '';

  constructor(private readonly path: string) {}

  bearer(): string {
    const st = statSync(this.path);
    const version = `${st.ino}:${st.size}:${st.mtimeMs}`;
    if (version !== this.version) {
      this.token = readFileSync(this.path, 'utf8').trim();
      this.version = version;
    }
    return `Bearer ${this.token}`;
  }
}
