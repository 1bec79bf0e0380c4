// Helpers for the `node` project: tests that run the product as real pods on a real kubelet
// (test/setup/node-cluster.global.ts starts the node, or KUBECONFIG names a kind cluster whose
// images test/kind/e2e.sh loaded). Objects go in through kubectl, as a person would apply them.
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { NODE_NAME, STATE_DIR } from '../../src/devenv/node/config.js';
import type { Ca, Issued } from './pki.js';
import { indexTxt } from './pki.js';
import { CHART_DIR, helm } from '../install/helm.js';
import { kubeconfigPath, kubectl, waitFor } from './kube.js';
import { provided } from './provided.js';

const run = promisify(execFile);

/** Why the real node cannot run here ('' when it can): a skip must name a missing capability. */
export function nodeUnavailable(): string {
  return provided('nodeUnavailable');
}

/** The reference of an image the global setup built and imported (see hack/build-images.sh). */
export function nodeImage(
  name: 'operator' | 'operator-upgrade' | 'signer' | 'nginx' | 'haproxy' | 'redis' | 'postgres' | 'toolbox',
): string {
  const ref = provided('nodeImages')[name];
  if (!ref) throw new Error(`the node's global setup provided no image '${name}'`);
  return ref;
}

/** Applies objects with kubectl (server-side), failing with kubectl's own words. */
export async function apply(objects: object[]): Promise<void> {
  // JSON, a subset of YAML: kubectl reads YAML 1.1, where an unquoted `no` would be a boolean.
  const file = objects.map((o) => JSON.stringify(o)).join('\n---\n');
  const dir = await mkdtemp(join(tmpdir(), 'node-apply-'));
  try {
    await writeFile(join(dir, 'objects.yaml'), file);
    const r = await kubectl(['apply', '--server-side', '--field-manager=node-tests', '-f', join(dir, 'objects.yaml')]);
    if (r.code !== 0) throw new Error(`kubectl apply failed: ${r.stderr}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** kubectl that must succeed; returns stdout. */
export async function kubectlOk(args: string[], timeoutMs?: number): Promise<string> {
  const r = await kubectl(args, undefined, timeoutMs);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

/**
 * A long-running kubectl (`exec` of a sampler, `logs -f`): each stdout line to `onLine` as it
 * arrives. `kill()` ends the local kubectl only; what it runs in a pod must end by itself (give it
 * a deadline) or be told to.
 */
export function kubectlStream(
  args: string[],
  onLine: (line: string) => void,
): { exited: Promise<{ code: number | null; stderr: string }>; kill(): void } {
  const child = spawn(join(provided('kubeBinDir'), 'kubectl'), ['--kubeconfig', kubeconfigPath(), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8_000)));
  createInterface({ input: child.stdout }).on('line', onLine);
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, stderr })),
  );
  return { exited, kill: () => void child.kill('SIGTERM') };
}

/** A namespace that enforces PodSecurity `restricted`, as hardened clusters label them. */
export async function restrictedNamespace(prefix: string): Promise<{ name: string; remove(): Promise<void> }> {
  const name = `${prefix}-${Math.random().toString(36).slice(2, 7)}`;
  await apply([
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name,
        labels: {
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/enforce-version': 'latest',
          'pod-security.kubernetes.io/warn': 'restricted',
        },
      },
    },
  ]);
  return { name, remove: async () => void (await kubectl(['delete', 'namespace', name, '--wait=false'])) };
}

/** What every container of the tests' own pods runs under: PodSecurity `restricted`. */
export const restrictedContainer = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

/** The pod-level half of PodSecurity `restricted`, as the tests' own pods run: uid/gid 65532. */
export const restrictedPod = {
  runAsNonRoot: true,
  runAsUser: 65532,
  runAsGroup: 65532,
  fsGroup: 65532,
  seccompProfile: { type: 'RuntimeDefault' },
};

type Fields = Record<string, unknown>;

/**
 * A Deployment of the tests' own (pods labelled `app: <name>`) under PodSecurity `restricted`:
 * each container gets the restricted settings and IfNotPresent unless it sets them itself, and
 * the pod's other fields (volumes, grace period, shareProcessNamespace…) pass through.
 */
export function restrictedDeployment(namespace: string, name: string, pod: { containers: Fields[]; replicas?: number } & Fields): object {
  const { containers, replicas = 1, ...podFields } = pod;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          securityContext: restrictedPod,
          ...podFields,
          containers: containers.map((c) => ({ imagePullPolicy: 'IfNotPresent', securityContext: restrictedContainer, ...c })),
        },
      },
    },
  };
}

export interface PodSummary {
  name: string;
  uid: string;
  ip: string;
  phase: string;
  ready: boolean;
  image: string;
  restarts: number;
  deleting: boolean;
}

/** The pods matching a label selector, as the kubelet reports them. */
export async function pods(namespace: string, selector: string): Promise<PodSummary[]> {
  const out = await kubectlOk(['-n', namespace, 'get', 'pods', '-l', selector, '-o', 'json']);
  const list = JSON.parse(out) as {
    items: Array<{
      metadata: { name: string; uid: string; deletionTimestamp?: string };
      spec: { containers: Array<{ image: string }> };
      status: {
        podIP?: string;
        phase?: string;
        conditions?: Array<{ type: string; status: string }>;
        containerStatuses?: Array<{ restartCount: number }>;
      };
    }>;
  };
  return list.items.map((p) => ({
    name: p.metadata.name,
    uid: p.metadata.uid,
    ip: p.status.podIP ?? '',
    phase: p.status.phase ?? 'Unknown',
    ready: p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    image: p.spec.containers[0]?.image ?? '',
    restarts: (p.status.containerStatuses ?? []).reduce((n, c) => n + c.restartCount, 0),
    deleting: !!p.metadata.deletionTimestamp,
  }));
}

/** Waits until exactly `count` pods of the selector are Running and Ready (none terminating). */
export function waitForReadyPods(namespace: string, selector: string, count: number, timeoutMs = 180_000): Promise<PodSummary[]> {
  return waitFor(
    `${count} Ready pods of ${namespace}/${selector}`,
    async () => {
      const ps = await pods(namespace, selector);
      const ready = ps.filter((p) => p.ready && !p.deleting);
      return ready.length === count && ps.length === count ? ready : undefined;
    },
    timeoutMs,
    500,
  );
}

/**
 * The CA's own OCSP responder, in the cluster: the real `openssl ocsp` in the toolbox image,
 * behind a Service, answering for every certificate given up front (a ConfigMap that a kubelet
 * refreshes only about once a minute is no way to add one later). Its URL is a cluster DNS name,
 * so the certificates' AIA points where a CA's would: the same on this node and on kind.
 */
export async function caResponderInCluster(namespace: string, name: string, ca: Ca, certs: Issued[]): Promise<void> {
  const first = certs[0];
  if (!first) throw new Error('caResponderInCluster: no certificate to answer for');
  await apply([
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace },
      data: {
        'index.txt': indexTxt(certs.map((c) => ({ cert: c.cert, status: 'V' as const }))),
        'index.txt.attr': 'unique_subject = no\n',
        'ca.crt': ca.certPem,
        'probe.crt': first.certPem,
      },
    },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, stringData: { 'ca.key': ca.keyPem } },
    restrictedDeployment(namespace, name, {
      containers: [
        {
          name: 'openssl-ocsp',
          image: nodeImage('toolbox'),
          command: [
            'openssl',
            'ocsp',
            '-index',
            '/ca/index.txt',
            '-port',
            '8080',
            '-rsigner',
            '/ca/ca.crt',
            '-rkey',
            '/key/ca.key',
            '-CA',
            '/ca/ca.crt',
            '-nmin',
            '60',
            '-ignore_err',
          ],
          ports: [{ name: 'ocsp', containerPort: 8080 }],
          // Ready when it answers a whole OCSP request (an empty connection makes openssl spin).
          readinessProbe: {
            exec: {
              command: [
                'sh',
                '-c',
                'openssl ocsp -issuer /ca/ca.crt -cert /ca/probe.crt -url http://127.0.0.1:8080/ -timeout 3 -noverify >/dev/null',
              ],
            },
            periodSeconds: 2,
            timeoutSeconds: 5,
          },
          volumeMounts: [
            { name: 'ca', mountPath: '/ca' },
            { name: 'key', mountPath: '/key' },
          ],
        },
      ],
      volumes: [
        { name: 'ca', configMap: { name } },
        { name: 'key', secret: { secretName: name } },
      ],
    }),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace },
      spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 'ocsp' }] },
    },
  ]);
  await waitForReadyPods(namespace, `app=${name}`, 1);
}

/** The OCSP URL of a responder made by caResponderInCluster. */
export const caResponderUrl = (namespace: string, name: string): string => `http://${name}.${namespace}.svc.cluster.local/`;

/** The release name the node tests install the chart under. */
export const OPERATOR_RELEASE = 'ocsp-operator';

/** `repo:tag` → the chart's image values. */
export function imageValues(ref: string, key: 'image' | 'signerImage'): string[] {
  const at = ref.lastIndexOf(':');
  return ['--set', `${key}.repository=${ref.slice(0, at)}`, '--set', `${key}.tag=${ref.slice(at + 1)}`];
}

/** helm against the node's cluster, which must succeed; returns stdout. */
export async function helmOk(args: string[]): Promise<string> {
  const r = await helm([...args, '--kubeconfig', kubeconfigPath()], 300_000);
  if (r.code !== 0) throw new Error(`helm ${args[0]} failed: ${r.stderr}`);
  return r.stdout;
}

/** `install`/`upgrade` arguments after the release name: the chart with the images built here. */
export const installArgs = (namespace: string, extra: string[] = []): string[] => [
  CHART_DIR,
  '--namespace',
  namespace,
  '--wait',
  '--timeout',
  '240s',
  ...imageValues(nodeImage('operator'), 'image'),
  ...imageValues(nodeImage('signer'), 'signerImage'),
  '--set',
  'image.pullPolicy=IfNotPresent',
  '--set',
  'leaderElection.leaseDurationMs=15000',
  ...extra,
];

/** Installs the operator from the chart into a fresh restricted namespace; uninstall removes both. */
export async function installOperator(prefix: string, extra: string[] = []): Promise<{ namespace: string; uninstall(): Promise<void> }> {
  const ns = await restrictedNamespace(prefix);
  await helmOk(['install', OPERATOR_RELEASE, ...installArgs(ns.name, extra)]);
  return {
    namespace: ns.name,
    uninstall: async () => {
      await helm(['uninstall', OPERATOR_RELEASE, '--namespace', ns.name, '--wait', '--kubeconfig', kubeconfigPath()], 120_000);
      await ns.remove();
    },
  };
}

export interface ClientPod {
  name: string;
  /** Runs a command in the client pod; resolves with its output whatever its exit code. */
  exec(command: string[], timeoutMs?: number): Promise<{ stdout: string; stderr: string; code: number }>;
}

/**
 * A client inside the cluster (the toolbox image: openssl, curl, dig), with `files` mounted at
 * /work from a ConfigMap, so requests go through cluster DNS, Services and kube-proxy as any pod's.
 */
export async function clientPod(namespace: string, name: string, files: Record<string, string>): Promise<ClientPod> {
  await apply([
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data: files },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace, labels: { app: name } },
      spec: {
        securityContext: restrictedPod,
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'client',
            image: nodeImage('toolbox'),
            imagePullPolicy: 'IfNotPresent',
            command: ['sleep', 'infinity'],
            securityContext: restrictedContainer,
            // /tmp: the one writable place on the read-only root (a sampler's stop file, scratch)
            volumeMounts: [
              { name: 'work', mountPath: '/work' },
              { name: 'tmp', mountPath: '/tmp' },
            ],
          },
        ],
        volumes: [
          { name: 'work', configMap: { name } },
          { name: 'tmp', emptyDir: {} },
        ],
      },
    },
  ]);
  await waitForReadyPods(namespace, `app=${name}`, 1);
  return {
    name,
    exec: (command, timeoutMs = 60_000) =>
      retryingLookups(() => kubectl(['-n', namespace, 'exec', name, '--', ...command], undefined, timeoutMs)),
  };
}

