// The responder's HTTP server: OCSP over GET and POST from pre-signed responses, plus /healthz,
// /readyz and /metrics (unless metrics-server.ts serves it on a port of its own). It never signs and never throws at a client: every OCSP-shaped failure is
// an OCSP error response with uncacheable headers, every transport failure a plain 4xx (see
// connection-guard.ts, which also bounds how many connections clients hold and for how long).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { pino, type Logger } from 'pino';
import { errorResponse, OcspInputError } from '../ocsp/index.js';
import { cacheHeaders, errorHeaders, type HeaderPolicy } from './cache-headers.js';
import { ConnectionGuard, timeoutOptions } from './connection-guard.js';
import { noneMatch, rawHeader } from './conditional.js';
import { resolveConfig, type ResolvedConfig, type ResponderConfig } from './config.js';
import { IssuerIndex } from './issuers.js';
import { LagMonitor } from './lag-monitor.js';
import { ResponderMetrics, type Method, type Result } from './metrics.js';
import { processReadiness, type Readiness } from './readiness.js';
import { RequestResolver, type Resolved } from './request-resolver.js';
import { lagPolicy, notExpired, storeSource, type Lookup, type Source } from './source.js';

export interface Responder {
  url: string;
  /** What /readyz answers right now. */
  readiness(): Readiness;
  metrics: ResponderMetrics;
  /** Probe the store's lag now instead of waiting for the next poll (tests, start-up). */
  probeLag(): Promise<void>;
  close(): Promise<void>;
}

interface ErrorReply {
  body: Buffer;
  headers: string[];
}

