// The API client under pressure, as client-go behaves: its own token bucket, 429s and 503s with
// Retry-After waited out and retried a bounded number of times, and kubeconfig's proxy-url
// honoured through a real CONNECT proxy. The "apiserver" is a real HTTPS server on 127.0.0.1.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/base/clock.js';
import { KubeApiError, KubeClient, type KubeClientOptions } from '../../src/kube/client.js';
import { parseRetryAfter, throttleRetryDelay, TokenBucket } from '../../src/kube/rate-limit.js';
import { ConfigMapType } from '../../src/kube/types.js';
import { createCa, issueLeaf, type Ca, type Issued } from '../support/pki.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let ca: Ca;
let leaf: Issued;
let server: Server;
let port: number;
let handler: Handler = (_req, res) => res.end('{}');
const seen: { method: string; url: string }[] = [];

const configMap = (name: string) => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'ns' } });

function kubeconfig(o: { proxyUrl?: string } = {}): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'c',
        server: `https://127.0.0.1:${port}`,
        caData: Buffer.from(ca.certPem).toString('base64'),
        tlsServerName: 'api.test',
        skipTLSVerify: false,
        ...(o.proxyUrl ? { proxyUrl: o.proxyUrl } : {}),
      },
    ],
    users: [{ name: 'u', token: 'token' }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  return kc;
}

const client = (o: KubeClientOptions = {}, proxyUrl?: string) => new KubeClient(kubeconfig({ proxyUrl }), { timeoutMs: 5_000, ...o });

/** A tiny CONNECT proxy on 127.0.0.1 that counts the tunnels it opened. */
async function startConnectProxy(): Promise<{ url: string; tunnels: () => number; close(): Promise<void> }> {
  let tunnels = 0;
  // A tunnel leaves the server's books once established: closing must end them itself.
  const open = new Set<{ destroy(): void }>();
  const proxy = createHttpServer((_req, res) => res.writeHead(405).end());
  proxy.on('connect', (req: IncomingMessage, socket, head: Buffer) => {
    const [host, p] = (req.url ?? '').split(':');
    open.add(socket);
    const upstream = netConnect(Number(p), host, () => {
      tunnels++;
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    open.add(upstream);
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    tunnels: () => tunnels,
    close: () => {
      for (const s of open) s.destroy();
      proxy.closeAllConnections();
      return new Promise((r) => proxy.close(() => r()));
    },
  };
}

beforeAll(async () => {
  ca = await createCa();
  leaf = await issueLeaf(ca, { dnsNames: ['api.test'], ocspUrl: null, freshKey: true });
  server = createHttpsServer({ key: leaf.keyPem, cert: leaf.certPem }, (req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '' });
    req.resume();
    req.on('end', () => handler(req, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
});

/** Answers `status` (with Retry-After when given) `times` times, then 200 with a ConfigMap. */
function failThenServe(times: number, status: number, retryAfter?: string): void {
  let left = times;
  handler = (_req, res) => {
    if (left-- > 0) {
      const headers: Record<string, string> = { 'Content-Type': 'application/json' };
      if (retryAfter !== undefined) headers['Retry-After'] = retryAfter;
      res
        .writeHead(status, headers)
        .end(JSON.stringify({ kind: 'Status', reason: status === 429 ? 'TooManyRequests' : 'ServiceUnavailable', message: 'slow down' }));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(configMap('cm'));
  };
  seen.length = 0;
}

describe('429 and Retry-After', () => {
  it('waits the Retry-After the server asks for, then retries and succeeds', async () => {
    failThenServe(1, 429, '1');
    const started = Date.now();
    const cm = await client().get(ConfigMapType, 'ns', 'cm');
    const took = Date.now() - started;
    expect(cm.metadata?.name).toBe('cm');
    expect(seen).toHaveLength(2);
    expect(took).toBeGreaterThanOrEqual(950); // Retry-After: 1 second
    expect(took).toBeLessThan(5_000);
  });

  it('caps a long Retry-After', async () => {
    failThenServe(2, 429, '3600');
    const c = client({ retry: { maxWaitMs: 50 } });
    const started = Date.now();
    await c.get(ConfigMapType, 'ns', 'cm');
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(c.stats.retries).toBe(2);
  });

  it('gives up after the bounded retries, naming the status and the object', async () => {
    failThenServe(1_000, 429, '0');
    const c = client({ retry: { maxRetries: 3 } });
    const err = await c.get(ConfigMapType, 'ns', 'cm').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).status).toBe(429);
    expect((err as Error).message).toMatch(
      /^429 TooManyRequests: slow down; gave up on GET after 4 attempts \(\/api\/v1\/namespaces\/ns\/configmaps\/cm\)$/,
    );
    expect(seen).toHaveLength(4);
  });

  it('retries a 429 without Retry-After with jittered backoff, for writes too', async () => {
    failThenServe(2, 429);
    const c = client({ retry: { baseDelayMs: 20 } });
    await c.apply(ConfigMapType, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm', namespace: 'ns' } }, 'test');
    expect(seen.map((s) => s.method)).toEqual(['PATCH', 'PATCH', 'PATCH']);
  });

  it('retries a 503 with Retry-After only for idempotent requests, and a 503 without it never', async () => {
    failThenServe(1, 503, '0');
    await client().get(ConfigMapType, 'ns', 'cm');
    expect(seen).toHaveLength(2);

    failThenServe(1, 503, '0');
    const created = await client()
      .create(ConfigMapType, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm', namespace: 'ns' } })
      .catch((e: unknown) => e);
    expect((created as KubeApiError).status).toBe(503);
    expect(seen).toHaveLength(1);

    failThenServe(1, 503);
    const got = await client()
      .get(ConfigMapType, 'ns', 'cm')
      .catch((e: unknown) => e);
    expect((got as KubeApiError).status).toBe(503);
    expect(seen).toHaveLength(1);
  });

  it('reads Retry-After as seconds or an HTTP date, and bounds every wait', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(parseRetryAfter('2', now)).toBe(2_000);
    expect(parseRetryAfter(new Date(now + 5_000).toUTCString(), now)).toBe(5_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    const policy = { maxRetries: 5, maxWaitMs: 10_000, baseDelayMs: 250 };
    expect(throttleRetryDelay(policy, 0, 60_000)).toBe(10_000);
    // Never sooner than Retry-After; a refused burst spreads over one more Retry-After.
    expect(throttleRetryDelay(policy, 0, 1_000, () => 0)).toBe(1_000);
    expect(throttleRetryDelay(policy, 0, 1_000, () => 0.999)).toBe(1_999);
    for (let retry = 0; retry < 30; retry++) {
      const low = throttleRetryDelay(policy, retry, undefined, () => 0);
      const high = throttleRetryDelay(policy, retry, undefined, () => 0.999);
      expect(low).toBeGreaterThan(0);
      expect(high).toBeLessThanOrEqual(10_000);
      expect(high).toBeGreaterThanOrEqual(low);
    }
  });
});

describe('client-side rate limit', () => {
  it('the token bucket allows a burst, then paces at qps (by a manual clock)', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(10, 3, clock);
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve()]).toEqual([0, 0, 0]);
    // Empty: each further caller queues 100 ms behind the one before.
    expect([bucket.reserve(), bucket.reserve()]).toEqual([100, 200]);
    clock.advance(200); // pays the debt back, no more
    expect(bucket.reserve()).toBe(100);
    clock.advance(10_000); // a quiet spell refills to the burst, never beyond
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve(), bucket.reserve()]).toEqual([0, 0, 0, 100]);
  });

  it('acquire resolves when the clock reaches the token', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(2, 1, clock);
    await bucket.acquire();
    let done = false;
    const second = bucket.acquire().then((w) => ((done = true), w));
    clock.advance(499);
    await Promise.resolve();
    expect(done).toBe(false);
    clock.advance(1);
    expect(await second).toBe(500);
  });

  it('the client paces its requests to qps after the burst (measured)', async () => {
    failThenServe(0, 200);
    const c = client({ qps: 20, burst: 2 });
    const started = Date.now();
    await Promise.all(Array.from({ length: 12 }, () => c.get(ConfigMapType, 'ns', 'cm')));
    const took = Date.now() - started;
    // 2 at once, then 10 more at 20/s: 500 ms at least.
    expect(took).toBeGreaterThanOrEqual(480);
    expect(took).toBeLessThan(5_000);
    expect(c.stats).toMatchObject({ requests: 12, throttled: 10, retries: 0 });
  });

  it('defaults leave a fill at hundreds of requests a second unthrottled', async () => {
    failThenServe(0, 200);
    const c = client();
    await Promise.all(Array.from({ length: 300 }, () => c.get(ConfigMapType, 'ns', 'cm')));
    expect(c.stats.throttled).toBe(0);
  });
});