/** What a client prints when a cluster DNS lookup failed (curl, getent, openssl's BIO). */
const LOOKUP_FAILED = /Could not resolve host|Name or service not known|Temporary failure in name resolution|BIO_lookup|getaddrinfo/i;

/**
 * Runs a command in a pod; when it failed only because a cluster DNS lookup failed, runs it again
 * (at most 3 times). On this 2-core test node a UDP query now and then never reaches CoreDNS
 * (seen once: no query logged for 20 s, then the next ones answered); every answer is still
 * checked by the caller, only the lookup is given a second chance.
 */
export async function retryingLookups<R extends { stdout: string; stderr: string; code: number }>(run: () => Promise<R>): Promise<R> {
  let r = await run();
  for (let attempt = 1; attempt < 3 && r.code !== 0 && LOOKUP_FAILED.test(r.stdout + r.stderr); attempt++) {
    process.stderr.write(`[node] a cluster DNS lookup failed, trying again: ${(r.stderr || r.stdout).trim().slice(0, 200)}\n`);
    await new Promise((done) => setTimeout(done, 1_000));
    r = await run();
  }
  return r;
}

/**
 * A `local` PersistentVolume on a directory this test makes under the node's state directory: the
 * node has no provisioner, and PodSecurity `restricted` allows a claim where it refuses a
 * hostPath. Bound by its class (a claim template's claim) or ahead to one claim. `remove` deletes
 * it and its directory: after the namespace whose pods hold it.
 */
