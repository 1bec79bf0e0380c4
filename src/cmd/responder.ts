// `ocsp-operator responder`: serves pre-signed OCSP responses from the store over HTTP. It never
// signs. In an embedded pool it tails the log the signer writes beside it; at scale it reads a
// Redis replica and leaves rotation (readiness) when the replica lags.
//
// With more than one worker (by default, one per CPU of the pod's limit) this process becomes the
// pod's primary (src/responder/supervisor.ts) and the cluster module runs this same command line
// again in each worker, which then serves on the shared port with a store reader of its own.
import cluster from 'node:cluster';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { X509Certificate } from '@peculiar/x509';
import type { Logger } from 'pino';
import { parseDuration } from '../api/duration.js';
import { parsePemChain } from '../ocsp/index.js';
import { createLogger } from '../runtime/logger.js';
import { openStore, redisOptionsFromUrl, redisPasswordFromEnv, type StoreSpec } from '../store/index.js';
import { DEFAULT_LAG_POLL_MS, LAG_POLICIES, type LagPolicy } from '../responder/config.js';
import { workersForCpuLimit } from '../responder/cpu-limit.js';
import { podName, startReportLoop, type ReportLoop } from '../report/loop.js';
import type { Readiness } from '../responder/readiness.js';
import { parseHostPort, startMetricsServer, type MetricsServer } from '../responder/metrics-server.js';
import { startResponder } from '../responder/server.js';
import { Supervisor, WORKER_SLOT_ENV } from '../responder/supervisor.js';
import { WorkerLink } from '../responder/worker-link.js';
import { helpRequested, positiveInt } from './flags.js';

export const responderUsage = `  responder    serve pre-signed OCSP responses (GET and POST, RFC 5019 headers)
               --ca-cert PATH               an issuer whose responses are served (repeatable)
               store, one of:
               --store-dir DIR              follow the embedded store a signer writes (DIR/responses.log)
               --redis-url redis://HOST:PORT[/DB]   the replica to read
                 --redis-primary-url URL    the primary, to measure bytes behind (optional)
               --lag-policy ServeWhatItHas|Unauthorized|TryLater   what to answer while the store lags (required)
               --max-lag DURATION           readiness fails past this store lag (default 10s)
               --listen HOST:PORT           (default 0.0.0.0:8080)
               --metrics-addr HOST:PORT     /metrics, /healthz, /readyz on a port of their own; the public
                                            port then answers /metrics with 404 (default: none, /metrics
                                            on the public port)
               --path-prefix PATH           (default /)
               --error-max-age SECONDS      max-age of unauthorized/malformedRequest (default 0: no-store)
               --workers N                  processes sharing the port, each with its own store reader
                                            (default: the CPU limit of the cgroup, else the cores)
               --max-connections N          client connections each process holds at most (default 8192);
                                            at the cap the oldest one without a request makes room
               --report-pool NAME           write this pod's readiness and lag to the pool's report
                                            ConfigMap (needs POD_NAME, POD_NAMESPACE)
               --redis-password-env NAME    the Redis password from this environment variable (when the
                                            URLs carry none)
               --cache-max-age DURATION     cap on Cache-Control max-age (default: up to nextUpdate)
               --log-level LEVEL            (default info)
`;

interface Flags {
  caFiles: string[];
  spec: StoreSpec;
  lagPolicy: LagPolicy;
  maxLagMs: number;
  host: string;
  port: number;
  pathPrefix: string;
  errorMaxAgeSeconds: number;
  cacheMaxAgeSeconds: number | undefined;
  workers: number;
  maxConnections: number;
  reportPool: string | undefined;
  metricsAddr: { host: string; port: number } | undefined;
  logLevel: string;
}

