// `ocsp-operator probe`: the prober as a process of its own (a Deployment next to the operator, or a
// sidecar of the TLS server), serving its metrics on /metrics with /healthz and /readyz.
//
// Discovery: the operator's own prober (`controller`) also probes the endpoints OcspStaples declare
// in `ocsp-operator.dev/probe-endpoints` (src/probe/discovery.ts); this command takes flags and a
// file (a ConfigMap mounted into the pod).
import { parseArgs } from 'node:util';
import { ScrapeRegistry } from '../runtime/scraped-gauge.js';
import { registerDefaultMetrics } from '../runtime/default-metrics.js';
import { parseDuration } from '../api/duration.js';
import { systemClock } from '../base/clock.js';
import { startHealthServer } from '../runtime/health-server.js';
import { createLogger } from '../runtime/logger.js';
import { parseEndpoint, readEndpointsFile, type Endpoint } from '../probe/endpoint.js';
import { Prober, isSuccess } from '../probe/prober.js';
import { helpRequested, hostPort } from './flags.js';

export const probeUsage = `  probe        probe TLS endpoints for their OCSP staple; metrics on /metrics
               --endpoint HOST:PORT[@SERVERNAME]  (repeatable) what to probe, with the SNI to send
               --endpoints-file PATH        YAML/JSON list: [{address, servername, issuerFile}] or "HOST:PORT@SNI"
               --interval DURATION          between probes of one endpoint (default 60s)
               --timeout DURATION           per handshake (default 10s)
               --health-addr HOST:PORT      /metrics, /healthz, /readyz (default 0.0.0.0:8081)
               --once                       probe each endpoint once, log the results, exit 0 (all good) or 1
`;

function duration(text: string, flag: string): number {
  try {
    const ms = parseDuration(text);
    if (ms <= 0) throw new Error('must be positive');
    return ms;
  } catch (e) {
    throw new Error(`${flag}: ${(e as Error).message}`);
  }
}

export async function run(argv: string[]): Promise<number> {
  if (helpRequested(argv, 'probe', probeUsage)) return 0;
  const { values } = parseArgs({
    args: argv,
    options: {
      endpoint: { type: 'string', multiple: true, default: [] },
      'endpoints-file': { type: 'string' },
      interval: { type: 'string', default: '60s' },
      timeout: { type: 'string', default: '10s' },
      'health-addr': { type: 'string', default: '0.0.0.0:8081' },
      once: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const endpoints: Endpoint[] = values.endpoint.map((e) => parseEndpoint(e));
  if (values['endpoints-file']) endpoints.push(...readEndpointsFile(values['endpoints-file']));
  if (endpoints.length === 0) throw new Error('nothing to probe: give --endpoint HOST:PORT[@SERVERNAME] or --endpoints-file');
  const log = createLogger({ name: 'ocsp-probe' });
  const registry = new ScrapeRegistry();
  const prober = new Prober({
    endpoints,
    clock: systemClock,
    registry,
    log,
    intervalMs: duration(values.interval, '--interval'),
    timeoutMs: duration(values.timeout, '--timeout'),
  });
  if (values.once) {
    const results = await prober.probeAll();
    return results.every(isSuccess) ? 0 : 1;
  }
  registerDefaultMetrics(registry);
  const addr = hostPort(values['health-addr'], '--health-addr');
  const health = await startHealthServer({
    ...addr,
    registry,
    healthz: [() => true],
    // ready once every endpoint has a result, so the first scrape is never empty
    readyz: [() => prober.results().size === endpoints.length || 'not every endpoint has been probed yet'],
  });
  prober.start();
  log.info({ metrics: `${health.url}/metrics`, endpoints: endpoints.length }, 'prober running');
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await prober.stop();
  await health.close();
  return 0;
}