export async function startResponder(input: ResponderConfig): Promise<Responder> {
  const cfg = resolveConfig(input);
  const log = cfg.logger ?? pino({ level: cfg.logLevel ?? 'info', base: { component: 'ocsp-responder' } });
  const metrics = new ResponderMetrics();
  cfg.pod?.join(metrics.registry);
  const monitor = new LagMonitor(cfg.store, cfg.lagThresholdMs, cfg.lagPollMs, log, (lag) => {
    metrics.storeLag(lag, !monitor.lagging);
    cfg.pod?.report(!monitor.lagging, lag);
  });
  await monitor.start();
  const readiness = (): Readiness => cfg.pod?.readiness() ?? processReadiness(!monitor.lagging, monitor.lastLag);

  const source: Source = lagPolicy(notExpired(storeSource(cfg.store), cfg.now), cfg.lagPolicy, () => monitor.lagging);
  const resolver = new RequestResolver(new IssuerIndex(cfg.issuers), cfg.maxBodyBytes);
  const handler = new Handler(cfg, source, resolver, metrics, readiness, log);

  const server = createServer({ maxHeaderSize: cfg.maxHeaderBytes, ...timeoutOptions(cfg) }, (req, res) => {
    guard.requested(req);
    handler.handle(req, res);
  });
  const guard = new ConnectionGuard(server, cfg, (reason) => metrics.shed(reason), log);
  metrics.watchConnections(guard);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port, cfg.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}${cfg.pathPrefix}`;
  log.info({ url, lagPolicy: cfg.lagPolicy, lagThresholdMs: cfg.lagThresholdMs, issuers: cfg.issuers.length }, 'OCSP responder listening');

  return {
    url,
    readiness,
    metrics,
    probeLag: () => monitor.probe(),
    async close() {
      monitor.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

class Handler {
  private readonly policy: HeaderPolicy;
  private readonly malformed: ErrorReply;
  private readonly unauthorized: ErrorReply;
  private readonly tryLater: ErrorReply;
  private readonly internal: ErrorReply;
  private readonly prefix: string;

  constructor(
    private readonly cfg: ResolvedConfig,
    private readonly source: Source,
    private readonly resolver: RequestResolver,
    private readonly metrics: ResponderMetrics,
    private readonly readiness: () => Readiness,
    private readonly log: Logger,
  ) {
    this.policy = { spread: cfg.maxAgeSpread, capSeconds: cfg.maxAgeCapSeconds };
    const reply = (s: Parameters<typeof errorResponse>[0], maxAge: number): ErrorReply => {
      const body = Buffer.from(errorResponse(s));
      return { body, headers: errorHeaders(body, maxAge) };
    };
    this.malformed = reply('malformedRequest', cfg.errorMaxAgeSeconds);
    this.unauthorized = reply('unauthorized', cfg.errorMaxAgeSeconds);
    // tryLater means "the answer will change soon": never cached.
    this.tryLater = reply('tryLater', 0);
    this.internal = reply('internalError', 0);
    this.prefix = cfg.pathPrefix;
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const start = performance.now();
    try {
      const method = req.method;
      if (method === 'GET' || method === 'HEAD') {
        this.get(req, res, start);
      } else if (method === 'POST') {
        this.post(req, res, start);
      } else {
        res.writeHead(405, { Allow: 'GET, HEAD, POST', 'Content-Length': '0', 'Cache-Control': 'no-store' });
        res.end();
        this.done('other', 'bad_method', start);
      }
    } catch (e) {
      this.fail(res, 'other', start, e);
    }
  }

  private get(req: IncomingMessage, res: ServerResponse, start: number): void {
    let path = req.url ?? '/';
    if (path.charCodeAt(0) !== 47 /* '/' */) path = path.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, ''); // absolute-form (proxies)
    if (this.admin(path, res)) return;
    if (!path.startsWith(this.prefix)) {
      res.writeHead(404, { 'Content-Length': '0', 'Cache-Control': 'no-store' });
      res.end();
      this.done('GET', 'malformed', start);
      return;
    }
    let resolved: Resolved;
    try {
      resolved = this.resolver.fromGetPath(path.slice(this.prefix.length));
    } catch (e) {
      this.inputError(res, 'GET', start, e);
      return;
    }
    this.answer(req, res, 'GET', start, resolved);
  }

  private post(req: IncomingMessage, res: ServerResponse, start: number): void {
    const max = this.cfg.maxBodyBytes;
    const declared = rawHeader(req.rawHeaders, 'content-length');
    if (declared !== undefined && !(Number(declared) <= max)) {
      this.tooLarge(req, res, start);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > max) {
        over = true;
        this.tooLarge(req, res, start);
        return;
      }
      chunks.push(c);
    });
    req.on('error', () => {
      // The client went away mid-body; there is no one to answer.
      if (!res.headersSent) res.destroy();
    });
    req.on('end', () => {
      if (over) return;
      let resolved: Resolved;
      try {
        resolved = this.resolver.fromBody(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
      } catch (e) {
        this.inputError(res, 'POST', start, e);
        return;
      }
      this.answer(req, res, 'POST', start, resolved);
    });
  }

  private answer(req: IncomingMessage, res: ServerResponse, method: Method, start: number, r: Resolved): void {
    if (r.issuerId === undefined) {
      this.refuse(res, method, start, 'unknown', r);
      return;
    }
    const found = this.source.lookup(r.issuerId, r.serial);
    if (found instanceof Promise) {
      // One catch for both a rejected lookup and a throw while writing: never an unhandled rejection.
      found.then((v) => this.write(req, res, method, start, v, r)).catch((e: unknown) => this.fail(res, method, start, e));
    } else {
      this.write(req, res, method, start, found, r);
    }
  }

  private write(req: IncomingMessage, res: ServerResponse, method: Method, start: number, found: Lookup, r: Resolved): void {
    if (typeof found === 'string') {
      this.refuse(res, method, start, found, r);
      return;
    }
    const h = cacheHeaders(found, this.cfg.now(), this.policy);
    if (noneMatch(rawHeader(req.rawHeaders, 'if-none-match'), found.etag)) {
      res.writeHead(304, h.notModified);
      res.end();
      this.done(method, 'not_modified', start);
      return;
    }
    res.writeHead(200, h.ok);
    res.end(found.der);
    this.metrics.maxAge.observe(h.maxAge);
    this.done(method, 'ok', start);
  }

  private refuse(res: ServerResponse, method: Method, start: number, why: Exclude<Lookup, object>, r: Resolved): void {
    switch (why) {
      case 'unknown':
        // Never `good` for a serial we do not have: `unauthorized`, uncached (a new certificate's
        // response may land in the store a moment later).
        this.metrics.unknownSerials.inc();
        this.log.debug({ issuerId: r.issuerId ?? null, serial: r.serial }, 'unknown issuer or serial');
        this.send(res, this.unauthorized);
        this.done(method, 'unauthorized', start);
        return;
      case 'lagging':
        this.send(res, this.cfg.lagPolicy === 'TryLater' ? this.tryLater : this.unauthorized);
        this.done(method, 'lagging', start);
        return;
      case 'expired':
        this.log.warn({ issuerId: r.issuerId, serial: r.serial }, 'stored response is past nextUpdate; answering tryLater');
        this.send(res, this.tryLater);
        this.done(method, 'expired', start);
        return;
      case 'unavailable':
        this.send(res, this.tryLater);
        this.done(method, 'unavailable', start);
        return;
    }
  }

  private inputError(res: ServerResponse, method: Method, start: number, e: unknown): void {
    if (!(e instanceof OcspInputError)) {
      this.fail(res, method, start, e);
      return;
    }
    this.log.debug({ err: e.message }, 'malformed request');
    this.send(res, this.malformed);
    this.done(method, 'malformed', start);
  }

  private tooLarge(req: IncomingMessage, res: ServerResponse, start: number): void {
    res.writeHead(413, { Connection: 'close', 'Content-Length': '0', 'Cache-Control': 'no-store' });
    // Close once answered rather than read the rest of an oversized body.
    res.end(() => req.socket.destroy());
    this.done('POST', 'too_large', start);
  }

  private fail(res: ServerResponse, method: Method, start: number, e: unknown): void {
    this.log.error({ err: e instanceof Error ? e.stack : String(e) }, 'request failed');
    try {
      if (!res.headersSent) {
        res.writeHead(500, this.internal.headers);
        res.end(this.internal.body);
      } else {
        res.destroy();
      }
    } catch {
      res.destroy();
    }
    this.done(method, 'error', start);
  }

  private send(res: ServerResponse, reply: ErrorReply): void {
    res.writeHead(200, reply.headers);
    res.end(reply.body);
  }

  private done(method: Method, result: Result, start: number): void {
    this.metrics.observe(method, result, (performance.now() - start) / 1000);
  }

  /** /healthz, /readyz, /metrics; false when `path` is none of them. */
  private admin(path: string, res: ServerResponse): boolean {
    switch (path) {
      case '/healthz':
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-store' });
        res.end('ok\n');
        return true;
      case '/readyz': {
        const r = this.readiness();
        res.writeHead(r.ready ? 200 : 503, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
        res.end(JSON.stringify({ ...r, thresholdMs: this.cfg.lagThresholdMs }) + '\n');
        return true;
      }
      case '/metrics':
        if (!this.cfg.publicMetrics) {
          // Served on the metrics port instead: the public port says nothing about its clients.
          res.writeHead(404, { 'Content-Length': '0', 'Cache-Control': 'no-store' });
          res.end();
          return true;
        }
        (this.cfg.pod?.metrics() ?? this.metrics.registry.metrics()).then(
          (text) => {
            res.writeHead(200, { 'Content-Type': this.metrics.registry.contentType, 'Cache-Control': 'no-store' });
            res.end(text);
          },
          (e: unknown) => {
            this.log.error({ err: String(e) }, 'metrics collection failed');
            res.writeHead(500, { 'Content-Length': '0' });
            res.end();
          },
        );
        return true;
      default:
        return false;
    }
  }
}
