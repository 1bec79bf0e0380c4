// Pool scale benchmark (issue 14, point 2): an OcspResponderPool over a PostgreSQL table of N
// certificates, run as real pods on the real node (src/devenv/node-cluster.ts), the operator
// installed by its chart. PostgreSQL runs as a pod (hack/images/postgres); the table is filled by
// one generate_series INSERT. The pool signs with a software P-256 key into the embedded store
// (its log on a local PersistentVolume, so a restarted pod finds it), then a SoftHSM slice signs
// with a token key. What it measures, printed as one block at the end:
//
//   fill          the INSERT of N rows, the primary key and ANALYZE, in the PostgreSQL pod
//   signing       the pool signer's signatures/s over the fill (ocsp_signer_signatures_total,
//                 scraped from the pod) against the bare rate of the same key in the signer
//                 container (a node:crypto sign loop, run with kubectl exec once the backlog is 0)
//   drained       pool applied → status backlog 0 over N certificates and sampled serials served
//   store         the embedded store's directory on disk (du of the PersistentVolume)
//   RSS           the signer's and responder's processes (VmRSS, VmHWM, from /proc in each container)
//   start-up      the pool pod deleted: new pod seen → Ready, and → its first correct answer
//   new / revoked a row INSERTed (then its revoked_at set) → the Service serves good (revoked),
//                 polled with `openssl ocsp` from the host through the Service's ClusterIP
//   SoftHSM       --hsm-certificates more in a second table, a pool signing with a SoftHSM token
//                 (made by a Job on a local volume, as test/node/pkcs11-pool.node.test.ts does)
//                 against a bare pkcs11js C_Sign loop with the same sessions in its signer container
//
//   npm run bench -- pool-scale [--certificates N] [--hsm-certificates M] [--hsm-sessions S]
//     [--responder-cpu C] [--signer-memory Q] [--bare-seconds S] [--drain-timeout-s S] [--keep]
//   --certificates N       rows in the P-256 pool's table (default 1,000,000)
//   --hsm-certificates M   rows in the SoftHSM pool's table (default 20,000; 0: no SoftHSM slice)
//   --responder-cpu C      the software pool's responder CPU limit (its workers: one per core)
//   --signer-memory Q      the software pool's signer memory limit (default 1Gi: V8's heap gets
//                          three quarters of it, src/pool/heap.ts; '' for none)
//   --hsm-sessions S       the SoftHSM pool's spec.signing.pkcs11.sessions, and the bare loop's (default 2)
//   --bare-seconds S       length of each bare signing loop (default 10)
//   --drain-timeout-s S    bound on each pool's drain (default: 10 min + 5 ms per certificate)
//   --keep                 leave the node, the operator and the namespace up (node detached)
//
// Starts the node itself (replacing one left detached) and stops it at the end and on failure;
// builds what is missing of the images first (hack/build-images.sh, cached by content).
import 'reflect-metadata';
import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { repoRoot } from '../src/devenv/control-plane.js';
import { installCrds } from '../src/devenv/crds.js';
import { buildImages, type BuiltImage } from '../src/devenv/images.js';
import { nodeCapabilityProblem, startNodeCluster, type NodeCluster } from '../src/devenv/node-cluster.js';
import { loadKubeConfig } from '../src/kube/config.js';
import { OcspResponderPoolType, type KubeObject } from '../src/kube/types.js';
import { kubeClient, kubectl, waitFor } from '../test/support/kube.js';
import {
  apply,
  installOperator,
  kubectlOk,
  localVolume,
  nodeImage,
  pods,
  restrictedContainer,
  restrictedDeployment,
  restrictedNamespace,
  restrictedPod,
  waitForReadyPods,
} from '../test/support/node.js';
import { runOpenssl } from '../test/support/openssl.js';
import { createCa, issueCaCertFor } from '../test/support/pki.js';
import { helmBinary } from '../test/install/helm.js';
import { provideOutsideVitest } from '../test/support/provided.js';

const run = promisify(execFile);

