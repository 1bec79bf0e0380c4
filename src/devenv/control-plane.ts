// A local Kubernetes control plane (etcd + kube-apiserver on 127.0.0.1) for the tests and the
// demo, started the way controller-runtime's envtest does it: RBAC on, a client-certificate
// admin in system:masters, service-account signing keys. Binaries come from
// hack/build-control-plane.sh, which builds them once into a cache outside the repo.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, createWriteStream } from 'node:fs';
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
  /** Stops the apiserver (etcd keeps the data), for tests of reconnects. */
  stopApiServer(): Promise<void>;
  startApiServer(): Promise<void>;
  stop(): Promise<void>;
}

export interface ControlPlaneOptions {
  /** Where to write logs, certificates and data; a fresh temp dir by default. */
  workDir?: string;
  log?: (msg: string) => void;
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

/** Builds (first run) or finds the cached binaries; returns their directory. */
export async function ensureControlPlaneBinaries(log: (msg: string) => void = () => {}): Promise<string> {
  log('ensuring kube-apiserver, kubectl and etcd are built (the first run builds them, later runs use the cache)');
  const { stdout } = await run(join(repoRoot(), 'hack', 'build-control-plane.sh'), [], {
    maxBuffer: 16 * 1024 * 1024,
    timeout: 40 * 60_000,
  });
  const binDir = stdout.trim().split('\n').pop();
  if (!binDir) throw new Error('hack/build-control-plane.sh printed no binary directory');
  return binDir;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolvePort(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await run('openssl', args, { cwd });
}

/** A CA, a serving certificate for 127.0.0.1/localhost, an admin client certificate, SA keys. */
async function writePki(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=ocsp-operator-test-ca'], dir);
  const leaf = async (name: string, subj: string, ext: string) => {
    await writeFile(join(dir, `${name}.ext`), ext);
    await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj], dir);
    await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '30', '-extfile', `${name}.ext`], dir);
  };
  await leaf('serving', '/CN=kube-apiserver', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await leaf('admin', '/O=system:masters/CN=admin', 'extendedKeyUsage=clientAuth\n');
  await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key'], dir);
  await openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
}

async function kubeconfigFor(dir: string, server: string): Promise<string> {
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
    '- name: admin',
    '  user:',
    `    client-certificate-data: ${await b64('admin.crt')}`,
    `    client-key-data: ${await b64('admin.key')}`,
    'contexts:',
    '- name: local',
    '  context: {cluster: local, user: admin}',
    'current-context: local',
    '',
  ].join('\n');
}

function startProcess(bin: string, args: string[], logFile: string): ChildProcess {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: false });
  const out = createWriteStream(logFile, { flags: 'a' });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  return child;
}

async function stopProcess(child: ChildProcess | undefined, graceMs = 10_000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Polls an HTTPS health endpoint with the admin certificate until it answers 200 "ok". */
async function waitReady(url: string, dir: string, timeoutMs: number, child: ChildProcess, logFile: string): Promise<void> {
  const [ca, cert, key] = await Promise.all(['ca.crt', 'admin.crt', 'admin.key'].map((f) => readFile(join(dir, f))));
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      const tail = (await readFile(logFile, 'utf8').catch(() => '')).split('\n').slice(-20).join('\n');
      throw new Error(`${url} process exited with ${child.exitCode} before ready; log tail:\n${tail}`);
    }
    last = await new Promise<string>((done) => {
      const req = request(url, { ca, cert, key, timeout: 2000 }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => done(res.statusCode === 200 ? 'ok' : `${res.statusCode}: ${body.slice(0, 200)}`));
      });
      req.on('error', (e) => done(e.message));
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    });
    if (last === 'ok') return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms (last answer: ${last})`);
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const log = opts.log ?? (() => {});
  const binDir = await ensureControlPlaneBinaries(log);
  const dir = opts.workDir ?? (await mkdtemp(join(tmpdir(), 'ocsp-operator-cp-')));
  const pki = join(dir, 'pki');
  await writePki(pki);

  const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
  const etcdUrl = `http://127.0.0.1:${etcdClient}`;
  const server = `https://127.0.0.1:${apiPort}`;
  const etcdLog = join(dir, 'etcd.log');
  const apiLog = join(dir, 'kube-apiserver.log');

  log(`starting etcd on ${etcdUrl}`);
  const etcd = startProcess(join(binDir, 'etcd'), [
    '--name=default',
    `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
    `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
    '--unsafe-no-fsync=true',
    '--log-level=warn',
  ], etcdLog);

  const apiArgs = [
    `--etcd-servers=${etcdUrl}`,
    `--cert-dir=${join(dir, 'apiserver-certs')}`,
    `--tls-cert-file=${join(pki, 'serving.crt')}`,
    `--tls-private-key-file=${join(pki, 'serving.key')}`,
    `--client-ca-file=${join(pki, 'ca.crt')}`,
    `--secure-port=${apiPort}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    '--service-cluster-ip-range=10.0.0.0/24',
    '--allow-privileged=true',
    '--disable-admission-plugins=ServiceAccount',
    // As on hardened clusters: setting blockOwnerDeletion needs the owner's finalizers permission,
    // so the RBAC tests prove the chart grants it.
    '--enable-admission-plugins=OwnerReferencesPermissionEnforcement',
    '--authorization-mode=RBAC',
    `--service-account-issuer=${server}/`,
    `--service-account-key-file=${join(pki, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
    '--enable-priority-and-fairness=false',
    '--profiling=false',
    '--v=0',
  ];
  let apiserver: ChildProcess | undefined;
  const startApiServer = async () => {
    log(`starting kube-apiserver on ${server}`);
    apiserver = startProcess(join(binDir, 'kube-apiserver'), apiArgs, apiLog);
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
    startApiServer,
    stopApiServer: () => stopProcess(apiserver),
    async stop() {
      await stopProcess(apiserver);
      await stopProcess(etcd);
      if (!opts.workDir) await rm(dir, { recursive: true, force: true });
    },
  };
}