export async function run(argv: string[]): Promise<number> {
  if (helpRequested(argv, 'responder', responderUsage)) return 0;
  const flags = parseFlags(argv);
  const log = createLogger({ level: flags.logLevel, name: 'ocsp-responder' });
  // Loaded in the primary too, though it serves nothing: a bad file then fails once, here, rather
  // than in every worker on every restart.
  const issuers = await loadIssuers(flags.caFiles);
  if (cluster.isWorker) return serve(flags, issuers, log.child({ worker: Number(process.env[WORKER_SLOT_ENV]) }), new WorkerLink());
  if (flags.workers > 1) return supervise(flags, log);
  return serve(flags, issuers, log, undefined);
}

function parseFlags(argv: string[]): Flags {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      'ca-cert': { type: 'string', multiple: true },
      'store-dir': { type: 'string' },
      'redis-url': { type: 'string' },
      'redis-primary-url': { type: 'string' },
      'lag-policy': { type: 'string' },
      'max-lag': { type: 'string', default: '10s' },
      listen: { type: 'string', default: '0.0.0.0:8080' },
      'path-prefix': { type: 'string', default: '/' },
      'error-max-age': { type: 'string', default: '0' },
      workers: { type: 'string' },
      'max-connections': { type: 'string', default: '8192' },
      'log-level': { type: 'string', default: 'info' },
      'report-pool': { type: 'string' },
      'redis-password-env': { type: 'string' },
      'cache-max-age': { type: 'string' },
      'metrics-addr': { type: 'string' },
    },
    strict: true,
  });
  const lagPolicy = v['lag-policy'];
  if (!LAG_POLICIES.includes(lagPolicy as LagPolicy)) {
    throw new Error(
      `--lag-policy must be one of ${LAG_POLICIES.join(', ')}: what a lagging responder answers is a decision, not a default`,
    );
  }
  const caFiles = v['ca-cert'] ?? [];
  if (caFiles.length === 0) throw new Error('--ca-cert is required (the issuer whose responses are served)');
  if (!!v['store-dir'] === !!v['redis-url']) throw new Error('give exactly one of --store-dir or --redis-url');
  const spec: StoreSpec = v['redis-url']
    ? {
        kind: 'redis-reader',
        replica: redisOptionsFromUrl(v['redis-url'], redisPasswordFromEnv(v['redis-password-env'])),
        ...(v['redis-primary-url']
          ? { primary: redisOptionsFromUrl(v['redis-primary-url'], redisPasswordFromEnv(v['redis-password-env'])) }
          : {}),
      }
    : { kind: 'embedded-follower', path: join(v['store-dir'] ?? '', 'responses.log') };
  const i = v.listen.lastIndexOf(':');
  const port = Number(v.listen.slice(i + 1));
  if (i < 0 || !Number.isInteger(port)) throw new Error(`--listen must be HOST:PORT, got ${v.listen}`);
  const errorMaxAge = Number(v['error-max-age']);
  if (!Number.isInteger(errorMaxAge) || errorMaxAge < 0)
    throw new Error(`--error-max-age must be whole seconds, got ${v['error-max-age']}`);
  return {
    caFiles,
    spec,
    lagPolicy: lagPolicy as LagPolicy, // checked against LAG_POLICIES above
    maxLagMs: parseDuration(v['max-lag']),
    host: v.listen.slice(0, i) || '0.0.0.0',
    port,
    pathPrefix: v['path-prefix'],
    errorMaxAgeSeconds: errorMaxAge,
    cacheMaxAgeSeconds: v['cache-max-age'] === undefined ? undefined : Math.floor(parseDuration(v['cache-max-age']) / 1000),
    workers: v.workers === undefined ? workersForCpuLimit() : positiveInt(v.workers, '--workers'),
    maxConnections: positiveInt(v['max-connections'], '--max-connections'),
    reportPool: v['report-pool'],
    metricsAddr: v['metrics-addr'] === undefined ? undefined : parseHostPort(v['metrics-addr'], '--metrics-addr'),
    logLevel: v['log-level'],
  };
}

