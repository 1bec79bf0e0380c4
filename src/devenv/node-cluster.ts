// A real single-node Kubernetes on this machine, for the `node` tests and for people: etcd and
// kube-apiserver (src/devenv/control-plane.ts, on the node's address with tokens and the Node
// authorizer), kube-controller-manager, kube-scheduler, the kubelet on containerd's CRI, kube-proxy
// (iptables) and CoreDNS as a host process, all built from pinned Go modules by hack/build-node.sh.
// Pods live on the bridge ocsp0 (10.244.0.0/24) and Services on 10.96.0.0/24 routed to it: no
// packet leaves the machine and nothing is pulled (images are imported, see importImages).
// Start-up first removes whatever an earlier run left; teardown removes every pod, network
// namespace, the bridge, the KUBE-* and CNI-* iptables chains, mounts and processes, even after a
// killed run (the daemons' pid files are under /run/ocsp-operator-node/pids).
//
//   node dist/src/devenv/node-cluster.js up [--detach] [--images NAME,...]   (prints export KUBECONFIG=…)
//   node dist/src/devenv/node-cluster.js down [--force]   (--force: even while a test run uses the node)
//   node dist/src/devenv/node-cluster.js leftovers    (what a run left on the host; exit 1 if any)
import { access, constants, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeClient } from '../kube/client.js';
import { loadKubeConfig } from '../kube/config.js';
import { ClusterRoleBindingType, ClusterRoleType, NodeType, ServiceAccountType, type KubeObject } from '../kube/types.js';
import { freePort, runBuildScript, startControlPlane } from './control-plane.js';
import { buildImages } from './images.js';
import {
  API_PORT,
  CLUSTER_DOMAIN,
  COREDNS_READY_PORT,
  KUBERNETES_SERVICE_IP,
  NODE_IP,
  NODE_NAME,
  SERVICE_CIDR,
  paths,
} from './node/config.js';
import {
  chooseSnapshotter,
  containerdResponds,
  importImages as ctrImport,
  removeAllContainers,
  startContainerd,
} from './node/containerd.js';
import {
  corednsRbac,
  startControllerManager,
  startCoreDns,
  startKubeProxy,
  startKubelet,
  startScheduler,
  type Ports,
} from './node/components.js';
import { killPodProcesses, nodeMounts, nodeProcesses, podCgroups, removePodCgroups, removeState, unmountAll } from './node/cleanup.js';
import { bridgeExists, cniNetns, remainingIptablesChains, setUpHostNetwork, tearDownNetwork, writeCniConfig } from './node/network.js';
import { acquireNodeLock, detachNodeLock, nodeLockHolder, releaseNodeLock } from './node/lock.js';
import { writeNodePki } from './node/pki.js';
import {
  daemonRunning,
  daemonsWithPidFiles,
  fatal,
  logTail,
  processesMatching,
  sh,
  stopDaemon,
  stopPid,
  waitUntil,
  type Daemon,
} from './node/processes.js';

export interface NodeCluster {
  kubeconfigPath: string;
  server: string;
  binDir: string;
  nodeName: string;
  importImages(tarballs: string[]): Promise<void>;
  stop(): Promise<void>;
  /** Leaves the node running after this process exits (`up --detach`); the next start replaces it. */
  detach?(): Promise<void>;
}

type Log = (m: string) => void;

/** Builds (first run) or finds every binary the node runs; returns their directory. */
export async function ensureNodeBinaries(): Promise<string> {
  return runBuildScript('build-node.sh');
}

/** Times one start-up step and reports it as `component: what (N ms)`. */
async function step<T>(log: Log, component: string, what: string, fn: () => Promise<T>): Promise<T> {
  const t = Date.now();
  const v = await fn();
  log(`${component}: ${what} (${Date.now() - t} ms)`);
  return v;
}

interface NodeObject extends KubeObject {
  status?: {
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
    nodeInfo?: { kubeletVersion?: string };
  };
}

