// A local Kubernetes control plane (etcd + kube-apiserver) for the tests and the demo, started the
// way controller-runtime's envtest does it: RBAC on, a client-certificate admin in system:masters,
// service-account signing keys. By default it binds 127.0.0.1 on free ports with ServiceAccount
// admission off (the `kube` tests and the demo: no node, no pods); the real node
// (src/devenv/node-cluster.ts) starts the same control plane on the node's address with the
// options pods need (a fixed port, the Service IP in the certificate, tokens, the Node authorizer).
// Binaries come from hack/build-control-plane.sh, which builds them once into a cache outside the repo.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, createWriteStream, openSync, closeSync, writeFileSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { request } from 'node:https';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);

export interface ControlPlane {
  kubeconfigPath: string;
  server: string;
  binDir: string;
  /** The certificates (ca.crt/ca.key, admin, serving, sa.key/sa.pub). */
  pkiDir: string;
  /** Stops the apiserver (etcd keeps the data), for tests of reconnects. */
  stopApiServer(): Promise<void>;
  startApiServer(): Promise<void>;
  stop(): Promise<void>;
}

export interface ControlPlaneOptions {
  /** Where to write certificates and data; a fresh temp dir (removed by stop) by default. */
  workDir?: string;
  /** Where the etcd and kube-apiserver logs go; workDir by default. */
  logDir?: string;
  log?: (msg: string) => void;
  /** The address the apiserver binds and advertises (the `kubernetes` Service's endpoint). */
  address?: string;
  /** The apiserver's secure port; a free one by default. */
  port?: number;
  /** The Service CIDR; its first address is the `kubernetes` Service's ClusterIP. */
  serviceCidr?: string;
  /** More subjectAltNames for the serving certificate, as `IP:…`/`DNS:…`. */
  extraSans?: string[];
  /** ServiceAccount admission (token volumes in pods); off by default, as no pod runs. */
  serviceAccountAdmission?: boolean;
  /** `--authorization-mode`, ['RBAC'] by default. */
  authorizationModes?: string[];
  /** Admission plugins enabled besides the defaults and OwnerReferencesPermissionEnforcement. */
  extraAdmissionPlugins?: string[];
  /** `--service-account-issuer`; the server URL by default. */
  serviceAccountIssuer?: string;
  extraApiServerArgs?: string[];
  /** Run etcd and kube-apiserver as daemons that outlive this process: a process group each,
   *  output straight to their log files, a pid file each in this directory. */
  pidDir?: string;
  /** The binaries' directory, when the caller already ran the build. */
  binDir?: string;
}

/** The repository root: this file runs from src/ (tests) or dist/src/ (built), so walk up. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'hack'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the ocsp-operator repository root');
    dir = parent;
  }
  return dir;
}

/** Runs a hack/build-*.sh script, which prints the binary directory on its last line. */
export async function runBuildScript(script: string, args: string[] = []): Promise<string> {
  const { stdout } = await run(join(repoRoot(), 'hack', script), args, {
    maxBuffer: 16 * 1024 * 1024,
    timeout: 60 * 60_000,
  });
  const binDir = stdout.trim().split('\n').pop();
  if (!binDir) throw new Error(`hack/${script} printed no binary directory`);
  return binDir;
}

/** Builds (first run) or finds the cached binaries; returns their directory. */
export async function ensureControlPlaneBinaries(log: (msg: string) => void = () => {}): Promise<string> {
  log('ensuring kube-apiserver, kubectl and etcd are built (the first run builds them, later runs use the cache)');
  return runBuildScript('build-control-plane.sh');
}

/** Binds `port` on 127.0.0.1 and releases it; resolves the port bound (0: the kernel's pick), or undefined when taken. */
function tryPort(port: number): Promise<number | undefined> {
  return new Promise((resolvePort) => {
    const srv = createServer();
    srv.once('error', () => resolvePort(undefined));
    srv.listen(port, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolvePort(typeof addr === 'object' && addr ? addr.port : undefined));
    });
  });
}

