// `ocsp-operator controller`: the manager with the staple controller, health endpoints, leader
// election, and a clean stop on SIGTERM (release the lease so a standby takes over at once).
import { readFileSync } from 'node:fs';
import { KubeClient } from './kube/client.js';
import { loadKubeConfig } from './kube/config.js';
import { systemClock } from './base/clock.js';
import { createLogger } from './runtime/logger.js';
import { Manager } from './runtime/manager.js';
import { addPoolController } from './pool/controller.js';
import { readEndpointsFile } from './probe/endpoint.js';
import { ANNOTATION_PROBE_ENDPOINTS } from './api/annotations.js';
import { declaredEndpoints } from './probe/discovery.js';
import { Prober } from './probe/prober.js';
import { OcspStapleType, type KubeObject } from './kube/types.js';
import { addAutoStapleController } from './staple/auto-staple.js';
import { addStapleController } from './staple/controller.js';

export interface ControllerFlags {
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

function parseAddr(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  const port = Number(addr.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--health-addr must be HOST:PORT, got ${JSON.stringify(addr)}`);
  return { host: addr.slice(0, i).replace(/^\[|\]$/g, '') || '0.0.0.0', port };
}

export async function runController(flags: ControllerFlags): Promise<number> {
  const log = createLogger();
  const kc = loadKubeConfig(flags.kubeconfig);
  const client = new KubeClient(kc, { userAgent: 'ocsp-operator', qps: flags.kubeApiQps, burst: flags.kubeApiBurst });
  let exitCode = 0;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((r) => (resolveDone = r));
  const manager = new Manager({
    client,
    clock: systemClock,
    log,
    healthAddress: parseAddr(flags.healthAddr),
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
  log.info({ health: manager.healthUrl(), namespaces: flags.namespaces.length ? flags.namespaces : 'all', leaderElection: flags.leaderElect, pools: flags.pools }, 'controller running');
  await done;
  await prober.stop();
  await manager.stop();
  log.info('stopped');
  return exitCode;
}