/** One GET: the status code, or 0 when nothing answered. TLS is not verified (self-signed healthz). */
function httpStatus(url: string): Promise<number> {
  return new Promise((done) => {
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = send(url, { timeout: 2000, rejectUnauthorized: false }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0));
    });
    req.on('error', () => done(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** Waits for a daemon's health URL, failing early (with its log) if the daemon exits. */
async function waitHealthy(d: Daemon, url: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
  await waitUntil(
    `${d.name} at ${url}`,
    async () => {
      if (d.child.exitCode !== null || d.child.signalCode !== null) {
        throw fatal(`${d.name} exited (${d.child.exitCode ?? d.child.signalCode})`);
      }
      return (await httpStatus(url)) === 200;
    },
    timeoutMs,
    250,
    async () => `${d.name} log tail:\n${await logTail(d.name)}`,
    signal,
  );
}

/** Why the node cannot run on this machine, or undefined when it can. Names a missing capability. */
export async function nodeCapabilityProblem(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not root (containerd, mounts, iptables and cgroups need root)';
  const need: Array<[string, string]> = [
    ['/usr/bin/containerd', 'containerd'],
    ['/usr/bin/containerd-shim-runc-v2', 'containerd'],
    ['/usr/bin/ctr', 'containerd'],
    ['/usr/lib/cni/bridge', 'containernetworking-plugins'],
    ['/usr/lib/cni/host-local', 'containernetworking-plugins'],
    ['/usr/lib/cni/loopback', 'containernetworking-plugins'],
    ['/usr/lib/cni/portmap', 'containernetworking-plugins'],
  ];
  for (const [file, pkg] of need) {
    if (!existsSync(file)) return `no ${file} (Debian package ${pkg}; hack/install-system-deps.sh installs it)`;
  }
  for (const [cmd, pkg] of [
    ['runc', 'runc'],
    ['iptables', 'iptables'],
    ['iptables-save', 'iptables'],
    ['ip', 'iproute2'],
    ['conntrack', 'conntrack'],
  ] as const) {
    if ((await sh('which', [cmd])).code !== 0) return `no ${cmd} on PATH (Debian package ${pkg}; hack/install-system-deps.sh installs it)`;
  }
  if (!existsSync('/dev/kmsg')) return 'no /dev/kmsg (the kubelet reads kernel messages from it)';
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  if (!v2) {
    const missing: string[] = [];
    for (const c of ['cpu', 'cpuacct', 'cpuset', 'memory', 'pids']) {
      const ok = await access(join('/sys/fs/cgroup', c), constants.W_OK).then(
        () => true,
        () => false,
      );
      if (!ok) missing.push(c);
    }
    if (missing.length > 0) return `no writable cgroup v1 hierarchies ${missing.join(', ')} under /sys/fs/cgroup, and no cgroup v2`;
  }
  if (!existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables')) {
    await sh('modprobe', ['br_netfilter']);
    if (!existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables'))
      return "no br_netfilter (bridged pod traffic would bypass kube-proxy's rules; modprobe br_netfilter failed)";
  }
  const nat = await sh('iptables', ['-t', 'nat', '-S']);
  if (nat.code !== 0) return `iptables cannot read the nat table: ${nat.stderr.trim()}`;
  return undefined;
}

/** What the node left on this host (empty when clean): processes, mounts, netns, bridge, chains, cgroups. */
export async function nodeLeftovers(): Promise<string[]> {
  const left: string[] = [];
  for (const p of await nodeProcesses()) left.push(`process ${p.pid} ${p.command}`);
  for (const m of await nodeMounts()) left.push(`mount ${m}`);
  for (const n of await cniNetns()) left.push(`netns ${n}`);
  if (await bridgeExists()) left.push('bridge ocsp0');
  for (const c of await remainingIptablesChains()) left.push(`iptables chain ${c}`);
  for (const c of await podCgroups()) left.push(`cgroup ${c}`);
  if (existsSync(paths.run)) left.push(`directory ${paths.run}`);
  return left;
}

/** Removes whatever any run of the node left, whatever state it is in; safe to call any time. */
export async function teardownNodeCluster(log: Log = () => {}): Promise<void> {
  const t0 = Date.now();
  const stop = async (name: string, graceMs?: number) => {
    const t = Date.now();
    if (await stopDaemon(name, graceMs)) log(`${name}: stopped (${Date.now() - t} ms)`);
  };
  // The kubelet first: it would restart the pods stopped below.
  for (const name of ['kubelet', 'kube-proxy', 'kube-scheduler', 'kube-controller-manager', 'coredns']) await stop(name);
  // Pods: through containerd while it runs; its shims outlive it, so they go before it does.
  if (await containerdResponds()) {
    await step(log, 'containerd', 'tasks killed and containers removed', removeAllContainers);
  }
  await killPodProcesses();
  await stop('containerd', 15_000);
  for (const pid of await processesMatching(paths.containerdState)) await stopPid(pid, 2_000, false);
  await killPodProcesses();
  for (const name of ['kube-apiserver', 'etcd', ...(await daemonsWithPidFiles())]) await stop(name);
  const t1 = Date.now();
  await unmountAll();
  await tearDownNetwork();
  await removePodCgroups();
  await removeState();
  log(`node: mounts, network, cgroups and state removed (${Date.now() - t1} ms)`);
  log(`node: torn down (${Date.now() - t0} ms)`);
}

/** Keeps the previous run's logs in logs/previous, starts with empty ones. */
async function rotateLogs(): Promise<void> {
  await mkdir(paths.logs, { recursive: true });
  const previous = join(paths.logs, 'previous');
  await rm(previous, { recursive: true, force: true });
  const files = (await readdir(paths.logs)).filter((f) => f.endsWith('.log'));
  if (files.length === 0) return;
  await mkdir(previous);
  for (const f of files) await rename(join(paths.logs, f), join(previous, f));
}

export async function startNodeCluster(opts: { log?: Log } = {}): Promise<NodeCluster> {
  const log = opts.log ?? (() => {});
  const problem = await nodeCapabilityProblem();
  if (problem) throw new Error(`the node cannot run on this machine: ${problem}`);
  const binDir = await step(log, 'binaries', 'built or found in the cache', ensureNodeBinaries);
  const lockWaitMs = Number(process.env.OCSP_NODE_LOCK_WAIT_MS ?? 60 * 60_000);
  await step(log, 'node', "this machine's node is ours", () => acquireNodeLock(log, lockWaitMs));
  const t0 = Date.now(); // start-up proper: no build, no waiting for another run
  await step(log, 'node', 'leftovers of an earlier run removed', () => teardownNodeCluster());
  await rotateLogs();
  for (const d of [paths.state, paths.run, paths.pids]) await mkdir(d, { recursive: true });

  let snapshotter = 'overlayfs';
  // ends the other waits when one of them fails
  const abort = new AbortController();
  try {
    await step(log, 'network', `bridge ocsp0 ${NODE_IP}/24, route ${SERVICE_CIDR} via it`, setUpHostNetwork);
    await writeCniConfig();
    snapshotter = await chooseSnapshotter();
    const containerd = await startContainerd(snapshotter);
    const plane = await step(log, 'kube-apiserver', `ready on https://${NODE_IP}:${API_PORT} (with etcd)`, () =>
      startControlPlane({
        workDir: paths.state,
        logDir: paths.logs,
        pidDir: paths.pids,
        binDir,
        address: NODE_IP,
        port: API_PORT,
        serviceCidr: SERVICE_CIDR,
        extraSans: [
          `IP:${NODE_IP}`,
          `IP:${KUBERNETES_SERVICE_IP}`,
          `DNS:${NODE_NAME}`,
          'DNS:kubernetes',
          'DNS:kubernetes.default',
          'DNS:kubernetes.default.svc',
          `DNS:kubernetes.default.svc.${CLUSTER_DOMAIN}`,
        ],
        serviceAccountAdmission: true,
        authorizationModes: ['Node', 'RBAC'],
        extraAdmissionPlugins: ['NodeRestriction'],
        serviceAccountIssuer: `https://kubernetes.default.svc.${CLUSTER_DOMAIN}`,
        extraApiServerArgs: [
          // kubectl logs/exec reach the kubelet by the node's IP (its name is in no DNS)
          '--kubelet-preferred-address-types=InternalIP',
          `--kubelet-client-certificate=${join(paths.pki, 'admin.crt')}`,
          `--kubelet-client-key=${join(paths.pki, 'admin.key')}`,
          `--kubelet-certificate-authority=${join(paths.pki, 'ca.crt')}`,
          // The front-proxy CA the controller-manager and scheduler look up (they log its absence
          // every few seconds); no certificate carries the allowed name, so none is accepted.
          `--requestheader-client-ca-file=${join(paths.pki, 'ca.crt')}`,
          '--requestheader-allowed-names=front-proxy-client',
          '--requestheader-username-headers=X-Remote-User',
          '--requestheader-group-headers=X-Remote-Group',
          '--requestheader-extra-headers-prefix=X-Remote-Extra-',
        ],
      }),
    );
    await writeNodePki(plane.server);
    await step(log, 'containerd', `answering on ${paths.containerdSocket} (snapshotter ${snapshotter})`, () =>
      waitUntil(
        'containerd',
        async () => {
          if (containerd.child.exitCode !== null) throw fatal(`containerd exited (${containerd.child.exitCode})`);
          return containerdResponds();
        },
        30_000,
        200,
        () => logTail('containerd'),
      ),
    );
    const client = new KubeClient(loadKubeConfig(plane.kubeconfigPath));
    await client.apply(ClusterRoleType, corednsRbac[0] as KubeObject, 'ocsp-node');
    await client.apply(ClusterRoleBindingType, corednsRbac[1] as KubeObject, 'ocsp-node');

    const ports: Ports = {
      kubeletHealthz: await freePort(),
      proxyHealthz: await freePort(),
      proxyMetrics: await freePort(),
      controllerManager: await freePort(),
      scheduler: await freePort(),
    };
    const started = Date.now();
    const kcm = startControllerManager(binDir, ports);
    const scheduler = startScheduler(binDir, ports);
    const proxy = startKubeProxy(binDir, ports);
    const kubelet = await startKubelet(binDir, ports);
    const coredns = await startCoreDns(binDir);
    const since = (what: string) => log(`${what} (${Date.now() - started} ms after start)`);
    await Promise.all([
      waitHealthy(kcm, `https://127.0.0.1:${ports.controllerManager}/healthz`, 90_000, abort.signal).then(() =>
        since('kube-controller-manager: healthy'),
      ),
      waitHealthy(scheduler, `https://127.0.0.1:${ports.scheduler}/healthz`, 90_000, abort.signal).then(() =>
        since('kube-scheduler: healthy'),
      ),
      waitHealthy(proxy, `http://127.0.0.1:${ports.proxyHealthz}/healthz`, 90_000, abort.signal).then(() =>
        since('kube-proxy: rules synced'),
      ),
      waitHealthy(coredns, `http://${NODE_IP}:${COREDNS_READY_PORT}/ready`, 90_000, abort.signal).then(() => since('coredns: ready')),
      waitUntil(
        `node ${NODE_NAME} Ready`,
        async () => {
          if (kubelet.child.exitCode !== null) throw fatal(`kubelet exited (${kubelet.child.exitCode})`);
          const node = await client.getOrUndefined<NodeObject>(NodeType, undefined, NODE_NAME);
          return node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        },
        120_000,
        500,
        async () => `kubelet log tail:\n${await logTail('kubelet', 25)}`,
        abort.signal,
      ).then(() => since(`kubelet: node ${NODE_NAME} Ready`)),
      waitUntil(
        'the default ServiceAccount',
        async () => !!(await client.getOrUndefined(ServiceAccountType, 'default', 'default')),
        90_000,
        500,
        async () => `kube-controller-manager log tail:\n${await logTail('kube-controller-manager')}`,
        abort.signal,
      ).then(() => since('kube-controller-manager: default ServiceAccount made')),
    ]);
    log(`node: up (${Date.now() - t0} ms): export KUBECONFIG=${plane.kubeconfigPath}`);

    return {
      kubeconfigPath: plane.kubeconfigPath,
      server: plane.server,
      binDir,
      nodeName: NODE_NAME,
      importImages: async (tarballs: string[]) => {
        for (const t of tarballs) {
          const size = (await stat(t)).size;
          await step(log, 'containerd', `imported ${t} (${Math.round(size / 1e6)} MB)`, () => ctrImport([t], snapshotter));
        }
      },
      stop: async () => {
        await teardownNodeCluster(log);
        await releaseNodeLock();
      },
      detach: detachNodeLock,
    };
  } catch (err) {
    abort.abort();
    log(`node: start-up failed, tearing down: ${(err as Error).message.split('\n')[0]}`);
    await teardownNodeCluster(log).catch((e: unknown) => log(`node: teardown after the failure failed too: ${String(e)}`));
    await releaseNodeLock();
    throw err;
  }
}

async function cli(argv: string[]): Promise<number> {
  const say = (m: string) => process.stderr.write(`[node] ${m}\n`);
  const [cmd, ...rest] = argv;
  if (cmd === 'down') {
    const holder = await nodeLockHolder();
    if (holder && !rest.includes('--force')) {
      say(`the node is in use by pid ${holder.pid} (${holder.command}); not tearing it down (--force does)`);
      return 1;
    }
    await teardownNodeCluster(say);
    await releaseNodeLock();
    const left = await nodeLeftovers();
    for (const l of left) say(`left over: ${l}`);
    return left.length === 0 ? 0 : 1;
  }
  if (cmd === 'leftovers') {
    const left = await nodeLeftovers();
    for (const l of left) process.stdout.write(`${l}\n`);
    return left.length === 0 ? 0 : 1;
  }
  if (cmd !== 'up') {
    const usage = 'usage: npm run cluster -- up [--detach] [--images NAME,...] | down [--force] | leftovers\n';
    const help = cmd === '--help' || cmd === '-h' || cmd === 'help';
    (help ? process.stdout : process.stderr).write(usage);
    return help ? 0 : 2;
  }
  const detach = rest.includes('--detach');
  const i = rest.indexOf('--images');
  const names = ['pause', ...(i >= 0 ? (rest[i + 1] ?? '').split(',').filter(Boolean) : [])];
  const node = await startNodeCluster({ log: say });
  try {
    const images = await step(say, 'images', `built or found: ${[...new Set(names)].join(', ')}`, () => buildImages([...new Set(names)]));
    await node.importImages(images.map((i) => i.tarball));
  } catch (err) {
    await node.stop();
    throw err;
  }
  process.stdout.write(`export KUBECONFIG=${node.kubeconfigPath}\n`);
  if (detach) {
    await node.detach?.();
    say('detached: `node dist/src/devenv/node-cluster.js down` stops it');
    return 0;
  }
  say('running; Ctrl-C (SIGINT) or SIGTERM stops it');
  // Keeps this process alive (the daemons are detached) and says when one of them is gone.
  const reported = new Set<string>();
  const watch = setInterval(() => {
    void (async () => {
      for (const name of await daemonsWithPidFiles()) {
        if (!reported.has(name) && !(await daemonRunning(name))) {
          reported.add(name);
          say(`${name} is no longer running; see ${paths.logs}/${name}.log`);
        }
      }
    })();
  }, 5_000);
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  clearInterval(watch);
  await node.stop();
  return 0;
}

const invoked = process.argv[1] ? resolve(process.argv[1]) : '';
if (invoked === fileURLToPath(import.meta.url)) {
  cli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`[node] ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