const { values: flags } = parseArgs({
  options: {
    certificates: { type: 'string', default: '1000000' },
    'hsm-certificates': { type: 'string', default: '20000' },
    'responder-cpu': { type: 'string' },
    'signer-memory': { type: 'string', default: '1Gi' },
    'hsm-sessions': { type: 'string', default: '2' },
    'bare-seconds': { type: 'string', default: '10' },
    'drain-timeout-s': { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
  strict: true,
});

function count(text: string, flag: string, min: number): number {
  const n = Number(text.replace(/[,_]/g, ''));
  if (!Number.isInteger(n) || n < min) throw new Error(`${flag} must be an integer >= ${min}, got ${JSON.stringify(text)}`);
  return n;
}
const N = count(flags.certificates, '--certificates', 1);
const HSM_N = count(flags['hsm-certificates'], '--hsm-certificates', 0);
const HSM_SESSIONS = count(flags['hsm-sessions'], '--hsm-sessions', 1);
const BARE_S = count(flags['bare-seconds'], '--bare-seconds', 1);
const drainTimeoutMs = (n: number) =>
  flags['drain-timeout-s'] !== undefined ? count(flags['drain-timeout-s'], '--drain-timeout-s', 1) * 1000 : 600_000 + 5 * n;

const IMAGES = ['pause', 'toolbox', 'postgres', 'operator', 'signer'];
const POOL = 'scale-ca';
const HSM_POOL = 'hsm-ca';
const TABLE = 'certificates';
const HSM_TABLE = 'hsm_certificates';
const TOKEN_LABEL = 'pool-scale';
const KEY_LABEL = 'ocsp-signer';
/** Serials asked of the responder once a pool says it is drained. */
const SAMPLED = 20;
const POD_SELECTOR = (pool: string) => `ocsp-operator.dev/pool=${pool}`;

const t0 = Date.now();
function log(msg: string): void {
  console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(7)}s] ${msg}`);
}
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/**
 * The serial of row `i` of a table, as the fill's SQL computes it: a `prefix` digit, 11 hex digits
 * of md5 (random-looking) and `i` in 8 (distinct). Never a leading zero, 80 bits.
 */
const serialSql = (prefix: string) => `upper('${prefix}' || substr(md5(i::text), 1, 11) || lpad(to_hex(i), 8, '0'))`;
const serialOf = (prefix: string, i: number) =>
  `${prefix}${createHash('md5').update(String(i)).digest('hex').slice(0, 11)}${i.toString(16).padStart(8, '0')}`.toUpperCase();

interface PoolObj extends KubeObject {
  status?: {
    conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
    certificates?: number;
    backlog?: number;
    signers?: { signaturesPerSecond?: number };
  };
}

/** Everything the run made, torn down in this order (the namespace's pods hold the volumes). */
const made: {
  node?: NodeCluster;
  operator?: { uninstall(): Promise<void> };
  namespace?: string;
  volumes: Array<{ remove(): Promise<void> }>;
  dir?: string;
} = { volumes: [] };

let tornDown: Promise<void> | undefined;
/** Once, whoever asks first (the end of main, or a signal). */
const teardown = (): Promise<void> => (tornDown ??= tearDownAll());

async function tearDownAll(): Promise<void> {
  const step = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      log(`teardown: ${what} failed: ${String(err).slice(0, 300)}`);
    }
  };
  if (made.dir) await step('temp dir', () => rm(made.dir!, { recursive: true, force: true }));
  if (flags.keep) {
    if (made.node) await step('detach the node', () => made.node!.detach?.() ?? Promise.resolve());
    log(`--keep: node, operator and namespace ${made.namespace ?? '?'} left up; KUBECONFIG=${made.node?.kubeconfigPath ?? '?'}`);
    return;
  }
  const ns = made.namespace;
  if (ns) await step(`namespace ${ns}`, () => kubectl(['delete', 'namespace', ns, '--wait=true', '--timeout=180s'], undefined, 200_000));
  for (const v of made.volumes) await step('local volume', () => v.remove());
  if (made.operator) await step('operator', () => made.operator!.uninstall());
  if (made.node) {
    log('stopping the node');
    await step('node', () => made.node!.stop());
  }
}

// --- Cluster access ------------------------------------------------------------------------------

async function bringUp(): Promise<void> {
  const problem = await nodeCapabilityProblem();
  if (problem) throw new Error(`this machine cannot run the node: ${problem}`);
  log(`building what is missing of the images (${IMAGES.join(', ')}) and helm while the node starts`);
  const [built, started, helm] = await Promise.allSettled([
    buildImages(IMAGES),
    startNodeCluster({ log: (m) => log(`[node] ${m}`) }),
    helmBinary(),
  ]);
  if (started.status === 'fulfilled') made.node = started.value;
  else throw started.reason;
  if (built.status === 'rejected') throw built.reason;
  if (helm.status === 'rejected') throw helm.reason;
  const node = made.node;
  await node.importImages(built.value.map((i: BuiltImage) => i.tarball));
  await installCrds(loadKubeConfig(node.kubeconfigPath), log);
  provideOutsideVitest({
    kubeconfig: node.kubeconfigPath,
    nodeKubeconfig: node.kubeconfigPath,
    kubeBinDir: node.binDir,
    nodeUnavailable: '',
    nodeImages: Object.fromEntries(built.value.map((i) => [i.name, i.ref])),
  });
  log('node up, images imported; helm install of the operator');
  made.operator = await installOperator('pool-scale-op');
  made.namespace = (await restrictedNamespace('pool-scale')).name;
}

const ns = () => made.namespace!;

/** kubectl exec in a container; output whatever the exit code. */
function exec(pod: string, container: string, command: string[], timeoutMs = 120_000) {
  return kubectl(['-n', ns(), 'exec', pod, '-c', container, '--', ...command], undefined, timeoutMs);
}
async function execOk(pod: string, container: string, command: string[], timeoutMs?: number): Promise<string> {
  const r = await exec(pod, container, command, timeoutMs);
  if (r.code !== 0) throw new Error(`exec ${pod}/${container} ${command.slice(0, 3).join(' ')} failed: ${r.stderr.trim().slice(0, 2000)}`);
  return r.stdout;
}

// --- PostgreSQL ----------------------------------------------------------------------------------

let postgresPod = '';

/** PostgreSQL as a pod: data on an emptyDir, password logins over TCP; the pool reads it through its Service. */
async function startPostgres(password: string): Promise<void> {
  await apply([
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'postgres', namespace: ns() }, stringData: { password } },
    restrictedDeployment(ns(), 'postgres', {
      terminationGracePeriodSeconds: 5,
      containers: [
        {
          name: 'postgres',
          image: nodeImage('postgres'),
          // A CA's durability is not what is measured: fsync off keeps the fill off the disk's pace.
          args: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'shared_buffers=128MB'],
          env: [{ name: 'POSTGRES_PASSWORD', valueFrom: { secretKeyRef: { name: 'postgres', key: 'password' } } }],
          ports: [{ name: 'postgres', containerPort: 5432 }],
          readinessProbe: { exec: { command: ['pg_isready', '-h', '/tmp', '-U', 'postgres'] }, periodSeconds: 2 },
          volumeMounts: [
            { name: 'data', mountPath: '/data' },
            { name: 'tmp', mountPath: '/tmp' },
          ],
        },
      ],
      volumes: [
        { name: 'data', emptyDir: {} },
        { name: 'tmp', emptyDir: {} },
      ],
    }),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'postgres', namespace: ns() },
      spec: { selector: { app: 'postgres' }, ports: [{ name: 'postgres', port: 5432, targetPort: 'postgres' }] },
    },
  ]);
  const [pod] = await waitForReadyPods(ns(), 'app=postgres', 1, 180_000);
  postgresPod = pod!.name;
}

/** Runs SQL in the PostgreSQL pod (psql over its socket); returns psql's unaligned output. */
function sql(statements: string, timeoutMs = 1_800_000): Promise<string> {
  return execOk(
    postgresPod,
    'postgres',
    ['psql', '-h', '/tmp', '-U', 'postgres', '-v', 'ON_ERROR_STOP=1', '-tAq', '-c', statements],
    timeoutMs,
  );
}

/** Fills `table` with `n` rows (distinct random-looking serials, not_after about 90 days ahead); returns the time it took. */
async function fill(table: string, prefix: string, n: number): Promise<number> {
  const started = Date.now();
  await sql(
    [
      // updated_at: the change column (the pools read only what changed after their first read).
      `CREATE TABLE ${table} (serial text NOT NULL, not_after timestamptz NOT NULL, revoked_at timestamptz, reason text, updated_at timestamptz NOT NULL DEFAULT now());`,
      `INSERT INTO ${table} (serial, not_after) SELECT ${serialSql(prefix)}, now() + interval '89 days' + (i % 86400) * interval '1 second' FROM generate_series(1, ${n}) AS i;`,
      // The index after the rows: one sort instead of N insertions.
      `ALTER TABLE ${table} ADD PRIMARY KEY (serial);`,
      `CREATE INDEX ${table}_updated_at ON ${table} (updated_at);`,
      `ANALYZE ${table};`,
    ].join('\n'),
  );
  return Date.now() - started;
}

// --- Observing a pool ----------------------------------------------------------------------------

function httpText(url: string, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** The sum of a Prometheus metric's samples (every label set). */
function metricSum(text: string, name: string): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum = (sum ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** The share of a core a process used over `ms` (its process_cpu_seconds_total). */
async function cpuShare(metricsUrl: string, ms: number): Promise<number> {
  const cpu = async () => metricSum(await httpText(metricsUrl), 'process_cpu_seconds_total') ?? NaN;
  const [c0, s0] = [await cpu(), Date.now()];
  await sleep(ms);
  return ((await cpu()) - c0) / ((Date.now() - s0) / 1000);
}

const getPool = (name: string) => kubeClient().get<PoolObj>(OcspResponderPoolType, ns(), name);

interface Drain {
  /** pool applied → backlog 0 over all its certificates, sampled serials answered */
  drainedMs: number;
  /** signatures/s from the first signature seen to the last needed */
  rate: number;
  firstSignatureMs: number;
  statusRate?: number;
  /** mean of the signer's histograms over the drain: one whole read of the database, one round */
  readMeanS: number;
  roundMeanS: number;
  pod: string;
  podIp: string;
}

/**
 * Follows a pool from its apply until its status says every certificate is signed: samples the
 * signer's counter (from the host, at the pod's IP) and the status every 2 s, a progress line every
 * 15 s. Then asks the responder for SAMPLED serials, which must all be good.
 */
async function followDrain(pool: string, n: number, appliedAt: number, pki: Pki, prefix: string): Promise<Drain> {
  const [pod] = await waitForReadyPods(ns(), POD_SELECTOR(pool), 1, 300_000);
  log(`pool ${pool}: pod ${pod!.name} Ready ${seconds(Date.now() - appliedAt)} after the apply`);
  const metricsUrl = `http://${pod!.ip}:9090/metrics`;
  const deadline = appliedAt + drainTimeoutMs(n);
  let first: { at: number; count: number } | undefined;
  let last: { at: number; count: number } | undefined;
  let said = 0;
  let statusRate: number | undefined;
  for (;;) {
    const now = Date.now();
    const [metrics, status] = await Promise.all([
      httpText(metricsUrl).catch(() => ''),
      getPool(pool).then(
        (p) => p.status,
        () => undefined,
      ),
    ]);
    const signed = metricSum(metrics, 'ocsp_signer_signatures_total');
    if (signed !== undefined && signed > 0) {
      first ??= { at: now, count: signed };
      if (!last || signed > last.count) last = { at: now, count: signed };
    }
    statusRate = status?.signers?.signaturesPerSecond ?? statusRate;
    if (now - said >= 15_000) {
      said = now;
      log(
        `pool ${pool}: signed ${signed ?? '?'}/${n}, status certificates ${status?.certificates ?? '?'} backlog ${status?.backlog ?? '?'} (${statusRate ?? '?'} signatures/s)`,
      );
    }
    if (status?.certificates === n && status.backlog === 0 && (signed ?? 0) >= n) break;
    if (now > deadline) throw new Error(`pool ${pool} not drained in ${seconds(drainTimeoutMs(n))}: ${JSON.stringify(status)}`);
    await sleep(2_000);
  }
  const svc = await serviceIp(pool);
  for (let k = 0; k < SAMPLED; k++) {
    const serial = serialOf(prefix, 1 + Math.floor((k * n) / SAMPLED));
    const a = await ask(svc, serial, pki);
    if (a.status !== 'good' || !a.verified) throw new Error(`pool ${pool}: serial ${serial} not served good: ${a.output}`);
  }
  const drainedMs = Date.now() - appliedAt;
  const rate = first && last && last.at > first.at ? (last.count - first.count) / ((last.at - first.at) / 1000) : NaN;
  const metrics = await httpText(metricsUrl);
  const mean = (h: string) => (metricSum(metrics, `${h}_sum`) ?? NaN) / (metricSum(metrics, `${h}_count`) ?? NaN);
  return {
    drainedMs,
    rate,
    firstSignatureMs: (first?.at ?? NaN) - appliedAt,
    statusRate,
    readMeanS: mean('ocsp_signer_source_read_duration_seconds'),
    roundMeanS: mean('ocsp_signer_round_duration_seconds'),
    pod: pod!.name,
    podIp: pod!.ip,
  };
}