describe('kubeconfig proxy-url', () => {
  it('reaches the apiserver through the CONNECT proxy, reusing its tunnel', async () => {
    const proxy = await startConnectProxy();
    try {
      failThenServe(0, 200);
      const c = client({}, proxy.url);
      for (let i = 0; i < 5; i++) await c.get(ConfigMapType, 'ns', 'cm');
      expect(seen).toHaveLength(5);
      // Kept-alive: the five requests went through one tunnel.
      expect(proxy.tunnels()).toBe(1);

      // Without proxy-url nothing goes through it.
      await client().get(ConfigMapType, 'ns', 'cm');
      expect(proxy.tunnels()).toBe(1);
      expect(seen).toHaveLength(6);
    } finally {
      await proxy.close();
    }
  });

  it('a metadata watch goes through the proxy too', async () => {
    const proxy = await startConnectProxy();
    try {
      handler = (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(`${JSON.stringify({ type: 'ADDED', object: JSON.parse(configMap('w')) })}\n`);
      };
      const events: string[] = [];
      const ended = new Promise<unknown>((resolve) => {
        void client({}, proxy.url).watch(
          ConfigMapType,
          { namespace: 'ns', resourceVersion: '1', timeoutSeconds: 5, metadataOnly: true },
          (phase) => events.push(phase),
          resolve,
        );
      });
      expect(await ended).toBeNull();
      expect(events).toEqual(['ADDED']);
      expect(proxy.tunnels()).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it('fails clearly when the proxy refuses', async () => {
    const refusing = createHttpServer();
    refusing.on('connect', (_req, socket) => socket.end('HTTP/1.1 403 Forbidden\r\n\r\n'));
    await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(refusing.address() as AddressInfo).port}`;
      const err = await client({}, url)
        .get(ConfigMapType, 'ns', 'cm')
        .catch((e: unknown) => e);
      expect(String(err)).toMatch(/refused CONNECT 127\.0\.0\.1:\d+: 403/);
    } finally {
      await new Promise<void>((r) => refusing.close(() => r()));
    }
  });
});
