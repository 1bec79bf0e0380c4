// `ocsp-operator controller`: the manager with the staple and pool controllers, health endpoints,
// leader election, the prober, and a clean stop on SIGTERM (release the lease so a standby takes
// over at once).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_KUBE_API_BURST, DEFAULT_KUBE_API_QPS, KubeClient } from '../kube/client.js';
import { loadClusterAccess } from '../kube/cluster-access.js';
import { systemClock } from '../base/clock.js';
import { createLogger } from '../runtime/logger.js';
import { Manager } from '../runtime/manager.js';
import { addPoolController } from '../pool/controller.js';
import { readEndpointsFile } from '../probe/endpoint.js';
import { ANNOTATION_PROBE_ENDPOINTS } from '../api/annotations.js';
import { declaredEndpoints } from '../probe/discovery.js';
import { Prober } from '../probe/prober.js';
import { OcspStapleType, type KubeObject } from '../kube/types.js';
import { addAutoStapleController } from '../staple/auto-staple.js';
import { addStapleController } from '../staple/controller.js';
import { boolFlag, helpRequested, hostPort, positiveInt } from './flags.js';

// What the chart and the Dockerfile build and name by default.
const DEFAULT_IMAGE = 'ocsp-operator:0.1.0';
// The Dockerfile's `signer` target, under its own repository (the chart's signerImage).
const DEFAULT_SIGNER_IMAGE = 'ocsp-operator-signer:0.1.0';

export const controllerUsage = `  controller   run the operator's controllers
               --kubeconfig PATH            (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)
               --health-addr HOST:PORT      /metrics, /healthz, /readyz (default 0.0.0.0:8080)
               --leader-elect               hold a Lease so only one replica reconciles
               --leader-election-namespace NS (default: the pod's namespace, else default)
               --lease-name NAME            (default ocsp-operator)
               --namespaces a,b             watch only these namespaces (default: all)
               --workers N                  concurrent reconciles (default 8)
               --resync DURATION-MS         full relist period in ms (default 600000)
               --pool-image IMAGE           image of responder pools' pods (default ${DEFAULT_IMAGE})
               --pool-signer-image IMAGE    image of PKCS#11 signer pods (default ${DEFAULT_SIGNER_IMAGE})
               --probe-endpoints-file PATH  also probe these TLS endpoints' staples (see \`probe --help\`)
               --probe-interval-ms N        (default 60000)
               --kube-api-qps N             client-side rate limit of API requests (default ${DEFAULT_KUBE_API_QPS})
               --kube-api-burst N           requests allowed back to back (default ${DEFAULT_KUBE_API_BURST})
               --pools true|false           run the OcspResponderPool controller (default true; the
                                            chart's pools.enabled=false passes false)
`;

export async function run(argv: string[]): Promise<number> {
  if (helpRequested(argv, 'controller', controllerUsage)) return 0;
  const { values } = parseArgs({
    args: argv,
    options: {
      kubeconfig: { type: 'string' },
      'health-addr': { type: 'string', default: '0.0.0.0:8080' },
      'leader-elect': { type: 'boolean', default: false },
      'leader-election-namespace': { type: 'string' },
      'lease-name': { type: 'string', default: 'ocsp-operator' },
      namespaces: { type: 'string', default: '' },
      workers: { type: 'string', default: '8' },
      resync: { type: 'string', default: '600000' },
      'lease-duration-ms': { type: 'string', default: '15000' },
      'pool-image': { type: 'string', default: DEFAULT_IMAGE },
      'pool-signer-image': { type: 'string', default: DEFAULT_SIGNER_IMAGE },
      'probe-endpoints-file': { type: 'string' },
      'probe-interval-ms': { type: 'string', default: '60000' },
      pools: { type: 'string', default: 'true' },
      'kube-api-qps': { type: 'string', default: String(DEFAULT_KUBE_API_QPS) },
      'kube-api-burst': { type: 'string', default: String(DEFAULT_KUBE_API_BURST) },
    },
    strict: true,
  });
  return runController({
    kubeconfig: values.kubeconfig,
    healthAddr: values['health-addr'],
    leaderElect: values['leader-elect'],
    leaderElectionNamespace: values['leader-election-namespace'],
    leaseName: values['lease-name'],
    namespaces: values.namespaces
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    workers: positiveInt(values.workers, '--workers'),
    resyncMs: positiveInt(values.resync, '--resync'),
    leaseDurationMs: positiveInt(values['lease-duration-ms'], '--lease-duration-ms'),
    poolImage: values['pool-image'],
    poolSignerImage: values['pool-signer-image'],
    probeEndpointsFile: values['probe-endpoints-file'],
    probeIntervalMs: positiveInt(values['probe-interval-ms'], '--probe-interval-ms'),
    pools: boolFlag(values.pools, '--pools'),
    kubeApiQps: positiveInt(values['kube-api-qps'], '--kube-api-qps'),
    kubeApiBurst: positiveInt(values['kube-api-burst'], '--kube-api-burst'),
  });
}