async function serviceIp(pool: string): Promise<string> {
  return (await kubectlOk(['-n', ns(), 'get', 'service', pool, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
}

/** The issuing CA's certificate, and what openssl trusts to verify answers (the CA itself, or its root and it). */
interface Pki {
  issuer: string;
  trust: string;
}

/** The pool's answer for `serial` at `host` (the Service's ClusterIP or a pod's IP:port), verified by openssl. */
async function ask(host: string, serial: string, pki: Pki): Promise<{ status?: string; verified: boolean; output: string }> {
  const r = await runOpenssl(
    [
      'ocsp',
      '-issuer',
      pki.issuer,
      '-serial',
      `0x${serial}`,
      '-url',
      `http://${host}/`,
      '-CAfile',
      pki.trust,
      '-no_nonce',
      '-timeout',
      '3',
    ],
    { timeoutMs: 8_000 },
  );
  const out = r.stdout + r.stderr;
  return { status: new RegExp(`0x${serial}: (\\w+)`, 'i').exec(out)?.[1], verified: /Response verify OK/.test(out), output: out.trim() };
}

/** Polls `host` until `serial` is answered `want` (verified); the time from `since`. */
async function servedAfter(host: string, serial: string, want: string, pki: Pki, since: number, timeoutMs = 300_000): Promise<number> {
  const deadline = since + timeoutMs;
  let lastOut = '';
  while (Date.now() < deadline) {
    const a = await ask(host, serial, pki).catch((e: unknown) => ({ status: undefined, verified: false, output: String(e) }));
    if (a.status === want && a.verified) return Date.now() - since;
    lastOut = a.output;
    await sleep(250);
  }
  throw new Error(`serial ${serial} not served ${want} at ${host} within ${seconds(timeoutMs)}: ${lastOut.slice(0, 500)}`);
}

interface ProcMemory {
  rss: number;
  hwm: number;
  processes: number;
}

/** RSS of a container's processes (summed: the responder may run workers), and the largest peak. */
async function memory(pod: string, container: string): Promise<ProcMemory> {
  const out = await execOk(pod, container, ['sh', '-c', 'cat /proc/[0-9]*/status 2>/dev/null']);
  const m: ProcMemory = { rss: 0, hwm: 0, processes: 0 };
  for (const block of out.split(/^Name:/m).slice(1)) {
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(block)?.[1] ?? 0) * 1024;
    // Every process of the container but this exec's own shell and cat (the product's processes
    // name themselves, so not by name).
    if (/^\s*(sh|cat)\s*$/m.test(block.split('\n')[0] ?? '')) continue;
    m.rss += kb('VmRSS');
    m.hwm = Math.max(m.hwm, kb('VmHWM'));
    m.processes++;
  }
  return m;
}
const fmtHeap = (h: { used: number; external: number }) => `V8 heap in use ${mib(h.used)}, outside it ${mib(h.external)}`;
const fmtMem = (m: ProcMemory) => `RSS ${mib(m.rss)} (${m.processes} process${m.processes === 1 ? '' : 'es'}), peak ${mib(m.hwm)}`;

// --- Bare signing rates, in the signer containers -------------------------------------------------

/** node:crypto signing with the pool's key file, one thread, as the software signer signs. */
const BARE_SOFTWARE = `
const c = require('node:crypto');
const key = c.createPrivateKey(require('node:fs').readFileSync('/etc/ocsp/key/tls.key'));
const tbs = c.randomBytes(250);
const t0 = process.hrtime.bigint(), end = t0 + BigInt(process.argv[1]) * 1000000000n;
let n = 0, t = t0;
while ((t = process.hrtime.bigint()) < end) { for (let i = 0; i < 50; i++) c.sign('sha256', tbs, { key, dsaEncoding: 'der' }); n += 50; }
console.log(JSON.stringify({ signatures: n, seconds: Number(t - t0) / 1e9 }));
`;

/** The bare pkcs11js loop of bench/signer.ts: `sessions` chains of C_SignInit + C_SignAsync on the token's key. */
const BARE_PKCS11 = `
const p = require('/app/node_modules/pkcs11js');
const [seconds, sessions, token, label] = process.argv.slice(1);
const lib = new p.PKCS11();
lib.load(process.env.PKCS11_MODULE || '/usr/lib/softhsm/libsofthsm2.so');
lib.C_Initialize({ flags: p.CKF_OS_LOCKING_OK }); // sessions sign at once from the threadpool
const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === token);
const ss = Array.from({ length: Number(sessions) }, () => lib.C_OpenSession(slot, p.CKF_SERIAL_SESSION | p.CKF_RW_SESSION));
lib.C_Login(ss[0], p.CKU_USER, process.env.OCSP_SIGNER_PIN);
lib.C_FindObjectsInit(ss[0], [{ type: p.CKA_CLASS, value: p.CKO_PRIVATE_KEY }, { type: p.CKA_LABEL, value: label }]);
const [key] = lib.C_FindObjects(ss[0], 1);
lib.C_FindObjectsFinal(ss[0]);
const digest = require('node:crypto').createHash('sha256').update('tbs').digest();
const t0 = Date.now(), end = t0 + Number(seconds) * 1000;
let n = 0;
Promise.all(ss.map(async (s) => {
  const out = Buffer.alloc(256);
  while (Date.now() < end) { lib.C_SignInit(s, { mechanism: p.CKM_ECDSA }, key); await lib.C_SignAsync(s, digest, out); n++; }
})).then(() => {
  console.log(JSON.stringify({ signatures: n, seconds: (Date.now() - t0) / 1000 }));
  for (const s of ss) lib.C_CloseSession(s);
  lib.C_Finalize();
});
`;

async function bareRate(pod: string, script: string, args: string[]): Promise<number> {
  const out = await execOk(pod, 'signer', ['node', '-e', script, ...args], (BARE_S + 60) * 1000);
  const r = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { signatures?: number; seconds?: number };
  if (!r.signatures || !r.seconds) throw new Error(`bare signing loop in ${pod} printed ${out}`);
  return r.signatures / r.seconds;
}

// --- The two pools --------------------------------------------------------------------------------

function poolObject(name: string, spec: Record<string, unknown>): object {
  return {
    apiVersion: 'ocsp-operator.dev/v1alpha1',
    kind: 'OcspResponderPool',
    metadata: { name, namespace: ns() },
    spec: { delegatedResponder: { mode: 'None' }, ...spec },
  };
}

const postgresSource = (secret: string, table: string) => [
  { postgres: { urlSecretRef: { name: secret, key: 'url' }, table, changedAt: 'updated_at' } },
];

interface SoftwareResult {
  fillMs: number;
  drain: Drain;
  bare: number;
  storeBytes: number;
  signer: ProcMemory;
  /** The signer's V8 heap in use and its memory outside the heap (buffers, typed arrays), from its metrics. */
  signerHeap: { used: number; external: number };
  /** The signer container's restarts and the last one's reason (OOMKilled under its limit). */
  signerRestarts: string;
  responder: ProcMemory;
  restart: { seenMs: number; readyMs: number; answerMs: number; responder: ProcMemory };
  newMs: number;
  revokedMs: number;
  idleCpu: number;
}

async function softwarePool(dir: string, dbUrl: string): Promise<SoftwareResult> {
  log(`filling ${TABLE} with ${N} rows`);
  const fillMs = await fill(TABLE, '1', N);
  log(`filled ${TABLE}: ${N} rows in ${seconds(fillMs)}`);

  const ca = await createCa({ keyAlg: 'P-256', name: 'CN=Pool Scale CA' });
  const pki = { issuer: join(dir, 'ca.pem'), trust: join(dir, 'ca.pem') };
  await writeFile(pki.issuer, ca.certPem);
  const volume = await localVolume({ name: `${ns()}-store`, size: '20Gi', claimRef: { namespace: ns(), name: 'store' } });
  made.volumes.push(volume);
  await apply([
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'ca', namespace: ns() },
      stringData: { 'tls.crt': ca.certPem, 'tls.key': ca.keyPem },
    },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'ca-db', namespace: ns() }, stringData: { url: dbUrl } },
    {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'store', namespace: ns() },
      spec: { accessModes: ['ReadWriteOnce'], storageClassName: '', volumeName: volume.name, resources: { requests: { storage: '20Gi' } } },
    },
  ]);
  const appliedAt = Date.now();
  await apply([
    poolObject(POOL, {
      issuer: { secretName: 'ca' },
      signing: { softwareKey: { secretName: 'ca' } },
      sources: postgresSource('ca-db', TABLE),
      store: { type: 'Embedded', embedded: { claimName: 'store' } },
      // A CPU limit sizes the responder's workers (one per core, each with its own index).
      ...(flags['responder-cpu'] ? { responder: { pod: { resources: { limits: { cpu: flags['responder-cpu'] } } } } } : {}),
      // A memory limit caps the signer's V8 heap below it.
      ...(flags['signer-memory'] ? { signers: { pod: { resources: { limits: { memory: flags['signer-memory'] } } } } } : {}),
    }),
  ]);
  log(`pool ${POOL} applied over ${N} certificates (software P-256 key, embedded store on ${volume.dir})`);
  const drain = await followDrain(POOL, N, appliedAt, pki, '1');
  log(`pool ${POOL}: drained and served in ${seconds(drain.drainedMs)} (${drain.rate.toFixed(0)} signatures/s)`);

  const [signer, responder] = [await memory(drain.pod, 'signer'), await memory(drain.pod, 'responder')];
  const signerMetrics = await httpText(`http://${drain.podIp}:9090/metrics`);
  const signerHeap = {
    used: metricSum(signerMetrics, 'nodejs_heap_size_used_bytes') ?? NaN,
    external: metricSum(signerMetrics, 'nodejs_external_memory_bytes') ?? NaN,
  };
  // An OOM kill under the signer's memory limit shows here, not in its RSS.
  const signerRestarts = (
    await kubectlOk([
      '-n',
      ns(),
      'get',
      'pod',
      drain.pod,
      '-o',
      'jsonpath={.status.containerStatuses[?(@.name=="signer")].restartCount} {.status.containerStatuses[?(@.name=="signer")].lastState.terminated.reason}',
    ])
  ).trim();
  const storeBytes = Number((await run('du', ['-sb', volume.dir])).stdout.split(/\s/)[0]);
  log(
    `store ${mib(storeBytes)}; signer ${fmtMem(signer)}, ${fmtHeap(signerHeap)}, restarts ${signerRestarts}; responder ${fmtMem(responder)}`,
  );
  const idleCpu = await cpuShare(`http://${drain.podIp}:9090/metrics`, 20_000);
  log(`signer at rest, nothing due: ${(idleCpu * 100).toFixed(0)} % of a core over 20 s`);
  log(`bare signing loop in ${drain.pod}/signer for ${BARE_S} s`);
  const bare = await bareRate(drain.pod, BARE_SOFTWARE, [String(BARE_S)]);
  log(`bare node:crypto P-256: ${bare.toFixed(0)} signatures/s`);

  // A new certificate, then its revocation, from the table to the Service.
  const svc = await serviceIp(POOL);
  const fresh = serialOf('3', 1);
  let since = Date.now();
  await sql(`INSERT INTO ${TABLE} (serial, not_after) VALUES ('${fresh}', now() + interval '90 days');`);
  const newMs = await servedAfter(svc, fresh, 'good', pki, since);
  log(`new certificate ${fresh}: served good ${seconds(newMs)} after the INSERT began`);
  since = Date.now();
  await sql(`UPDATE ${TABLE} SET revoked_at = now(), reason = 'keyCompromise', updated_at = now() WHERE serial = '${fresh}';`);
  const revokedMs = await servedAfter(svc, fresh, 'revoked', pki, since);
  log(`revocation of ${fresh}: served revoked ${seconds(revokedMs)} after the UPDATE began`);

  const restart = await restartPod(POOL, drain.pod, pki);
  return { fillMs, drain, bare, storeBytes, signer, signerHeap, signerRestarts, responder, restart, newMs, revokedMs, idleCpu };
}

