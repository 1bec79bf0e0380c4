// Staple benchmark (issue 4, point 7): N OcspStaples filled by the operator against a local
// `openssl ocsp` responder, next to the same N fetches done the way admins script them today
// (`openssl ocsp` once per certificate in a bash loop, as a cron job does; and the same with
// `xargs -P 2`). Every side runs `--rounds` times, interleaved, on the same machine.
//
// What it measures, per operator run:
//   fill time      operator process spawned → every OcspStaple has Ready=True (seen by a watch)
//   peak RSS       VmHWM of the operator process at the end; VmRSS sampled every second
//   writes         apiserver_request_total (POST/PUT/PATCH/APPLY/DELETE) from before the operator
//                  starts until its writes stop after the fill, by resource, verb and code;
//                  divided by N, and by the operator's successful fetches
//   fetches        the operator's own counter of OCSP fetches (a duplicate fetch shows here)
//
//   npx tsc -p tsconfig.json && node dist/bench/staples.js [--count N] [--workers W] [--rounds R]
//     [--nmin M] [--refresh-rounds K] [--idle-s S --resync-ms MS] [--no-xargs] [--keep]
//   --refresh-rounds K  rounds (from the first) that also time one refresh of every staple (default 1)
//   --idle-s S          then wait S seconds and count what the operator writes with nothing to do
//   --resync-ms MS      the operator's --resync (full relist period; its default is 10 minutes)
//   --peer-writes W     writes by the apiserver write peer before each operator round (default N)
//   --no-openssl        skip the openssl ocsp loops (the apiserver write peer always runs)
//   --cpu-prof          run the operator under node --cpu-prof (profiles kept in the work dir)
//   --heap-snapshot     have the operator write a V8 heap snapshot after the fill (into the work
//                       dir; taking it raises the process's VmHWM, so the end figure includes it)
//   --max-old-space MIB run the operator with node --max-old-space-size=MIB, as the chart's
//                       NODE_OPTIONS does: V8 then collects before the heap passes MIB instead of
//                       growing into a large machine's memory, so peak RSS shows what the work needs
//   --max-semi-space MIB  and --max-semi-space-size=MIB (the young generation, also in the chart's)
//   --node WHICH        the Node the operator runs under: `image` (default: the version the images
//                       carry, fetched once by hack/fetch-node.sh, so figures are the pods' runtime's),
//                       `host` (the Node running this benchmark), or a path to a node binary
//
// The apiserver write peer (lib/write-peer.ts): a minimal keep-alive client creating 4 KiB Secrets,
// 8 at a time, against the same apiserver just before each operator round. The operator's write
// rate during the fill (its apiserver writes ÷ fill time) is printed as a ratio of the peer's: how
// close the operator gets to the pace the apiserver can take on these cores.
import 'reflect-metadata';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, runBuildScript, startControlPlane, type ControlPlane } from '../src/devenv/control-plane.js';
import { installCrds } from '../src/devenv/crds.js';
import { KubeClient, KubeApiError } from '../src/kube/client.js';
import { loadKubeConfig } from '../src/kube/config.js';
import { NamespaceType, OcspStapleType, SecretType, type KubeObject, type Secret } from '../src/kube/types.js';
import { buildOcspRequest } from '../src/ocsp/index.js';
import { postOcsp } from '../test/support/openssl.js';
import { createCa, indexTxt, issueLeaf, type Ca, type Issued } from '../test/support/pki.js';
import { apiserverText, diffCounts, httpText, sumOf, totalWrites, writeCounts, type WriteCounts } from './lib/apiserver-metrics.js';
import { controlPlaneCpu } from './lib/control-plane-cpu.js';
import { mib, procSample } from './lib/proc-status.js';
import { secretWritePeer, type WritePeerResult } from './lib/write-peer.js';

const { values: flags } = parseArgs({
  options: {
    count: { type: 'string', default: '10000' },
    workers: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '2' },
    nmin: { type: 'string', default: '60' },
    'no-xargs': { type: 'boolean', default: false },
    'refresh-rounds': { type: 'string', default: '1' },
    'idle-s': { type: 'string', default: '0' },
    'resync-ms': { type: 'string' },
    'peer-writes': { type: 'string' },
    'no-openssl': { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    'heap-snapshot': { type: 'boolean', default: false },
    'max-old-space': { type: 'string' },
    'max-semi-space': { type: 'string' },
    node: { type: 'string', default: 'image' },
    keep: { type: 'boolean', default: false },
  },
  strict: true,
});
const N = positiveInt(flags.count, '--count');
const WORKERS = positiveInt(flags.workers, '--workers');
const ROUNDS = positiveInt(flags.rounds, '--rounds');
const NMIN = positiveInt(flags.nmin, '--nmin');
const REFRESH_ROUNDS = Number(flags['refresh-rounds']);
const IDLE_S = Number(flags['idle-s']);
const RESYNC_MS = flags['resync-ms'] === undefined ? undefined : positiveInt(flags['resync-ms'], '--resync-ms');
const PEER_WRITES = flags['peer-writes'] === undefined ? N : positiveInt(flags['peer-writes'], '--peer-writes');
/** The write peer: 4 KiB Secrets (about a staple Secret's size), 8 at a time, keep-alive. */
const PEER_CONCURRENCY = 8;
const PEER_BYTES = 4096;
const CREATE_CONCURRENCY = 32;
const FILL_TIMEOUT_MS = Math.max(10 * 60_000, N * 200);
const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
/** The resources the staple controller writes; anything else is the apiserver's own bookkeeping. */
const OPERATOR_RESOURCES = new Set(['secrets', 'ocspstaples', 'ocspstaples/status', 'events']);

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} must be a positive integer, got ${JSON.stringify(text)}`);
  return n;
}

const t0 = Date.now();
function log(msg: string): void {
  console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${msg}`);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs fn(0..n-1) with at most `limit` in flight. */
async function forEachLimited(
  n: number,
  limit: number,
  fn: (i: number) => Promise<void>,
  progress?: (done: number) => void,
): Promise<void> {
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      await fn(i);
      done++;
      progress?.(done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

/** Retries transient apiserver failures (unreachable, 429, 5xx) a few times. */
async function retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const transient = err instanceof KubeApiError && (err.status === 0 || err.status === 429 || err.status >= 500);
      if (!transient || attempt >= 5) throw new Error(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      await sleep(200 * attempt);
    }
  }
}