interface ControllerFlags {
  kubeconfig?: string;
  healthAddr: string;
  leaderElect: boolean;
  leaderElectionNamespace?: string;
  leaseName: string;
  namespaces: string[];
  workers: number;
  resyncMs: number;
  leaseDurationMs: number;
  /** Images the pools' pods run: the operator's, and the one with a PKCS#11 module. */
  poolImage: string;
  poolSignerImage: string;
  /** TLS endpoints to probe for their staple, from this process (the prober as an operator mode). */
  probeEndpointsFile?: string;
  probeIntervalMs: number;
  /**
   * Run the OcspResponderPool controller. Off (the chart's pools.enabled=false): staples only, and
   * none of the pools' rights are needed (no informers on their types start).
   */
  pools: boolean;
  /** The API client's own rate limit (client-go's QPS and Burst). */
  kubeApiQps?: number;
  kubeApiBurst?: number;
}

const SA_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

function podNamespace(): string {
  try {
    return readFileSync(SA_NAMESPACE_FILE, 'utf8').trim();
  } catch {
    return process.env.POD_NAMESPACE ?? 'default';
  }
}

async function runController(flags: ControllerFlags): Promise<number> {
  const log = createLogger();
  const client = new KubeClient(loadClusterAccess(flags.kubeconfig), {
    userAgent: 'ocsp-operator',
    qps: flags.kubeApiQps,
    burst: flags.kubeApiBurst,
  });
  let exitCode = 0;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((r) => (resolveDone = r));
  const manager = new Manager({
    client,
    clock: systemClock,
    log,
    healthAddress: hostPort(flags.healthAddr, '--health-addr'),
    namespaces: flags.namespaces,
    resyncMs: flags.resyncMs,
    identity: process.env.POD_NAME ? `${process.env.POD_NAME}_${process.pid}` : undefined,
    leaderElection: flags.leaderElect
      ? {
          namespace: flags.leaderElectionNamespace ?? podNamespace(),
          name: flags.leaseName,
          leaseDurationMs: flags.leaseDurationMs,
          renewDeadlineMs: Math.round((flags.leaseDurationMs * 2) / 3),
          retryPeriodMs: Math.max(500, Math.round(flags.leaseDurationMs / 7.5)),
        }
      : undefined,
    onLostLeadership: () => {
      log.error('lost the leader lease; exiting so a fresh process campaigns again');
      exitCode = 1;
      resolveDone();
    },
  });
  addStapleController(manager, { workers: flags.workers });
  addAutoStapleController(manager, { workers: 2 });
  if (flags.pools) addPoolController(manager, { workers: 2, images: { operator: flags.poolImage, signer: flags.poolSignerImage } });
  const onSignal = (signal: string) => {
    log.info({ signal }, 'shutting down');
    resolveDone();
  };
  // The prober runs on every replica (each one's /metrics says what the servers staple, seen from
  // where it runs): the endpoints of --probe-endpoints-file and those OcspStaples declare.
  const fixedEndpoints = flags.probeEndpointsFile ? readEndpointsFile(flags.probeEndpointsFile) : [];
  const prober = new Prober({
    endpoints: fixedEndpoints,
    clock: systemClock,
    registry: manager.metrics.registry,
    log: log.child({ component: 'prober' }),
    intervalMs: flags.probeIntervalMs,
    timeoutMs: 10_000,
  });
  const staples = manager.informer<KubeObject>(OcspStapleType);
  const declared = (o?: KubeObject) => o?.metadata?.annotations?.[ANNOTATION_PROBE_ENDPOINTS];
  staples.onChange((kind, obj, old) => {
    // Recompute only when a declaration changed: staples change far more often than that.
    if (kind === 'resync' || (kind === 'update' && declared(obj) === declared(old))) return;
    if (!declared(obj) && !declared(old)) return;
    prober.setEndpoints(declaredEndpoints(staples.list(), fixedEndpoints, log));
  });
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  await manager.start();
  prober.start();
  log.info(
    {
      health: manager.healthUrl(),
      namespaces: flags.namespaces.length ? flags.namespaces : 'all',
      leaderElection: flags.leaderElect,
      pools: flags.pools,
    },
    'controller running',
  );
  await done;
  await prober.stop();
  await manager.stop();
  log.info('stopped');
  return exitCode;
}