/** Deletes the pool's pod; times the new one: seen → Ready, and → its first correct answer at its own IP. */
async function restartPod(pool: string, old: string, pki: Pki): Promise<SoftwareResult['restart']> {
  const known = serialOf('1', 1);
  const oldUid = (await pods(ns(), POD_SELECTOR(pool))).find((p) => p.name === old)?.uid;
  const deleted = Date.now();
  await kubectlOk(['-n', ns(), 'delete', 'pod', old, '--wait=false']);
  log(`pod ${old} deleted: timing its replacement`);
  // A StatefulSet's new pod keeps the name: it is the one with another UID.
  const replacement = () => pods(ns(), POD_SELECTOR(pool)).then((ps) => ps.find((p) => p.uid !== oldUid));
  const first = await waitFor(`a new pod of ${pool}`, replacement, 300_000, 200);
  const seen = Date.now();
  let answered: number | undefined;
  let ready: number | undefined;
  const deadline = seen + 600_000;
  while ((answered === undefined || ready === undefined) && Date.now() < deadline) {
    const p = await replacement().catch(() => undefined);
    if (p && p.uid !== first.uid) throw new Error(`pod ${old} was replaced twice (restarted?)`);
    if (ready === undefined && p?.ready) ready = Date.now();
    if (answered === undefined && p?.ip) {
      const a = await ask(`${p.ip}:8080`, known, pki).catch(() => undefined);
      if (a?.status === 'good' && a.verified) answered = Date.now();
    }
    await sleep(200);
  }
  if (answered === undefined || ready === undefined) throw new Error(`pod ${old}'s replacement: no answer or not Ready in 600 s`);
  const responder = await memory(old, 'responder');
  log(
    `replacement seen ${seconds(seen - deleted)} after the delete; Ready ${seconds(ready - seen)}, first answer ${seconds(answered - seen)} after it was seen; responder ${fmtMem(responder)}`,
  );
  return { seenMs: seen - deleted, readyMs: ready - seen, answerMs: answered - seen, responder };
}

