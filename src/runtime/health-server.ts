// The operator's own HTTP endpoints: /metrics for Prometheus, /healthz (the process is alive and
// its loops turn), /readyz (caches synced). Bound to a configurable address; 127.0.0.1 in tests.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { ScrapeRegistry } from './scraped-gauge.js';

export type Check = () => boolean | string; // true = ok, a string = why not

export interface HealthServer {
  url: string;
  close(): Promise<void>;
}

/** The registry's text, written as fast as the client reads: a ScrapeRegistry's piece by piece, another's whole. */
async function serveMetrics(registry: Registry, res: ServerResponse): Promise<void> {
  const chunks =
    registry instanceof ScrapeRegistry
      ? registry.chunks()
      : (async function* () {
          yield await registry.metrics();
        })();
  try {
    for await (const chunk of chunks) {
      if (!res.headersSent) res.writeHead(200, { 'Content-Type': registry.contentType });
      if (res.destroyed) return; // the client went away: stop printing
      if (!res.write(chunk)) await drainedOrClosed(res);
    }
    res.end();
  } catch (err) {
    // Before the first piece: a 500 like any other failure; after it, only a cut-off response says so.
    if (res.headersSent) res.destroy(err instanceof Error ? err : new Error(String(err)));
    else res.writeHead(500).end(String(err));
  }
}

function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

export async function startHealthServer(opts: {
  host: string;
  port: number;
  registry: Registry;
  healthz: Check[];
  readyz: Check[];
}): Promise<HealthServer> {
  const run = (checks: Check[]): { ok: boolean; body: string } => {
    const failures = checks.map((c) => c()).filter((r): r is string => r !== true);
    return failures.length ? { ok: false, body: failures.join('\n') } : { ok: true, body: 'ok' };
  };
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      void serveMetrics(opts.registry, res);
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      const r = run(path === '/healthz' ? opts.healthz : opts.readyz);
      res.writeHead(r.ok ? 200 : 503, { 'Content-Type': 'text/plain' }).end(r.body);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
