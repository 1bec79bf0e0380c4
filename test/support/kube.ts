// Helpers for tests against the real apiserver that the `kube` project's global setup provides:
// a client, a fresh namespace per suite, kubectl, polling with a deadline, and the operator run
// as a real child process (the built dist/src/cli.js), as a user would run it.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeApiError, KubeClient } from '../../src/kube/client.js';
import { loadClusterAccess } from '../../src/kube/cluster-access.js';
import { EventType, NamespaceType, SecretType, type KubeObject, type ResourceType, type Secret } from '../../src/kube/types.js';
import { freePort, repoRoot } from '../../src/devenv/control-plane.js';
import { serviceAccountKubeconfig as mintServiceAccountKubeconfig } from '../../src/devenv/service-account.js';
import { provided } from './provided.js';

const run = promisify(execFile);

export function kubeconfigPath(): string {
  return provided('kubeconfig');
}

export function kubeClient(): KubeClient {
  return new KubeClient(loadClusterAccess(kubeconfigPath()));
}

export async function kubectl(
  args: string[],
  kubeconfig = kubeconfigPath(),
  timeoutMs = 30_000,
): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(join(provided('kubeBinDir'), 'kubectl'), ['--kubeconfig', kubeconfig, ...args], {
      timeout: timeoutMs,
      maxBuffer: 16 << 20,
    });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number };
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? String(err), code: typeof e.code === 'number' ? e.code : 1 };
  }
}

/** A fresh namespace for one suite; deleted by the returned function. */
export async function createNamespace(client: KubeClient, prefix: string): Promise<{ name: string; remove(): Promise<void> }> {
  const name = `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
  await client.create(NamespaceType, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  return { name, remove: () => client.delete(NamespaceType, undefined, name) };
}

/** Polls `probe` until it returns a value other than undefined/false, or fails with `what`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** An events.k8s.io/v1 Event, as the tests read them. */
export interface EventObject extends KubeObject {
  reason?: string;
  type?: string;
  note?: string;
  reportingController?: string;
  regarding?: { name?: string; kind?: string; namespace?: string };
}

/** The Events of a namespace about one object (by name). */
export async function eventsAbout(client: KubeClient, namespace: string, name: string): Promise<EventObject[]> {
  const list = await client.list<EventObject>(EventType, { namespace });
  return list.items.filter((e) => e.regarding?.name === name);
}

export function tlsSecret(
  namespace: string,
  name: string,
  data: { certPem: string; keyPem: string; caPem?: string },
  annotations: Record<string, string> = {},
): Secret {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const d: Record<string, string> = { 'tls.crt': b64(data.certPem), 'tls.key': b64(data.keyPem) };
  if (data.caPem) d['ca.crt'] = b64(data.caPem);
  return { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name, namespace, annotations }, data: d };
}

export async function putSecret(client: KubeClient, secret: Secret): Promise<Secret> {
  return client.apply(SecretType, secret, 'test');
}

export interface OperatorProcess {
  healthUrl: string;
  proc: ChildProcess;
  logs(): string;
  /** Log lines parsed as JSON (pino). */
  logLines(): Array<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

/** Runs `ocsp-operator controller` from dist/ against the test cluster. */
export async function startOperator(
  args: string[] = [],
  env: Record<string, string> = {},
  kubeconfig = kubeconfigPath(),
): Promise<OperatorProcess> {
  const cli = join(repoRoot(), 'dist', 'src', 'cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (npm test does)`);
  const port = await freePort();
  const proc = spawn(process.execPath, [cli, 'controller', '--kubeconfig', kubeconfig, '--health-addr', `127.0.0.1:${port}`, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'debug', ...env },
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const healthUrl = `http://127.0.0.1:${port}`;
  await waitFor(
    `operator health endpoint ${healthUrl}`,
    async () => {
      if (proc.exitCode !== null) throw new Error(`operator exited with ${proc.exitCode}:\n${out.slice(-3000)}`);
      const r = await fetch(`${healthUrl}/healthz`).catch(() => undefined);
      return r?.ok;
    },
    30_000,
  );
  return {
    healthUrl,
    proc,
    exited,
    logs: () => out,
    logLines: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

/** Reads one sample of a Prometheus metric from a /metrics text. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[4]);
  }
  return undefined;
}

/** A kubeconfig for a ServiceAccount of the test cluster (src/devenv/service-account.ts). */
export function serviceAccountKubeconfig(admin: KubeClient, namespace: string, serviceAccount: string, dir: string): Promise<string> {
  return mintServiceAccountKubeconfig({ admin, adminKubeconfig: kubeconfigPath(), namespace, serviceAccount, dir });
}

/**
 * Resolves once a watch that collects `versions` of one object has delivered the version the
 * apiserver holds now: what it saw is then the whole story so far (no sleep to hope for it).
 */
export async function watchCaughtUp(
  client: KubeClient,
  type: ResourceType,
  namespace: string,
  name: string,
  versions: readonly KubeObject[],
  timeoutMs = 10_000,
): Promise<void> {
  const now = (await client.getOrUndefined<KubeObject>(type, namespace, name))?.metadata?.resourceVersion;
  if (now === undefined) return;
  await waitFor(
    `the watch on ${type.kind} ${namespace}/${name} at resourceVersion ${now}`,
    () => versions.some((v) => v.metadata?.resourceVersion === now),
    timeoutMs,
    20,
  );
}

/**
 * Replaces an object's spec (a merge patch could not drop a list item). The operator writes its
 * status meanwhile, so a replace with an older resourceVersion is refused (409) as it would be for
 * a person: read again and retry, a bounded number of times.
 */
export async function replaceSpec(client: KubeClient, type: ResourceType, namespace: string, name: string, spec: unknown): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const current = await client.get<KubeObject>(type, namespace, name);
    try {
      await client.replace(type, { ...current, spec } as KubeObject);
      return;
    } catch (err) {
      if (!(err instanceof KubeApiError) || err.status !== 409 || attempt >= 5) throw err;
    }
  }
}