const pad = (i: number) => String(i).padStart(String(N - 1).length, '0');
const certName = (i: number) => `cert-${pad(i)}`;

// ---------------------------------------------------------------- PKI and the openssl responder

interface Pki {
  ca: Ca;
  leaves: Issued[];
  dir: string;
  url: string;
  port: number;
}

async function makePki(dir: string): Promise<Pki> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const ca = await createCa({ keyAlg: 'P-256', name: 'CN=ocsp-operator bench CA,O=ocsp-operator bench' });
  const leaves: Issued[] = [];
  const started = Date.now();
  await mkdir(join(dir, 'certs'), { recursive: true });
  for (let i = 0; i < N; i++) {
    const leaf = await issueLeaf(ca, { ocspUrl: url, dnsNames: [`${certName(i)}.bench.test`] });
    leaves.push(leaf);
    await writeFile(join(dir, 'certs', `leaf-${i}.pem`), leaf.certPem);
    if ((i + 1) % 2000 === 0 || i + 1 === N) log(`issued ${i + 1}/${N} leaf certificates (${((Date.now() - started) / 1000).toFixed(1)}s)`);
  }
  await writeFile(join(dir, 'ca.pem'), ca.certPem);
  await writeFile(join(dir, 'cakey.pem'), ca.keyPem, { mode: 0o600 });
  await writeFile(join(dir, 'index.txt'), indexTxt(leaves.map((l) => ({ cert: l.cert, status: 'V' as const }))));
  await writeFile(join(dir, 'index.txt.attr'), 'unique_subject = no\n');
  return { ca, leaves, dir, url, port };
}

interface Responder {
  proc: ChildProcess;
  stop(): Promise<void>;
}

/**
 * `openssl ocsp -index … -port P -multi 2`. With -multi, openssl makes itself a process-group leader
 * (setpgid; it exits 1 if it is already a session leader, so it is not spawned detached) and forks
 * the workers into that group; its parent outlives SIGTERM, so stop() signals the group and then
 * kills it. Ready once it answers a whole request: openssl's responder hangs on an empty
 * connection, so no bare connect probe is ever made.
 */
async function startResponder(pki: Pki): Promise<Responder> {
  const errLog = createWriteStream(join(pki.dir, 'responder.log'));
  const proc = spawn(
    'openssl',
    [
      'ocsp',
      '-index',
      'index.txt',
      '-port',
      String(pki.port),
      '-CA',
      'ca.pem',
      '-rsigner',
      'ca.pem',
      '-rkey',
      'cakey.pem',
      '-nmin',
      String(NMIN),
      '-multi',
      '2',
      '-ignore_err',
    ],
    { cwd: pki.dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => {
    errLog.write(d);
    if (stderr.length < 4096) stderr += d.toString();
  });
  const signalGroup = (sig: NodeJS.Signals) => {
    const pid = proc.pid;
    if (!pid) return;
    try {
      process.kill(-pid, sig); // the group openssl made: itself and its -multi workers
    } catch {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      try {
        process.kill(pid, sig); // not a group leader yet
      } catch {
        // already gone
      }
    }
  };
  const stop = async () => {
    const exited =
      proc.exitCode === null && proc.signalCode === null ? new Promise<void>((r) => proc.once('exit', () => r())) : Promise.resolve();
    signalGroup('SIGTERM');
    const t = setTimeout(() => signalGroup('SIGKILL'), 2_000);
    await exited;
    clearTimeout(t);
    signalGroup('SIGKILL'); // workers that outlived their parent
  };
  const leaf = pki.leaves[0];
  if (!leaf) throw new Error('no leaf certificates');
  const probe = buildOcspRequest({ cert: leaf.cert, issuer: pki.ca.cert }).der;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`openssl ocsp exited with ${proc.exitCode}: ${stderr}`);
    try {
      const r = await postOcsp(`http://127.0.0.1:${pki.port}/`, probe, 2_000);
      if (r.status === 200 && r.body[0] === 0x30) return { proc, stop };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error('openssl ocsp responder did not answer within 15 s');
    }
    await sleep(100);
  }
}

// ---------------------------------------------------------------- the operator side

