// /metrics of the operator's health server, streamed from a ScrapeRegistry: the body is the
// registry's text byte for byte, a client that stops reading does not wedge the server, and other
// registries are served whole as before. Real HTTP on 127.0.0.1.
import { request } from 'node:http';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { startHealthServer, type HealthServer } from '../../src/runtime/health-server.js';
import { ScrapedGauge, ScrapeRegistry } from '../../src/runtime/scraped-gauge.js';

let server: HealthServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** How far the last scrape's series went, and how many iterations were closed. */
const iteration = { yielded: 0, closed: 0 };

/** 50,000 series with long labels: about 4 MB of text, far more than a socket buffer takes at once. */
function bigRegistry(): ScrapeRegistry {
  const registry = new ScrapeRegistry();
  new ScrapedGauge({
    name: 'big_series',
    help: 'many long lines',
    labelNames: ['namespace', 'name'],
    registry,
    *series() {
      iteration.yielded = 0;
      try {
        for (let i = 0; i < 50_000; i++, iteration.yielded++)
          yield { labels: { namespace: `team-${i % 50}`, name: `staple-${i}-${'x'.repeat(40)}` }, value: i };
      } finally {
        iteration.closed++;
      }
    },
  });
  new Counter({ name: 'scrapes_total', help: 'a prom-client metric beside', registers: [registry] }).inc(2);
  return registry;
}

async function get(url: string): Promise<{ status: number; type?: string; body: string }> {
  const res = await fetch(url);
  return { status: res.status, type: res.headers.get('content-type') ?? undefined, body: await res.text() };
}

describe('the health server /metrics', () => {
  it("streams a ScrapeRegistry's text, byte for byte", async () => {
    const registry = bigRegistry();
    server = await startHealthServer({ host: '127.0.0.1', port: 0, registry, healthz: [], readyz: [] });
    const res = await get(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.type).toBe(registry.contentType);
    expect(res.body.length).toBeGreaterThan(3_000_000);
    expect(res.body).toBe(await registry.metrics());
  });

  it('a client that reads a little and goes away stops the printing, and the server serves on', async () => {
    const registry = bigRegistry();
    iteration.closed = 0;
    server = await startHealthServer({ host: '127.0.0.1', port: 0, registry, healthz: [], readyz: [] });
    const url = new URL(`${server.url}/metrics`);
    const firstBytes = await new Promise<number>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname }, (res) => {
        res.once('data', (chunk: Buffer) => {
          req.destroy(); // gone after the first piece, with megabytes still to send
          resolve(chunk.length);
        });
      });
      req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
      req.end();
    });
    expect(firstBytes).toBeGreaterThan(0);
    // The server stops printing: the series' iteration is closed before its end (bounded wait).
    for (let i = 0; i < 200 && iteration.closed === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(iteration.closed).toBe(1);
    expect(iteration.yielded).toBeLessThan(50_000);
    const res = await get(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.body).toBe(await registry.metrics());
    expect((await get(`${server.url}/healthz`)).body).toBe('ok');
  });

  it('serves another registry whole, as before', async () => {
    const registry = new Registry();
    new Counter({ name: 'plain_total', help: 'h', registers: [registry] }).inc();
    server = await startHealthServer({ host: '127.0.0.1', port: 0, registry, healthz: [], readyz: [] });
    const res = await get(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.body).toBe(await registry.metrics());
    expect(res.body).toContain('plain_total 1');
  });
});
