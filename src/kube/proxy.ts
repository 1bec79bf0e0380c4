// kubeconfig's `proxy-url` (a cluster field): reach the apiserver through an HTTP proxy's CONNECT
// tunnel, as kubectl does. client-node builds a fresh proxy agent per request; these are kept-alive
// agents, so one tunnel carries many requests.
import { Agent as HttpAgent, request as httpRequest, type ClientRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { Duplex } from 'node:stream';

type OnSocket = (err: Error | null, socket?: Duplex) => void;

export function parseProxyUrl(proxyUrl: string): URL {
  const url = new URL(proxyUrl);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`kubeconfig proxy-url ${url.protocol}// is not supported (only http:// and https:// proxies)`);
  }
  return url;
}

/** Opens a CONNECT tunnel to host:port through `proxy`; the callback gets the raw socket. */
export function openTunnel(
  proxy: URL,
  host: string,
  port: number,
  timeoutMs: number,
  cb: (err: Error | null, socket?: Socket) => void,
): void {
  const target = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const headers: Record<string, string> = { Host: target };
  if (proxy.username) {
    const cred = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
    headers['Proxy-Authorization'] = `Basic ${Buffer.from(cred).toString('base64')}`;
  }
  const send = proxy.protocol === 'https:' ? httpsRequest : httpRequest;
  let done = false;
  const finish = (err: Error | null, socket?: Socket) => {
    if (done) return;
    done = true;
    cb(err, socket);
  };
  const req: ClientRequest = send({
    host: proxy.hostname.replace(/^\[|\]$/g, ''),
    port: proxy.port || (proxy.protocol === 'https:' ? 443 : 80),
    method: 'CONNECT',
    path: target,
    headers,
    agent: false,
    timeout: timeoutMs,
  });
  req.on('connect', (res, socket) => {
    if (res.statusCode !== 200) {
      socket.destroy();
      finish(new Error(`proxy ${proxy.host} refused CONNECT ${target}: ${res.statusCode} ${res.statusMessage ?? ''}`.trim()));
      return;
    }
    finish(null, socket);
  });
  req.on('timeout', () => req.destroy(new Error(`proxy ${proxy.host}: no CONNECT answer within ${timeoutMs} ms`)));
  req.on('error', (err) => finish(new Error(`proxy ${proxy.host}: ${err.message}`)));
  req.end();
}

/** A kept-alive https agent whose connections are TLS over a CONNECT tunnel. */
export class TunnelingHttpsAgent extends HttpsAgent {
  constructor(
    private readonly proxy: URL,
    opts: ConstructorParameters<typeof HttpsAgent>[0] & { connectTimeoutMs?: number } = {},
  ) {
    super(opts);
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 30_000;
  }

  private readonly connectTimeoutMs: number;

  // Node's Agent accepts a socket through the callback when createConnection returns nothing.
  override createConnection(options: ConnectionOptions & { host?: string; port?: number }, cb: OnSocket): undefined {
    openTunnel(this.proxy, options.host ?? 'localhost', Number(options.port ?? 443), this.connectTimeoutMs, (err, socket) => {
      if (err || !socket) return cb(err ?? new Error('no tunnel'));
      const tls = tlsConnect({ ...options, socket, servername: options.servername ?? (isIp(options.host) ? undefined : options.host) });
      cb(null, tls);
    });
    return undefined;
  }
}

/** A kept-alive http agent whose connections are tunnels (plain http to the apiserver). */
export class TunnelingHttpAgent extends HttpAgent {
  constructor(
    private readonly proxy: URL,
    opts: ConstructorParameters<typeof HttpAgent>[0] = {},
  ) {
    super(opts);
  }

  override createConnection(options: { host?: string; port?: number }, cb: OnSocket): undefined {
    openTunnel(this.proxy, options.host ?? 'localhost', Number(options.port ?? 80), 30_000, (err, socket) => cb(err, socket));
    return undefined;
  }
}

const isIp = (h: string | undefined): boolean => !!h && (/^[\d.]+$/.test(h) || h.includes(':'));