// Ports for servers started later (etcd, kube-apiserver, test peers) come from below Linux's
// ephemeral range (32768-60999), where the kernel never places the local end of an outbound
// connection: a port picked there and released cannot be taken by one of the thousands of client
// connections a test run opens before the server binds it (seen: kube-apiserver failing with
// "address already in use" under load). 30000+ is left to Kubernetes NodePorts.
const PICK_FROM = 20_000;
const PICK_TO = 30_000;

export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await tryPort(PICK_FROM + Math.floor(Math.random() * (PICK_TO - PICK_FROM)));
    if (port !== undefined) return port;
  }
  const port = await tryPort(0);
  if (port === undefined) throw new Error('no free port on 127.0.0.1');
  return port;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await run('openssl', args, { cwd });
}

/** A key and certificate `<name>.key`/`<name>.crt` issued by the CA in `dir`; `ext` is an openssl extension file. */
export async function issueCert(dir: string, name: string, subj: string, ext: string): Promise<void> {
  await writeFile(join(dir, `${name}.ext`), ext);
  await openssl(
    [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      subj,
    ],
    dir,
  );
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '30',
      '-extfile',
      `${name}.ext`,
    ],
    dir,
  );
}

/** A CA, a serving certificate for 127.0.0.1/localhost (and `extraSans`), an admin client certificate, SA keys. */
export async function writePki(dir: string, extraSans: string[] = []): Promise<void> {
  await mkdir(dir, { recursive: true });
  await openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '30',
      '-subj',
      '/CN=ocsp-operator-test-ca',
    ],
    dir,
  );
  const sans = ['IP:127.0.0.1', 'DNS:localhost', ...extraSans].join(',');
  await issueCert(dir, 'serving', '/CN=kube-apiserver', `subjectAltName=${sans}\nextendedKeyUsage=serverAuth\n`);
  await issueCert(dir, 'admin', '/O=system:masters/CN=admin', 'extendedKeyUsage=clientAuth\n');
  await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key'], dir);
  await openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
}

/** A kubeconfig for `server` that authenticates with the client certificate `<user>.crt` of `dir`. */
export async function kubeconfigFor(dir: string, server: string, user = 'admin'): Promise<string> {
  const b64 = async (f: string) => (await readFile(join(dir, f))).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: local',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${await b64('ca.crt')}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    client-certificate-data: ${await b64(`${user}.crt`)}`,
    `    client-key-data: ${await b64(`${user}.key`)}`,
    'contexts:',
    '- name: local',
    `  context: {cluster: local, user: ${user}}`,
    'current-context: local',
    '',
  ].join('\n');
}

/**
 * Starts a server process whose output goes to `logFile`. With `pidFile` it is a daemon: it leads
 * a process group of its own, writes straight to the log (nothing breaks when this process exits)
 * and its pid is recorded, so another process can stop it.
 */
export function startProcess(bin: string, args: string[], logFile: string, pidFile?: string): ChildProcess {
  if (pidFile) {
    const fd = openSync(logFile, 'a');
    try {
      const child = spawn(bin, args, { stdio: ['ignore', fd, fd], detached: true });
      if (child.pid) writeFileSync(pidFile, `${child.pid}\n`);
      child.unref();
      return child;
    } finally {
      closeSync(fd);
    }
  }
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: false });
  const out = createWriteStream(logFile, { flags: 'a' });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  return child;
}