interface ConditionView {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

interface StapleStatusView {
  status?: Record<string, unknown> & { conditions?: ConditionView[] };
}

/**
 * What changed from one status version to the next, as field names: top-level status fields, and
 * `conditions[Type].field` for conditions; `(first status)` when there was none before.
 */
function statusChanges(prev: StapleStatusView['status'], next: StapleStatusView['status']): string[] {
  if (!next) return [];
  if (!prev) return ['(first status)'];
  const out: string[] = [];
  for (const k of new Set([...Object.keys(prev), ...Object.keys(next)])) {
    if (k === 'conditions') continue;
    if (JSON.stringify(prev[k]) !== JSON.stringify(next[k])) out.push(k);
  }
  const byType = (cs: ConditionView[] | undefined) => new Map((cs ?? []).map((c) => [c.type ?? '', c]));
  const a = byType(prev.conditions);
  const b = byType(next.conditions);
  for (const t of new Set([...a.keys(), ...b.keys()])) {
    const ca = a.get(t);
    const cb = b.get(t);
    if (!ca || !cb) {
      out.push(`conditions[${t}] ${ca ? 'removed' : 'added'}`);
      continue;
    }
    for (const f of ['status', 'reason', 'message', 'lastTransitionTime', 'observedGeneration'] as const) {
      if (JSON.stringify((ca as Record<string, unknown>)[f]) !== JSON.stringify((cb as Record<string, unknown>)[f]))
        out.push(`conditions[${t}].${f}`);
    }
  }
  return out.length ? out : ['(nothing in status: metadata only)'];
}

function isReady(obj: KubeObject & StapleStatusView): boolean {
  return (obj.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/**
 * Which OcspStaples of a namespace are Ready, kept by a list and then a watch (re-listed if the
 * watch ends). A watch costs the apiserver one encoding of each change; listing 10,000 staples
 * every second would cost a full encoding of all of them each time, on the 2 cores the operator
 * is being measured on.
 */
class ReadyTracker {
  private readonly ready = new Set<string>();
  /** The last status seen per staple, to name what each update changed. */
  private readonly lastStatus = new Map<string, string>();
  /** "field, field" → how many updates changed exactly those status fields */
  readonly changes = new Map<string, number>();
  updates = 0;
  private abort: AbortController | undefined;
  private stopped = false;
  allReadyAt: number | undefined;
  firstReadyAt: number | undefined;
  restarts = 0;
  /** status.staple.sha256 per staple, now and at the start of a refresh wave */
  private readonly stapleSha = new Map<string, string>();
  private baseline: Map<string, string> | undefined;
  private refreshed = new Set<string>();
  allRefreshedAt: number | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
    private readonly total: number,
  ) {}

  get count(): number {
    return this.ready.size;
  }

  async start(): Promise<void> {
    const list = await this.client.list<KubeObject & StapleStatusView>(OcspStapleType, { namespace: this.namespace });
    for (const o of list.items) this.note(o);
    this.abort = await this.client.watch(
      OcspStapleType,
      { namespace: this.namespace, resourceVersion: list.metadata?.resourceVersion ?? '', timeoutSeconds: 3600 },
      (phase, raw) => {
        const obj = raw as KubeObject & StapleStatusView;
        if (phase === 'ADDED' || phase === 'MODIFIED') this.note(obj, phase);
        else if (phase === 'DELETED') this.ready.delete(obj.metadata?.name ?? '');
      },
      () => {
        if (this.stopped) return;
        this.restarts++;
        void this.start().catch((err: unknown) => log(`ready watch restart failed: ${String(err)}`));
      },
    );
  }

  private note(obj: KubeObject & StapleStatusView, phase?: string): void {
    const name = obj.metadata?.name ?? '';
    const statusJson = JSON.stringify(obj.status ?? null);
    const prevJson = this.lastStatus.get(name);
    if (phase === 'MODIFIED' && prevJson !== undefined) {
      this.updates++;
      const prev = JSON.parse(prevJson) as StapleStatusView['status'] | null;
      const key = statusChanges(prev ?? undefined, obj.status).join(', ');
      this.changes.set(key, (this.changes.get(key) ?? 0) + 1);
    }
    this.lastStatus.set(name, statusJson);
    const staple = obj.status?.staple as { sha256?: string } | undefined;
    const sha = staple?.sha256 ?? '';
    this.stapleSha.set(name, sha);
    if (this.baseline && sha && sha !== this.baseline.get(name)) {
      this.refreshed.add(name);
      if (this.allRefreshedAt === undefined && this.refreshed.size >= this.total) this.allRefreshedAt = Date.now();
    }
    if (isReady(obj)) this.ready.add(name);
    else this.ready.delete(name);
    if (this.firstReadyAt === undefined && this.ready.size > 0) this.firstReadyAt = Date.now();
    if (this.allReadyAt === undefined && this.ready.size >= this.total) this.allReadyAt = Date.now();
  }

  /** Starts counting staples whose published response changes from now on. */
  markBaseline(): void {
    this.baseline = new Map(this.stapleSha);
    this.refreshed = new Set();
    this.allRefreshedAt = undefined;
  }

  refreshedCount(): number {
    return this.refreshed.size;
  }

  /** The status updates seen since the last call, and what they changed. */
  takeChanges(): { updates: number; changes: Map<string, number> } {
    const out = { updates: this.updates, changes: new Map(this.changes) };
    this.updates = 0;
    this.changes.clear();
    return out;
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }
}

interface OperatorMetricsView {
  fetchOk: number;
  fetchAll: number;
  secretWrites: number;
  reconciles: number;
  reconcileErrors: number;
  queueDepth: number;
  /** V8 heap in use (prom-client's default metric): what the caches hold, apart from garbage not yet collected */
  heapUsed: number;
  /** V8 heap the process holds (used or not), and memory outside it that JavaScript objects own (buffers) */
  heapTotal: number;
  external: number;
}

function operatorMetrics(text: string): OperatorMetricsView {
  return {
    fetchOk: sumOf(text, 'ocsp_operator_staple_fetch_duration_seconds_count', { result: 'ok' }),
    fetchAll: sumOf(text, 'ocsp_operator_staple_fetch_duration_seconds_count'),
    secretWrites: sumOf(text, 'ocsp_operator_staple_secret_writes_total'),
    reconciles: sumOf(text, 'ocsp_operator_reconcile_total'),
    reconcileErrors: sumOf(text, 'ocsp_operator_reconcile_total', { result: 'error' }),
    queueDepth: sumOf(text, 'ocsp_operator_workqueue_depth'),
    heapUsed: sumOf(text, 'nodejs_heap_size_used_bytes'),
    heapTotal: sumOf(text, 'nodejs_heap_size_total_bytes'),
    external: sumOf(text, 'nodejs_external_memory_bytes'),
  };
}

const heapText = (m: OperatorMetricsView) => `heap used ${mib(m.heapUsed)} of ${mib(m.heapTotal)} MiB, external ${mib(m.external)} MiB`;

/** Series of the operator's /metrics that carry namespace="NS": one staple's or pool's own series. */
function perObjectSeries(text: string, namespace: string): number {
  const label = `namespace="${namespace}"`;
  return text.split('\n').filter((l) => !l.startsWith('#') && l.includes(label)).length;
}

interface OperatorRun {
  round: number;
  fillS: number;
  syncedS: number | undefined;
  firstReadyS: number | undefined;
  hwmAfterFillBytes: number;
  /** the operator's series labelled with this round's namespace, after the fill (the per-object metrics) */
  objectSeries: number;
  hwmBytes: number;
  maxRssBytes: number;
  cpuSeconds: number;
  phases: Phase[];
  logCounts: Map<string, number>;
  stapledSecrets: number;
  /** the apiserver write peer, run just before this round's operator */
  peer: WritePeerResult & { serverCpuSeconds?: number };
}

async function createObjects(client: KubeClient, ns: string, pki: Pki): Promise<void> {
  await retrying(`create namespace ${ns}`, () =>
    client.create(NamespaceType, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }),
  );
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const started = Date.now();
  const every = Math.max(1, Math.floor(N / 5));
  await forEachLimited(
    N,
    CREATE_CONCURRENCY,
    async (i) => {
      const leaf = pki.leaves[i];
      if (!leaf) throw new Error(`no leaf ${i}`);
      const secret: Secret = {
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'kubernetes.io/tls',
        metadata: { name: certName(i), namespace: ns },
        data: { 'tls.crt': b64(leaf.chainPem), 'tls.key': b64(leaf.keyPem) },
      };
      await retrying(`create Secret ${certName(i)}`, () => client.create(SecretType, secret));
      const staple = {
        apiVersion: `${OcspStapleType.group}/${OcspStapleType.version}`,
        kind: OcspStapleType.kind,
        metadata: { name: certName(i), namespace: ns },
        spec: { secretName: certName(i) },
      };
      await retrying(`create OcspStaple ${certName(i)}`, () => client.create(OcspStapleType, staple as KubeObject));
    },
    (done) => {
      if (done % every === 0 || done === N)
        log(`  created ${done}/${N} Secrets + OcspStaples in ${ns} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
    },
  );
}

/** Counts the operator's log lines by msg (the log is JSON lines from pino). */
async function logCounts(path: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const text = await readFile(path, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) {
      if (line.trim()) out.set('(not JSON)', (out.get('(not JSON)') ?? 0) + 1);
      continue;
    }
    try {
      const rec = JSON.parse(line) as { msg?: string; level?: string };
      const key = `${rec.level ?? '?'}: ${rec.msg ?? '?'}`;
      out.set(key, (out.get(key) ?? 0) + 1);
    } catch {
      out.set('(not JSON)', (out.get('(not JSON)') ?? 0) + 1);
    }
  }
  return out;
}

/** One measured stretch of an operator run: the fill, the refresh wave, an idle wait. */
interface Phase {
  name: string;
  seconds: number;
  /** from the end of the phase (all Ready / all refreshed) until the work queue was empty and writes stopped */
  settleS: number;
  writes: WriteCounts;
  operatorWrites: number;
  otherWrites: number;
  fetchOk: number;
  fetchAll: number;
  reconciles: number;
  reconcileErrors: number;
  stapleUpdates: number;
  statusChanges: Map<string, number>;
  /** the operator's CPU (user+sys, from /proc) from the phase's start until its writes stopped */
  cpuSeconds: number;
  /** the operator's writes the apiserver answered 409 Conflict */
  conflicts: number;
  /** kube-apiserver + etcd CPU over the same stretch (watch fan-out and reads included) */
  serverCpuSeconds: number;
}

/**
 * This benchmark's own writes during a phase: the spec patches that start a refresh wave. (The
 * operator patches an OcspStaple only to clear a `kubectl ocsp refresh` request, never set here.)
 */
const isBenchWrite = (key: string) => key.startsWith('ocspstaples PATCH');

async function runOperator(
  nodeBin: string,
  round: number,
  cp: ControlPlane,
  client: KubeClient,
  pki: Pki,
  work: string,
  cleanups: Array<() => Promise<void>>,
): Promise<OperatorRun> {
  const kc = loadKubeConfig(cp.kubeconfigPath);
  const ns = `bench-staples-r${round}`;
  const tag = `[operator r${round}]`;
  log(`${tag} creating ${N} certificate Secrets and ${N} OcspStaples (${CREATE_CONCURRENCY} in flight)`);
  await createObjects(client, ns, pki);

  // The apiserver's pace, measured now, with this round's objects in it and nothing else running.
  const peerNs = `bench-peer-r${round}`;
  await retrying(`create namespace ${peerNs}`, () =>
    client.create(NamespaceType, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: peerNs } }),
  );
  const cpCpu = controlPlaneCpu(cp, log);
  const peerCp0 = cpCpu();
  const peer: OperatorRun['peer'] = await secretWritePeer(kc, {
    namespace: peerNs,
    count: PEER_WRITES,
    concurrency: PEER_CONCURRENCY,
    bytes: PEER_BYTES,
  });
  peer.serverCpuSeconds = cpCpu() - peerCp0;
  log(
    `[write peer r${round}] ${peer.writes} Secrets of ${PEER_BYTES} B, ${PEER_CONCURRENCY} at a time, in ${peer.seconds.toFixed(1)}s: ${peer.writesPerSecond.toFixed(0)} writes/s (failures ${peer.failures}, client CPU ${peer.clientCpuSeconds.toFixed(1)}s)`,
  );

  const tracker = new ReadyTracker(client, ns, N);
  await tracker.start();
  cleanups.push(async () => tracker.stop());

  const healthPort = await freePort();
  const metricsUrl = `http://127.0.0.1:${healthPort}/metrics`;
  const logPath = join(work, `operator-r${round}.log`);
  const logStream = createWriteStream(logPath);
  const profDir = join(work, `cpu-prof-r${round}`);
  const nodeArgs = [
    ...(flags['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []),
    ...(flags['heap-snapshot'] ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${work}`] : []),
    ...(flags['max-old-space'] ? [`--max-old-space-size=${flags['max-old-space']}`] : []),
    ...(flags['max-semi-space'] ? [`--max-semi-space-size=${flags['max-semi-space']}`] : []),
  ];
  const args = [
    ...nodeArgs,
    CLI,
    'controller',
    '--kubeconfig',
    cp.kubeconfigPath,
    '--health-addr',
    `127.0.0.1:${healthPort}`,
    '--namespaces',
    ns,
    '--workers',
    String(WORKERS),
  ];
  if (RESYNC_MS !== undefined) args.push('--resync', String(RESYNC_MS));

  let phaseStart = {
    writes: writeCounts(await apiserverText(kc, '/metrics')),
    metrics: undefined as OperatorMetricsView | undefined,
    at: Date.now(),
    cpu: 0,
    cpCpu: cpCpu(),
  };
  const started = Date.now();
  const proc = spawn(nodeBin, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' },
  });
  const pid = proc.pid;
  if (pid === undefined) throw new Error('could not start the operator');
  let syncedAt: number | undefined;
  let tail = '';
  proc.stdout?.on('data', (d: Buffer) => {
    logStream.write(d);
    if (syncedAt === undefined) {
      tail = (tail + d.toString()).slice(-4096);
      if (tail.includes('"caches synced"')) syncedAt = Date.now();
    }
  });
  proc.stderr?.on('data', (d: Buffer) => logStream.write(d));
  const stopOperator = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  };
  cleanups.push(stopOperator);
  log(`${tag} started pid ${pid}: node ${args.join(' ').replace(CLI, 'dist/src/cli.js').replace(cp.kubeconfigPath, 'K')} (log ${logPath})`);

  let maxRss = 0;
  const sampleProc = () => {
    const s = procSample(pid);
    if (s) maxRss = Math.max(maxRss, s.rssBytes);
    return s;
  };
  let metricsView: OperatorMetricsView | undefined;

  /** Waits for `done()`, with a progress line every 5 s; returns when it became true. */
  const waitFor = async (what: string, count: () => number, doneAt: () => number | undefined, since: number): Promise<number> => {
    let lastProgress = Date.now();
    let lastCount = count();
    for (;;) {
      const at = doneAt();
      if (at !== undefined) return at;
      if (proc.exitCode !== null) throw new Error(`the operator exited with ${proc.exitCode}; see ${logPath}`);
      if (Date.now() - since > FILL_TIMEOUT_MS)
        throw new Error(`only ${count()}/${N} OcspStaples ${what} after ${FILL_TIMEOUT_MS / 1000}s; see ${logPath}`);
      await sleep(1000);
      const s = sampleProc();
      if (Date.now() - lastProgress >= 5000) {
        metricsView = await httpText(metricsUrl).then(operatorMetrics, () => metricsView);
        const m = metricsView;
        const c = count();
        log(
          `${tag} ${((Date.now() - since) / 1000).toFixed(0).padStart(4)}s ${what} ${String(c).padStart(String(N).length)}/${N} ` +
            `(${((c - lastCount) / ((Date.now() - lastProgress) / 1000)).toFixed(0)}/s) ` +
            (m
              ? `fetches ok ${m.fetchOk}/${m.fetchAll} secret writes ${m.secretWrites} reconciles ${m.reconciles} (errors ${m.reconcileErrors}) queue ${m.queueDepth} `
              : '') +
            `rss ${s ? mib(s.rssBytes) : '?'} MiB${m ? ` (${heapText(m)})` : ''} cpu ${s ? s.cpuSeconds.toFixed(0) : '?'}s`,
        );
        lastProgress = Date.now();
        lastCount = c;
      }
    }
  };

  /**
   * Ends a phase once the operator's writes have stopped (they include what lands after the last
   * staple turned Ready: a second reconcile, late Events): counts the phase's writes and fetches.
   */
  const endPhase = async (name: string, seconds: number, quietMs = 6_000): Promise<Phase> => {
    let after = writeCounts(await apiserverText(kc, '/metrics'));
    let stableSince = Date.now();
    const since = Date.now();
    const quietDeadline = Date.now() + Math.max(120_000, N * 60);
    let lastLog = Date.now();
    let metrics = operatorMetrics(await httpText(metricsUrl));
    // Quiet: the operator's work queue is empty and none of its writes landed for quietMs.
    while ((metrics.queueDepth > 0 || Date.now() - stableSince < quietMs) && Date.now() < quietDeadline) {
      await sleep(2_000);
      const s = sampleProc();
      const now = writeCounts(await apiserverText(kc, '/metrics'));
      const moved = totalWrites(diffCounts(after, now), (r) => OPERATOR_RESOURCES.has(r));
      if (moved > 0) stableSince = Date.now();
      after = now;
      metrics = operatorMetrics(await httpText(metricsUrl));
      if (Date.now() - lastLog >= 10_000) {
        log(
          `${tag} ${((Date.now() - since) / 1000).toFixed(0).padStart(4)}s after the ${name}: queue ${metrics.queueDepth}, reconciles ${metrics.reconciles}, ` +
            `operator writes in the last 2 s ${moved}, rss ${s ? mib(s.rssBytes) : '?'} MiB (${heapText(metrics)})`,
        );
        lastLog = Date.now();
      }
    }
    if (Date.now() >= quietDeadline)
      log(`${tag} the operator was still busy ${((Date.now() - since) / 1000).toFixed(0)}s after the ${name}; counting up to now`);
    const settleS = (Date.now() - since) / 1000;
    const m0 = phaseStart.metrics ?? {
      fetchOk: 0,
      fetchAll: 0,
      secretWrites: 0,
      reconciles: 0,
      reconcileErrors: 0,
      queueDepth: 0,
      heapUsed: 0,
      heapTotal: 0,
      external: 0,
    };
    const writes = diffCounts(phaseStart.writes, after);
    const changes = tracker.takeChanges();
    const ours = (k: string) => OPERATOR_RESOURCES.has(k.split(' ')[0] ?? '') && !isBenchWrite(k);
    let operatorWrites = 0;
    let otherWrites = 0;
    let conflicts = 0;
    for (const [k, v] of writes) {
      if (ours(k)) operatorWrites += v;
      else if (!isBenchWrite(k)) otherWrites += v;
      if (ours(k) && k.endsWith(' 409')) conflicts += v;
    }
    const cpuNow = sampleProc()?.cpuSeconds ?? phaseStart.cpu;
    const cpCpuNow = cpCpu();
    const phase: Phase = {
      name,
      seconds,
      settleS,
      writes,
      operatorWrites,
      otherWrites,
      fetchOk: metrics.fetchOk - m0.fetchOk,
      fetchAll: metrics.fetchAll - m0.fetchAll,
      reconciles: metrics.reconciles - m0.reconciles,
      reconcileErrors: metrics.reconcileErrors - m0.reconcileErrors,
      stapleUpdates: changes.updates,
      statusChanges: changes.changes,
      cpuSeconds: cpuNow - phaseStart.cpu,
      serverCpuSeconds: cpCpuNow - phaseStart.cpCpu,
      conflicts,
    };
    phaseStart = { writes: after, metrics, at: Date.now(), cpu: cpuNow, cpCpu: cpCpuNow };
    return phase;
  };

  // Phase 1: the fill.
  const allReadyAt = await waitFor(
    'Ready',
    () => tracker.count,
    () => tracker.allReadyAt,
    started,
  );
  const fillS = (allReadyAt - started) / 1000;
  log(`${tag} all ${N} OcspStaples Ready=True after ${fillS.toFixed(1)}s; waiting for the operator's writes to stop`);
  const phases: Phase[] = [await endPhase('fill', fillS)];
  const hwmAfterFill = procSample(pid)?.hwmBytes ?? 0;
  if (flags['heap-snapshot']) log(`${tag} heap snapshot after the fill: ${await heapSnapshot(proc, work)}`);
  const objectSeries = perObjectSeries(await httpText(metricsUrl), ns);

  // Phase 2: one refresh of every staple. The refresh is planned half the response's validity
  // away (30 min with -nmin 60); a spec change (a new generation) makes the operator refresh at
  // once through the same path, so the benchmark bumps spec.clockSkew by a second. (Status is the
  // operator's: a status patch is not a change it reacts to.) Those patches are this benchmark's
  // writes and are not counted.
  if (round <= REFRESH_ROUNDS) {
    tracker.markBaseline();
    const waveStart = Date.now();
    await forEachLimited(N, CREATE_CONCURRENCY, (i) =>
      retrying(`patch ${certName(i)} spec`, () =>
        client.mergePatch(OcspStapleType, { namespace: ns, name: certName(i) }, { spec: { clockSkew: '301s' } }),
      ).then(() => undefined),
    );
    log(`${tag} refresh wave: spec of all ${N} staples changed (${((Date.now() - waveStart) / 1000).toFixed(1)}s)`);
    const refreshedAt = await waitFor(
      'refreshed',
      () => tracker.refreshedCount(),
      () => tracker.allRefreshedAt,
      waveStart,
    );
    const waveS = (refreshedAt - waveStart) / 1000;
    log(`${tag} all ${N} staples carry a new response after ${waveS.toFixed(1)}s; waiting for the operator's writes to stop`);
    phases.push(await endPhase('refresh', waveS));
  }

  // Phase 3: nothing to do (with --resync-ms shorter than --idle-s, a relist of every object).
  if (IDLE_S > 0) {
    log(`${tag} idle for ${IDLE_S}s${RESYNC_MS !== undefined ? ` (operator --resync ${RESYNC_MS})` : ''}`);
    const idleStart = Date.now();
    while (Date.now() - idleStart < IDLE_S * 1000) {
      await sleep(1000);
      sampleProc();
    }
    phases.push(await endPhase('idle', IDLE_S, 0));
  }

  const final = procSample(pid);
  tracker.stop();
  await stopOperator();
  logStream.end();
  await new Promise<void>((r) => logStream.once('close', () => r()));

  // Check the result once, with the operator stopped: every staple Secret carries a staple.
  const stapleSecrets = await client.list<Secret>(SecretType, { namespace: ns, labelSelector: 'ocsp-operator.dev/staple' });
  const stapledSecrets = stapleSecrets.items.filter((s) => (s.data?.['tls.ocsp-staple'] ?? '').length > 0).length;

  return {
    round,
    fillS,
    syncedS: syncedAt === undefined ? undefined : (syncedAt - started) / 1000,
    firstReadyS: tracker.firstReadyAt === undefined ? undefined : (tracker.firstReadyAt - started) / 1000,
    hwmAfterFillBytes: hwmAfterFill,
    objectSeries,
    hwmBytes: final?.hwmBytes ?? 0,
    maxRssBytes: Math.max(maxRss, final?.rssBytes ?? 0),
    cpuSeconds: final?.cpuSeconds ?? 0,
    phases,
    logCounts: await logCounts(logPath),
    stapledSecrets,
    peer,
  };
}

/** Signals the operator (run with --heapsnapshot-signal=SIGUSR2) and waits for its snapshot file to be complete. */
async function heapSnapshot(proc: ChildProcess, dir: string): Promise<string> {
  const snapshots = async () => (await readdir(dir)).filter((f) => f.endsWith('.heapsnapshot'));
  const before = new Set(await snapshots());
  proc.kill('SIGUSR2');
  let lastSize = -1;
  for (let i = 0; i < 600; i++) {
    await sleep(1000);
    const file = (await snapshots()).find((f) => !before.has(f));
    if (!file) continue;
    const size = (await stat(join(dir, file))).size;
    // The operator writes it synchronously, paused meanwhile: a size unchanged for a second is all of it.
    if (size > 0 && size === lastSize) return join(dir, file);
    lastSize = size;
  }
  throw new Error(`no complete heap snapshot in ${dir} after 600 s`);
}

// ---------------------------------------------------------------- the peer: openssl ocsp in a shell

interface PeerRun {
  name: string;
  round: number;
  seconds: number;
  failures: number;
  responses: number;
  childCpuSeconds: number | undefined;
}

const LOOP_SCRIPT = `#!/bin/bash
# What a cron job does today: one openssl process per certificate, one after another.
cd "$1" || exit 1
url="$2"; n="$3"; fail=0
for ((i = 0; i < n; i++)); do
  openssl ocsp -issuer ca.pem -cert certs/leaf-$i.pem -url "$url" -respout out/$i.der -noverify >/dev/null 2>&1 || fail=$((fail + 1))
done
echo "failures $fail"
times
`;

const XARGS_SCRIPT = `#!/bin/bash
# The same, two at a time (xargs -P 2, one per core).
cd "$1" || exit 1
url="$2"; n="$3"
seq 0 $((n - 1)) | xargs -P 2 -I{} sh -c 'openssl ocsp -issuer ca.pem -cert certs/leaf-{}.pem -url "$0" -respout out/{}.der -noverify >/dev/null 2>&1' "$url"
echo "failures $?"
times
`;

/** bash's `times`: the second line is the CPU of the shell's children (user, then system). */
function childCpu(out: string): number | undefined {
  const lines = out.trim().split('\n');
  const m = /(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/.exec(lines[lines.length - 1] ?? '');
  if (!m) return undefined;
  return Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]);
}

async function runPeer(name: string, script: string, round: number, pki: Pki, cleanups: Array<() => Promise<void>>): Promise<PeerRun> {
  const outDir = join(pki.dir, 'out');
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir);
  const scriptPath = join(pki.dir, `${name.replace(/\W+/g, '-')}.sh`);
  await writeFile(scriptPath, script, { mode: 0o755 });
  log(`[${name} r${round}] ${N} fetches: ${scriptPath}`);
  const started = Date.now();
  const proc = spawn('bash', [scriptPath, pki.dir, pki.url, String(N)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stopPeer = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
  };
  cleanups.push(stopPeer);
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  let lastCount = 0;
  let lastAt = started;
  for (;;) {
    const done = await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)]);
    if (done) break;
    const count = (await readdir(outDir)).length;
    log(
      `[${name} r${round}] ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s ${count}/${N} responses (${((count - lastCount) / ((Date.now() - lastAt) / 1000)).toFixed(0)}/s)`,
    );
    lastCount = count;
    lastAt = Date.now();
  }
  const seconds = (Date.now() - started) / 1000;
  const code = await exited;
  if (code !== 0) throw new Error(`${name} exited with ${code}: ${out.slice(-500)}`);
  let responses = 0;
  for (const f of await readdir(outDir)) {
    const st = await stat(join(outDir, f));
    if (st.size > 0) responses++;
  }
  const failures = Number(/failures (\d+)/.exec(out)?.[1] ?? NaN);
  log(
    `[${name} r${round}] ${responses}/${N} responses written in ${seconds.toFixed(1)}s (${(N / seconds).toFixed(0)}/s; failures ${failures})`,
  );
  return { name, round, seconds, failures, responses, childCpuSeconds: childCpu(out) };
}

// ---------------------------------------------------------------- report

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? NaN) : ((s[m - 1] ?? NaN) + (s[m] ?? NaN)) / 2;
};

function report(ops: OperatorRun[], peers: PeerRun[]): void {
  console.log(
    `\n===== ${N} OcspStaples, operator --workers ${WORKERS}, openssl ocsp -multi 2 -nmin ${NMIN}, ${ROUNDS} round(s) interleaved =====`,
  );
  for (const o of ops) {
    console.log(`\noperator round ${o.round}:`);
    console.log(
      `  fill time            ${o.fillS.toFixed(1)} s  (${(N / o.fillS).toFixed(0)} staples/s; caches synced at ${o.syncedS?.toFixed(1) ?? '?'} s, first Ready at ${o.firstReadyS?.toFixed(1) ?? '?'} s)`,
    );
    console.log(`  per-object series    ${o.objectSeries} (${(o.objectSeries / N).toFixed(1)} a staple)`);
    console.log(
      `  peak RSS             VmHWM ${mib(o.hwmAfterFillBytes)} MiB after the fill, ${mib(o.hwmBytes)} MiB at the end (max sampled VmRSS ${mib(o.maxRssBytes)} MiB)`,
    );
    console.log(`  operator CPU         ${o.cpuSeconds.toFixed(1)} s user+sys over the whole run`);
    console.log(`  staple Secrets with tls.ocsp-staple at the end: ${o.stapledSecrets}/${N}`);
    for (const p of o.phases) {
      console.log(
        `  -- ${p.name}: ${p.seconds.toFixed(1)} s${p.name === 'idle' ? '' : ` (${(N / p.seconds).toFixed(0)} staples/s), then ${p.settleS.toFixed(0)} s until the work queue was empty and writes stopped`}`,
      );
      console.log(
        `     operator CPU       ${p.cpuSeconds.toFixed(1)} s = ${((p.cpuSeconds * 1000) / N).toFixed(1)} ms per staple; status 409 conflicts ${p.conflicts}`,
      );
      console.log(
        `     apiserver+etcd CPU ${p.serverCpuSeconds.toFixed(1)} s = ${((p.serverCpuSeconds * 1000) / N).toFixed(1)} ms per staple, ${p.operatorWrites ? ((p.serverCpuSeconds * 1000) / p.operatorWrites).toFixed(1) : '?'} ms per operator write`,
      );
      console.log(
        `     OCSP fetches       ${p.fetchAll} (ok ${p.fetchOk}) = ${(p.fetchAll / N).toFixed(2)} per staple; reconciles ${p.reconciles} (errors ${p.reconcileErrors}) = ${(p.reconciles / N).toFixed(2)} per staple`,
      );
      console.log(
        `     apiserver writes   ${p.operatorWrites} by the operator = ${(p.operatorWrites / N).toFixed(2)} per staple` +
          `${p.fetchOk ? `, ${(p.operatorWrites / p.fetchOk).toFixed(2)} per successful fetch` : ''} (apiserver's own: ${p.otherWrites})`,
      );
      for (const [k, v] of [...p.writes].sort((a, b) => b[1] - a[1])) {
        const note = isBenchWrite(k)
          ? '  (this benchmark: starts the wave, not counted)'
          : OPERATOR_RESOURCES.has(k.split(' ')[0] ?? '')
            ? ''
            : '  (apiserver itself)';
        console.log(`        ${k.padEnd(34)} ${String(v).padStart(8)}  ${(v / N).toFixed(2)}/staple${note}`);
      }
      console.log(`     OcspStaple updates seen by a watch: ${p.stapleUpdates}; status fields each one changed:`);
      for (const [k, v] of [...p.statusChanges].sort((a, b) => b[1] - a[1])) console.log(`        ${String(v).padStart(8)}  ${k}`);
    }
    console.log(`  operator log lines (level: msg)`);
    for (const [k, v] of [...o.logCounts].sort((a, b) => b[1] - a[1]).slice(0, 12))
      console.log(`        ${k.padEnd(48)} ${String(v).padStart(8)}`);
  }
  console.log(
    `\n${'side'.padEnd(38)} ${Array.from({ length: ROUNDS }, (_, i) => `round ${i + 1}`.padStart(9)).join(' ')} ${'median'.padStart(9)}  per second  CPU s`,
  );
  const row = (name: string, xs: number[], cpu: Array<number | undefined>) => {
    const m = median(xs);
    const cpuText = cpu.map((c) => (c === undefined ? '?' : c.toFixed(0))).join('/');
    const cells = Array.from({ length: ROUNDS }, (_, i) => (xs[i] === undefined ? '-' : `${(xs[i] ?? 0).toFixed(1)}s`).padStart(9));
    console.log(`${name.padEnd(38)} ${cells.join(' ')} ${`${m.toFixed(1)}s`.padStart(9)}  ${(N / m).toFixed(0).padStart(10)}  ${cpuText}`);
  };
  row(
    'operator: fill (all Ready=True)',
    ops.map((o) => o.fillS),
    ops.map((o) => o.cpuSeconds),
  ); // CPU: the whole run, refresh wave included
  const waves = ops.map((o) => o.phases.find((p) => p.name === 'refresh')?.seconds).filter((x): x is number => x !== undefined);
  if (waves.length) row('operator: refresh wave (all new)', waves, []);
  const byName = new Map<string, PeerRun[]>();
  for (const p of peers) byName.set(p.name, [...(byName.get(p.name) ?? []), p]);
  for (const [name, rs] of byName)
    row(
      name,
      rs.map((r) => r.seconds),
      rs.map((r) => r.childCpuSeconds),
    );
  const opMedian = median(ops.map((o) => o.fillS));
  for (const [name, rs] of byName) {
    const paired = ops.map((o) => {
      const p = rs.find((r) => r.round === o.round);
      return p ? (o.fillS / p.seconds).toFixed(2) : '?';
    });
    console.log(
      `time ratio operator fill ÷ ${name}: ${(opMedian / median(rs.map((r) => r.seconds))).toFixed(2)} (medians; per round ${paired.join(', ')})`,
    );
  }
  // Against the apiserver write peer of the same round: the operator's write rate while filling.
  console.log(
    `\napiserver write peer (keep-alive, ${PEER_CONCURRENCY} in flight, ${PEER_BYTES} B Secrets): ` +
      ops
        .map(
          (o) =>
            `${o.peer.writesPerSecond.toFixed(0)} writes/s, apiserver+etcd ${o.peer.serverCpuSeconds === undefined ? '?' : ((o.peer.serverCpuSeconds * 1000) / o.peer.writes).toFixed(1)} ms CPU per write`,
        )
        .join(', '),
  );
  for (const name of ['fill', 'refresh']) {
    const cells = ops.flatMap((o) => {
      const p = o.phases.find((x) => x.name === name);
      if (!p) return [];
      const rate = N / p.seconds;
      const writesPerS = p.operatorWrites / p.seconds;
      return [
        `r${o.round}: ${rate.toFixed(0)} staples/s, ${writesPerS.toFixed(0)} writes/s = ${(writesPerS / o.peer.writesPerSecond).toFixed(2)}x the peer` +
          `; ${((p.cpuSeconds * 1000) / N).toFixed(1)} ms CPU/staple (apiserver+etcd ${((p.serverCpuSeconds * 1000) / N).toFixed(1)}), ${(p.operatorWrites / N).toFixed(2)} writes/staple, ${p.conflicts} x 409`,
      ];
    });
    if (cells.length) console.log(`operator ${name.padEnd(7)} ${cells.join(' | ')}`);
  }
  console.log(
    `peak operator RSS (VmHWM after fill / at end): ${ops.map((o) => `${mib(o.hwmAfterFillBytes)}/${mib(o.hwmBytes)} MiB`).join(', ')}`,
  );
  for (const name of ['fill', 'refresh', 'idle']) {
    const ps = ops.map((o) => o.phases.find((p) => p.name === name)).filter((p): p is Phase => p !== undefined);
    if (!ps.length) continue;
    console.log(
      `apiserver writes by the operator per staple, ${name}: ${ps.map((p) => (p.operatorWrites / N).toFixed(2)).join(', ')}` +
        (name === 'idle'
          ? ''
          : `; per successful fetch: ${ps.map((p) => (p.fetchOk ? (p.operatorWrites / p.fetchOk).toFixed(2) : '?')).join(', ')}`),
    );
  }
  console.log(
    'note: the operator validates every response strictly (CertID, signature, times) and writes the staple Secret and status to Kubernetes;',
  );
  console.log(
    '      the openssl loops pass -noverify and only write a file. Everything shares the same 2 cores (apiserver, etcd, responder, this process).',
  );
}

// ---------------------------------------------------------------- main

/** --node: the image's Node (fetched once into the cache), this process's, or a given binary. */
async function operatorNode(which: string): Promise<string> {
  if (which === 'host') return process.execPath;
  if (which === 'image') return join(await runBuildScript('fetch-node.sh'), 'node');
  return which;
}

async function main(): Promise<void> {
  const cleanups: Array<() => Promise<void>> = [];
  // One cleanup, whoever asks first (a signal, or main's finally); both wait for it to finish.
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      for (const c of cleanups.splice(0).reverse()) {
        try {
          await c();
        } catch (err) {
          console.error(`cleanup: ${String(err)}`);
        }
      }
    })());
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    console.error(`${sig}: stopping everything this benchmark started`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const work = await mkdtemp(join(tmpdir(), 'ocsp-bench-staples-'));
  let ok = false;
  // Logs stay for a look after a failure (or with --keep).
  cleanups.push(async () => (ok && !flags.keep ? rm(work, { recursive: true, force: true }) : log(`kept ${work}`)));
  try {
    log(`staple benchmark: N=${N}, operator --workers ${WORKERS}, ${ROUNDS} round(s), responder -nmin ${NMIN}; work dir ${work}`);
    const nodeBin = await operatorNode(flags.node);
    log(`the operator runs under ${nodeBin} (${execFileSync(nodeBin, ['--version'], { encoding: 'utf8' }).trim()})`);
    const cp = await startControlPlane({ workDir: join(work, 'control-plane'), log: (m) => log(`control plane: ${m}`) });
    cleanups.push(() => cp.stop());
    const kc = loadKubeConfig(cp.kubeconfigPath);
    await installCrds(kc, (m) => log(m));
    const client = new KubeClient(kc, { userAgent: 'ocsp-operator-bench' });

    const pkiDir = join(work, 'pki');
    await mkdir(pkiDir);
    const pki = await makePki(pkiDir);
    const responder = await startResponder(pki);
    cleanups.push(() => responder.stop());
    log(`openssl ocsp responder on ${pki.url} (pid ${responder.proc.pid}, -multi 2, -nmin ${NMIN}); every leaf's AIA points there`);

    const ops: OperatorRun[] = [];
    const peers: PeerRun[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      ops.push(await runOperator(nodeBin, round, cp, client, pki, work, cleanups));
      if (flags['no-openssl']) continue;
      peers.push(await runPeer('openssl ocsp loop (bash, sequential)', LOOP_SCRIPT, round, pki, cleanups));
      if (!flags['no-xargs']) peers.push(await runPeer('openssl ocsp, xargs -P 2', XARGS_SCRIPT, round, pki, cleanups));
    }
    report(ops, peers);
    ok = true;
  } finally {
    await cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