export async function localVolume(o: {
  name: string;
  size: string;
  storageClassName?: string;
  claimRef?: { namespace: string; name: string };
}): Promise<{ name: string; dir: string; remove(): Promise<void> }> {
  const dir = join(STATE_DIR, 'test-volumes', o.name);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await apply([
    {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: o.name },
      spec: {
        capacity: { storage: o.size },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: o.storageClassName ?? '',
        local: { path: dir },
        nodeAffinity: {
          required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [NODE_NAME] }] }] },
        },
        ...(o.claimRef ? { claimRef: o.claimRef } : {}),
      },
    },
  ]);
  return {
    name: o.name,
    dir,
    async remove() {
      await kubectl(['delete', 'persistentvolume', o.name, '--wait=true', '--timeout=60s'], undefined, 80_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A CA whose key signs slowly on purpose (RSA-4096), so a pool has a real backlog to work through,
 * and its database: one real leaf (serial 0BADC0DE0001) plus `count` synthetic entries (signers
 * sign by serial). Made with openssl in `dir`.
 */
export async function slowCa(
  dir: string,
  count: number,
  subject: string,
): Promise<{ caCrt: string; caKey: string; leafCrt: string; index: string; serials: string[] }> {
  const o = (args: string[]) => run('openssl', args, { cwd: dir });
  await o(['req', '-x509', '-newkey', 'rsa:4096', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '365', '-subj', subject]);
  await o([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'leaf.key',
    '-out',
    'leaf.csr',
    '-subj',
    '/CN=leaf.test',
  ]);
  await o([
    'x509',
    '-req',
    '-in',
    'leaf.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-set_serial',
    '0x0BADC0DE0001',
    '-out',
    'leaf.crt',
    '-days',
    '20',
  ]);
  const [caCrt, caKey, leafCrt] = await Promise.all(['ca.crt', 'ca.key', 'leaf.crt'].map((f) => readFile(join(dir, f), 'utf8')));
  const expiry = '361231235959Z';
  const serials = ['0BADC0DE0001', ...Array.from({ length: count }, (_, i) => (0x10000000 + i).toString(16).toUpperCase())];
  const lines = serials.map((s, i) => `V\t${expiry}\t\t${s}\tunknown\t/CN=${i === 0 ? 'leaf' : `bulk${i - 1}`}.test`);
  return { caCrt: caCrt!, caKey: caKey!, leafCrt: leafCrt!, index: `${lines.join('\n')}\n`, serials };
}

/** What happened when, in seconds since it was made: for the timelines the node tests print. */
export function stopwatch(): { mark(what: string): void; lines: string[] } {
  const t0 = Date.now();
  const lines: string[] = [];
  return { lines, mark: (what) => void lines.push(`${((Date.now() - t0) / 1000).toFixed(1)} s  ${what}`) };
}