interface HsmResult {
  fillMs: number;
  drain: Drain;
  bare: number;
}

async function hsmPool(dir: string, dbUrl: string): Promise<HsmResult> {
  // The P-256 pool's pod would compete for the cores: gone before this slice.
  await kubectlOk(['-n', ns(), 'delete', 'ocspresponderpool', POOL, '--wait=true', '--timeout=120s'], 150_000);
  await waitFor(`pool ${POOL}'s pods gone`, async () => (await pods(ns(), POD_SELECTOR(POOL))).length === 0, 180_000, 1_000);

  log(`filling ${HSM_TABLE} with ${HSM_N} rows`);
  const fillMs = await fill(HSM_TABLE, '2', HSM_N);
  const volume = await localVolume({ name: `${ns()}-softhsm`, size: '16Mi', claimRef: { namespace: ns(), name: 'softhsm-tokens' } });
  made.volumes.push(volume);
  await apply([
    {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'softhsm-tokens', namespace: ns() },
      spec: { accessModes: ['ReadWriteOnce'], storageClassName: '', volumeName: volume.name, resources: { requests: { storage: '16Mi' } } },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'softhsm-pin', namespace: ns() },
      stringData: { pin: randomBytes(8).toString('hex'), 'so-pin': randomBytes(8).toString('hex') },
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'softhsm-token-script', namespace: ns() },
      data: { 'softhsm-token.sh': await readFile(join(repoRoot(), 'test', 'node', 'fixtures', 'softhsm-token.sh'), 'utf8') },
    },
    {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'softhsm-token', namespace: ns() },
      spec: {
        backoffLimit: 0,
        template: {
          spec: {
            restartPolicy: 'Never',
            securityContext: restrictedPod,
            containers: [
              {
                name: 'init-token',
                image: nodeImage('signer'),
                imagePullPolicy: 'IfNotPresent',
                command: ['/bin/sh', '/scripts/softhsm-token.sh'],
                env: [
                  { name: 'PIN', valueFrom: { secretKeyRef: { name: 'softhsm-pin', key: 'pin' } } },
                  { name: 'SO_PIN', valueFrom: { secretKeyRef: { name: 'softhsm-pin', key: 'so-pin' } } },
                  { name: 'TOKEN_LABEL', value: TOKEN_LABEL },
                  { name: 'KEY_LABEL', value: KEY_LABEL },
                ],
                securityContext: restrictedContainer,
                volumeMounts: [
                  { name: 'tokens', mountPath: '/var/lib/softhsm/tokens' },
                  { name: 'scripts', mountPath: '/scripts' },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              },
            ],
            volumes: [
              { name: 'tokens', persistentVolumeClaim: { claimName: 'softhsm-tokens' } },
              { name: 'scripts', configMap: { name: 'softhsm-token-script' } },
              { name: 'tmp', emptyDir: {} },
            ],
          },
        },
      },
    },
  ]);
  const done = await waitFor(
    'Job softhsm-token to finish',
    async () => {
      const job = JSON.parse(await kubectlOk(['-n', ns(), 'get', 'job', 'softhsm-token', '-o', 'json'])) as {
        status?: { succeeded?: number; failed?: number };
      };
      return job.status?.succeeded ? 'succeeded' : job.status?.failed ? 'failed' : undefined;
    },
    240_000,
    1_000,
  );
  const jobLog = await kubectlOk(['-n', ns(), 'logs', 'job/softhsm-token']);
  const pubkey = /^PUBKEY (\S+)$/m.exec(jobLog)?.[1];
  if (done !== 'succeeded' || !pubkey) throw new Error(`Job softhsm-token: ${done}, no public key:\n${jobLog}`);
  const root = await createCa({ keyAlg: 'P-256', name: 'CN=Pool Scale HSM Root' });
  const caPem = (await issueCaCertFor(root, Buffer.from(pubkey, 'base64'), { name: 'CN=Pool Scale HSM CA' })).certPem;
  const pki = { issuer: join(dir, 'hsm-ca.pem'), trust: join(dir, 'hsm-chain.pem') };
  await writeFile(pki.issuer, caPem);
  await writeFile(pki.trust, `${root.certPem.trimEnd()}\n${caPem}`);
  await apply([
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: HSM_POOL, namespace: ns() }, stringData: { 'tls.crt': caPem } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hsm-db', namespace: ns() }, stringData: { url: dbUrl } },
  ]);
  const appliedAt = Date.now();
  await apply([
    poolObject(HSM_POOL, {
      issuer: { secretName: HSM_POOL },
      signing: {
        pkcs11: { tokenLabel: TOKEN_LABEL, keyLabel: KEY_LABEL, pinSecretRef: { name: 'softhsm-pin', key: 'pin' }, sessions: HSM_SESSIONS },
      },
      sources: postgresSource('hsm-db', HSM_TABLE),
      store: { type: 'Embedded', embedded: { ephemeral: true, storageSize: '2Gi' } },
      signers: {
        pod: {
          volumes: [{ name: 'tokens', persistentVolumeClaim: { claimName: 'softhsm-tokens' } }],
          volumeMounts: [{ name: 'tokens', mountPath: '/var/lib/softhsm/tokens' }],
        },
      },
    }),
  ]);
  log(`pool ${HSM_POOL} applied over ${HSM_N} certificates (SoftHSM token, ${HSM_SESSIONS} sessions)`);
  const drain = await followDrain(HSM_POOL, HSM_N, appliedAt, pki, '2');
  log(`pool ${HSM_POOL}: drained and served in ${seconds(drain.drainedMs)} (${drain.rate.toFixed(0)} signatures/s)`);
  const bare = await bareRate(drain.pod, BARE_PKCS11, [String(BARE_S), String(HSM_SESSIONS), TOKEN_LABEL, KEY_LABEL]);
  log(`bare pkcs11js C_Sign (SoftHSM, ${HSM_SESSIONS} sessions): ${bare.toFixed(0)} signatures/s`);
  return { fillMs, drain, bare };
}