export async function stopProcess(child: ChildProcess | undefined, graceMs = 10_000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** One HTTPS GET with the admin certificate of `dir`: 'ok' for a 200, else what it answered. */
export async function adminGet(url: string, dir: string): Promise<{ status: number; body: string } | { error: string }> {
  const [ca, cert, key] = await Promise.all(['ca.crt', 'admin.crt', 'admin.key'].map((f) => readFile(join(dir, f))));
  return new Promise((done) => {
    const req = request(url, { ca, cert, key, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => done({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (e) => done({ error: e.message }));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** Polls an HTTPS health endpoint with the admin certificate until it answers 200 "ok". */
async function waitReady(url: string, dir: string, timeoutMs: number, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      const tail = (await readFile(logFile, 'utf8').catch(() => '')).split('\n').slice(-20).join('\n');
      throw new Error(`${url} process exited with ${child.exitCode} before ready; log tail:\n${tail}`);
    }
    const answer = await adminGet(url, dir);
    last = 'error' in answer ? answer.error : answer.status === 200 ? 'ok' : `${answer.status}: ${answer.body.slice(0, 200)}`;
    if (last === 'ok') return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms (last answer: ${last})`);
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const log = opts.log ?? (() => {});
  const binDir = opts.binDir ?? (await ensureControlPlaneBinaries(log));
  const dir = opts.workDir ?? (await mkdtemp(join(tmpdir(), 'ocsp-operator-cp-')));
  const logDir = opts.logDir ?? dir;
  await mkdir(logDir, { recursive: true });
  const pki = join(dir, 'pki');
  await writePki(pki, opts.extraSans);

  const address = opts.address ?? '127.0.0.1';
  const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), opts.port ?? (await freePort())];
  const etcdUrl = `http://127.0.0.1:${etcdClient}`;
  const server = `https://${address}:${apiPort}`;
  const etcdLog = join(logDir, 'etcd.log');
  const apiLog = join(logDir, 'kube-apiserver.log');
  const pidFile = (name: string) => (opts.pidDir ? join(opts.pidDir, `${name}.pid`) : undefined);

  log(`starting etcd on ${etcdUrl}`);
  const etcd = startProcess(
    join(binDir, 'etcd'),
    [
      '--name=default',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ],
    etcdLog,
    pidFile('etcd'),
  );

  const admission = ['OwnerReferencesPermissionEnforcement', ...(opts.extraAdmissionPlugins ?? [])];
  const apiArgs = [
    `--etcd-servers=${etcdUrl}`,
    `--cert-dir=${join(dir, 'apiserver-certs')}`,
    `--tls-cert-file=${join(pki, 'serving.crt')}`,
    `--tls-private-key-file=${join(pki, 'serving.key')}`,
    `--client-ca-file=${join(pki, 'ca.crt')}`,
    `--secure-port=${apiPort}`,
    `--bind-address=${address}`,
    `--advertise-address=${address}`,
    `--service-cluster-ip-range=${opts.serviceCidr ?? '10.0.0.0/24'}`,
    '--allow-privileged=true',
    ...(opts.serviceAccountAdmission ? [] : ['--disable-admission-plugins=ServiceAccount']),
    // As on hardened clusters: setting blockOwnerDeletion needs the owner's finalizers permission,
    // so the RBAC tests prove the chart grants it.
    `--enable-admission-plugins=${admission.join(',')}`,
    `--authorization-mode=${(opts.authorizationModes ?? ['RBAC']).join(',')}`,
    `--service-account-issuer=${opts.serviceAccountIssuer ?? `${server}/`}`,
    `--service-account-key-file=${join(pki, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
    '--enable-priority-and-fairness=false',
    '--profiling=false',
    '--v=0',
    ...(opts.extraApiServerArgs ?? []),
  ];
  let apiserver: ChildProcess | undefined;
  const startApiServer = async () => {
    log(`starting kube-apiserver on ${server}`);
    apiserver = startProcess(join(binDir, 'kube-apiserver'), apiArgs, apiLog, pidFile('kube-apiserver'));
    await waitReady(`${server}/readyz`, pki, 120_000, apiserver, apiLog);
  };
  try {
    await startApiServer();
  } catch (err) {
    await stopProcess(apiserver);
    await stopProcess(etcd);
    throw err;
  }
  const kubeconfigPath = join(dir, 'kubeconfig');
  await writeFile(kubeconfigPath, await kubeconfigFor(pki, server), { mode: 0o600 });
  log(`control plane ready: KUBECONFIG=${kubeconfigPath}`);

  return {
    kubeconfigPath,
    server,
    binDir,
    pkiDir: pki,
    startApiServer,
    stopApiServer: () => stopProcess(apiserver),
    async stop() {
      await stopProcess(apiserver);
      await stopProcess(etcd);
      if (!opts.workDir) await rm(dir, { recursive: true, force: true });
    },
  };
}
