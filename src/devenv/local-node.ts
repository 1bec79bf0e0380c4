// A local node: a small stand-in for the kubelet, kept only for the fast embedded demo (`npm run
// demo`), which needs no node. It proves nothing about pods: images, securityContext, probes,
// restarts, Services and volume syncs are shown on the real node (test/node/, src/devenv/node-cluster.ts).
// It takes a pod template
// the operator rendered (a Deployment's or StatefulSet's), and runs its containers as local
// processes of the built `ocsp-operator` — volumes become directories (Secrets and ConfigMaps
// written as files and kept in sync, emptyDir shared), env comes from the downward API and Secret
// references, the pod authenticates with its ServiceAccount's token, and listen addresses move to
// 127.0.0.1 on free ports. What the pod then does (sign, serve, report) is the real code.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeClient } from '../kube/client.js';
import { SecretType, ConfigMapType, type Secret } from '../kube/types.js';
import type { ConfigMap } from '../report/protocol.js';
import { freePort, repoRoot } from './control-plane.js';
import { serviceAccountKubeconfig } from './service-account.js';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } };
}

interface Container {
  name: string;
  args: string[];
  env?: EnvVar[];
  volumeMounts?: Array<{ name: string; mountPath: string }>;
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  ports?: Array<{ name?: string; containerPort: number }>;
}

export interface PodTemplate {
  spec: {
    serviceAccountName?: string;
    containers: Container[];
    volumes?: Array<{ name: string; secret?: { secretName: string }; configMap?: { name: string }; emptyDir?: Record<string, unknown> }>;
  };
}

export interface RunningPod {
  name: string;
  /** host:port on 127.0.0.1 for each named container port. */
  ports: Map<string, number>;
  output(): string;
  /** The readiness probe of a container, as the kubelet would run it. */
  ready(container: string): Promise<boolean>;
  stop(): Promise<void>;
}

export async function runPod(o: {
  client: KubeClient;
  /** The admin kubeconfig: its server and CA go into the pod's ServiceAccount kubeconfig. */
  adminKubeconfig: string;
  namespace: string;
  name: string;
  template: PodTemplate;
  /** Fixed local ports for named container ports (the rest get free ones). */
  ports?: Record<string, number>;
}): Promise<RunningPod> {
  const dir = await mkdtemp(join(tmpdir(), `kubelet-${o.name}-`));
  const cli = join(repoRoot(), 'dist', 'src', 'cli.js');
  const volumeDirs = new Map<string, string>();
  let syncing = true;
  const syncers: Array<() => Promise<void>> = [];
  for (const v of o.template.spec.volumes ?? []) {
    const vdir = join(dir, 'volumes', v.name);
    await mkdir(vdir, { recursive: true });
    volumeDirs.set(v.name, vdir);
    const source = v.secret
      ? { type: SecretType, name: v.secret.secretName }
      : v.configMap
        ? { type: ConfigMapType, name: v.configMap.name }
        : undefined;
    if (!source) continue;
    let last = '';
    const sync = async () => {
      const obj = await o.client.getOrUndefined<Secret & ConfigMap>(source.type, o.namespace, source.name);
      const files = Object.entries(obj?.data ?? {}).map(
        ([k, val]) => [k, source.type === SecretType ? Buffer.from(val, 'base64') : Buffer.from(val)] as const,
      );
      const digest = JSON.stringify(files.map(([k, b]) => [k, b.toString('base64')]));
      if (digest === last) return;
      last = digest;
      // Each file replaced atomically, as the kubelet swaps its ..data directory.
      for (const [k, b] of files) {
        await writeFile(join(vdir, `.${k}.tmp`), b);
        await rename(join(vdir, `.${k}.tmp`), join(vdir, k));
      }
    };
    await sync();
    syncers.push(sync);
  }
  // The kubelet re-reads Secrets and ConfigMaps periodically; this one does it twice a second.
  const syncLoop = (async () => {
    while (syncing) {
      await new Promise((r) => setTimeout(r, 500));
      for (const s of syncers) await s().catch(() => undefined);
    }
  })();

  const kubeconfig = o.template.spec.serviceAccountName
    ? await serviceAccountKubeconfig({
        admin: o.client,
        adminKubeconfig: o.adminKubeconfig,
        namespace: o.namespace,
        serviceAccount: o.template.spec.serviceAccountName,
        dir,
      })
    : undefined;
  const ports = new Map<string, number>();
  const portOf = new Map<string, number>(); // container port number → local port
  for (const c of o.template.spec.containers) {
    for (const p of c.ports ?? []) {
      const local = (p.name && o.ports?.[p.name]) || (await freePort());
      portOf.set(String(p.containerPort), local);
      if (p.name) ports.set(p.name, local);
    }
  }
  let out = '';
  const procs: ChildProcess[] = [];
  for (const c of o.template.spec.containers) {
    const mounts = [...(c.volumeMounts ?? [])].sort((a, b) => b.mountPath.length - a.mountPath.length);
    const args = c.args.map((a) => {
      let r = a;
      for (const m of mounts) if (r.startsWith(m.mountPath)) r = volumeDirs.get(m.name) + r.slice(m.mountPath.length);
      // listen addresses: every interface in a pod, 127.0.0.1 and a free port here
      return r
        .replace(/^0\.0\.0\.0:(\d+)$/, (_m, port: string) => `127.0.0.1:${portOf.get(port) ?? port}`)
        .replace(/=0\.0\.0\.0:(\d+)$/, (_m, port: string) => `=127.0.0.1:${portOf.get(port) ?? port}`);
    });
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: dir, ...(kubeconfig ? { KUBECONFIG: kubeconfig } : {}) };
    if (process.env.SOFTHSM2_CONF) env.SOFTHSM2_CONF = process.env.SOFTHSM2_CONF;
    for (const e of c.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value;
      else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = o.name;
      else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[e.name] = o.namespace;
      else if (e.valueFrom?.secretKeyRef) {
        const s = await o.client.get<Secret>(SecretType, o.namespace, e.valueFrom.secretKeyRef.name);
        env[e.name] = Buffer.from(s.data?.[e.valueFrom.secretKeyRef.key] ?? '', 'base64').toString('utf8');
      }
    }
    const p = spawn(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout?.on('data', (d: Buffer) => (out += `[${c.name}] ${d.toString()}`));
    p.stderr?.on('data', (d: Buffer) => (out += `[${c.name}] ${d.toString()}`));
    procs.push(p);
  }
  return {
    name: o.name,
    ports,
    output: () => out,
    async ready(container: string) {
      const c = o.template.spec.containers.find((x) => x.name === container);
      const probe = c?.readinessProbe?.httpGet;
      if (!probe) return true;
      const port = typeof probe.port === 'number' ? portOf.get(String(probe.port)) : ports.get(probe.port);
      const r = await fetch(`http://127.0.0.1:${port}${probe.path}`).catch(() => undefined);
      return r?.status === 200;
    },
    async stop() {
      syncing = false;
      for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
      await Promise.all(
        procs.map((p) => (p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once('exit', r)) : Promise.resolve())),
      );
      await syncLoop;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
