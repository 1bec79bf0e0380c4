// The responder's own port for Prometheus and the kubelet (`--metrics-addr`): /metrics, /healthz
// and /readyz, away from the public OCSP port. OCSP URLs are published to the world (often through
// an Ingress); what the pod counts about its clients and its store is not. With workers, the
// primary listens here and answers for the whole pod (supervisor.ts puts the metrics together).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { Readiness } from './readiness.js';

export interface MetricsServerOptions {
  host: string;
  port: number;
  /** The pod's metrics in Prometheus text format. */
  metrics: () => Promise<string>;
  readiness: () => Readiness;
  /** Reported with /readyz, as the public port does. */
  lagThresholdMs: number;
  log: Logger;
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

export async function startMetricsServer(o: MetricsServerOptions): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Length': '0' }).end();
      return;
    }
    switch (path) {
      case '/metrics':
        o.metrics().then(
          (text) => res.writeHead(200, { 'Content-Type': Registry.PROMETHEUS_CONTENT_TYPE, 'Cache-Control': 'no-store' }).end(text),
          (e: unknown) => {
            o.log.error({ err: String(e) }, 'metrics collection failed');
            res.writeHead(500, { 'Content-Length': '0' }).end();
          },
        );
        return;
      case '/healthz':
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-store' }).end('ok\n');
        return;
      case '/readyz': {
        const r = o.readiness();
        res
          .writeHead(r.ready ? 200 : 503, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' })
          .end(JSON.stringify({ ...r, thresholdMs: o.lagThresholdMs }) + '\n');
        return;
      }
      default:
        res.writeHead(404, { 'Content-Length': '0' }).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  o.log.info({ url }, 'responder metrics listening');
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** `HOST:PORT` (IPv6 hosts in brackets or bare); the host defaults to every interface. */
export function parseHostPort(text: string, flag: string): { host: string; port: number } {
  const i = text.lastIndexOf(':');
  const port = Number(text.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${flag} must be HOST:PORT, got ${text}`);
  return { host: text.slice(0, i).replace(/^\[(.*)\]$/, '$1') || '0.0.0.0', port };
}