// --- Main ----------------------------------------------------------------------------------------

function summary(sw: SoftwareResult, hsm: HsmResult | undefined, load: string): string {
  const target = (ok: boolean) => (ok ? 'met' : 'MISSED');
  const lines = [
    '',
    `=== pool-scale: ${N} certificates on the real node (2 cores shared; load average at start ${load}) ===`,
    `fill (INSERT generate_series + primary key + ANALYZE)  ${seconds(sw.fillMs)} (${((N / sw.fillMs) * 1000).toFixed(0)} rows/s)`,
    `signing, software P-256  pool ${sw.drain.rate.toFixed(0)} signatures/s (status said ${sw.drain.statusRate ?? '?'}), bare node:crypto in its signer container ${sw.bare.toFixed(0)} /s: ratio ${(sw.drain.rate / sw.bare).toFixed(2)}`,
    `all ${N} signed and served  ${seconds(sw.drain.drainedMs)} after the apply (first signature at ${seconds(sw.drain.firstSignatureMs)})`,
    `signer rounds              mean round ${sw.drain.roundMeanS.toFixed(2)} s, mean whole read of the table ${sw.drain.readMeanS.toFixed(2)} s; at rest ${(sw.idleCpu * 100).toFixed(0)} % of a core`,
    `store on disk              ${mib(sw.storeBytes)} (${(sw.storeBytes / N).toFixed(0)} bytes per certificate)`,
    `signer                     ${fmtMem(sw.signer)}, ${fmtHeap(sw.signerHeap)}; memory limit ${flags['signer-memory'] || 'none'}, restarts ${sw.signerRestarts}`,
    `responder                  ${fmtMem(sw.responder)}; after the restart ${fmtMem(sw.restart.responder)} (target < 1 GiB: ${target(Math.max(sw.responder.rss, sw.restart.responder.rss) < 2 ** 30)})`,
    `responder start-up         new pod seen ${seconds(sw.restart.seenMs)} after the delete; Ready ${seconds(sw.restart.readyMs)}, first answer ${seconds(sw.restart.answerMs)} after (target < 10 s: ${target(sw.restart.answerMs < 10_000)})`,
    `new certificate served     ${seconds(sw.newMs)} after the INSERT (target < 60 s: ${target(sw.newMs < 60_000)})`,
    `revocation served          ${seconds(sw.revokedMs)} after the UPDATE (target < 60 s: ${target(sw.revokedMs < 60_000)})`,
  ];
  if (hsm) {
    lines.push(
      `SoftHSM slice, ${HSM_N} certificates, ${HSM_SESSIONS} sessions  pool ${hsm.drain.rate.toFixed(0)} signatures/s, bare pkcs11js ${hsm.bare.toFixed(0)} /s: ratio ${(hsm.drain.rate / hsm.bare).toFixed(2)}; all served ${seconds(hsm.drain.drainedMs)} after the apply (fill ${seconds(hsm.fillMs)})`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      log(`${signal}: tearing down`);
      void teardown().then(() => process.exit(130));
    });
  }
  try {
    await bringUp();
    made.dir = await mkdtemp(join(tmpdir(), 'pool-scale-'));
    const password = randomBytes(12).toString('hex');
    await startPostgres(password);
    log(`PostgreSQL pod ${postgresPod} Ready`);
    const dbUrl = `postgres://postgres:${password}@postgres.${ns()}.svc.cluster.local:5432/postgres`;
    const sw = await softwarePool(made.dir, dbUrl);
    const hsm = HSM_N > 0 ? await hsmPool(made.dir, dbUrl) : undefined;
    console.log(summary(sw, hsm, load));
    return 0;
  } catch (err) {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 1;
  } finally {
    await teardown();
  }
}

void main().then((code) => process.exit(code));