/** One responder process: on its own, or one worker of a pod (then `pod` links it to the primary). */
async function serve(flags: Flags, issuers: X509Certificate[], log: Logger, pod: WorkerLink | undefined): Promise<number> {
  const opening = performance.now();
  const store = await openStore(flags.spec);
  if (store.lastLoad) log.info({ ms: Math.round(performance.now() - opening), ...store.lastLoad }, 'response log indexed');
  const responder = await startResponder({
    store,
    issuers,
    lagPolicy: flags.lagPolicy,
    lagThresholdMs: flags.maxLagMs,
    host: flags.host,
    port: flags.port,
    pathPrefix: flags.pathPrefix,
    errorMaxAgeSeconds: flags.errorMaxAgeSeconds,
    ...(flags.cacheMaxAgeSeconds !== undefined ? { maxAgeCapSeconds: flags.cacheMaxAgeSeconds } : {}),
    maxConnections: flags.maxConnections,
    logger: log,
    publicMetrics: flags.metricsAddr === undefined,
    ...(pod ? { pod } : {}),
  });
  // A worker's pod reports through its primary, which also holds the metrics port.
  const reports = pod ? undefined : reportLoop(flags, log, () => responder.readiness());
  const metricsServer = pod
    ? undefined
    : await metricsPort(
        flags,
        log,
        () => responder.metrics.registry.metrics(),
        () => responder.readiness(),
      );
  await signalled();
  log.info('shutting down');
  reports?.stop();
  await metricsServer?.close();
  await responder.close();
  await store.close();
  // What kept a worker alive beyond its server and store is the channel to the primary.
  process.channel?.unref();
  return 0;
}

/** The pod's primary: runs the workers until told to stop. */
async function supervise(flags: Flags, log: Logger): Promise<number> {
  log.info({ workers: flags.workers, maxConnectionsPerWorker: flags.maxConnections }, 'starting responder workers');
  const supervisor = new Supervisor({ workers: flags.workers, log, lagPollMs: DEFAULT_LAG_POLL_MS });
  const reports = reportLoop(flags, log, () => supervisor.readiness());
  const metricsServer = await metricsPort(
    flags,
    log,
    () => supervisor.metricsText(),
    () => supervisor.readiness(),
  );
  await signalled();
  log.info('shutting down: stopping the workers');
  reports?.stop();
  await metricsServer?.close();
  await supervisor.stop();
  return 0;
}

/** The metrics port, when asked for (`--metrics-addr`). */
function metricsPort(
  flags: Flags,
  log: Logger,
  metrics: () => Promise<string>,
  readiness: () => Readiness,
): Promise<MetricsServer | undefined> {
  if (flags.metricsAddr === undefined) return Promise.resolve(undefined);
  return startMetricsServer({ ...flags.metricsAddr, metrics, readiness, lagThresholdMs: flags.maxLagMs, log });
}

/** The pool report, when asked for: this pod's readiness and its store lag. */
function reportLoop(flags: Flags, log: Logger, readiness: () => Readiness): ReportLoop | undefined {
  if (flags.reportPool === undefined) return undefined;
  // The report needs a number; an unknown lag keeps the last one known, and says detached.
  let lastLagMs = 0;
  return startReportLoop({
    pool: flags.reportPool,
    everyMs: 2_000,
    log,
    produce: () => {
      const r = readiness();
      lastLagMs = r.lagMs ?? lastLagMs;
      return {
        kind: 'responder',
        pod: podName(),
        time: Date.now(),
        ready: r.ready,
        lagMs: lastLagMs,
        detached: r.detached ?? r.lagMs === null,
      };
    },
  });
}

async function loadIssuers(files: string[]): Promise<X509Certificate[]> {
  const issuers = [];
  for (const f of files) {
    const [first] = parsePemChain(await readFile(f, 'utf8'));
    if (!first) throw new Error(`${f}: no certificate`);
    issuers.push(first);
  }
  return issuers;
}

function signalled(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
}
