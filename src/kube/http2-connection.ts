// HTTP/2 to the apiserver, as client-go speaks it: one TLS connection carries every unary request
// of a client as concurrent streams, and a request costs the client less CPU than on node:https's
// kept-alive HTTP/1.1 pool (the staple controller makes four a staple in a fill). The server
// chooses by ALPN: one that does not offer h2 gets HTTP/1.1 from the caller for the rest of the
// client's life. Watches stay on HTTP/1.1 sockets of their own (kube/client.ts).
import { connect as http2Connect, constants, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import type { RequestOptions } from 'node:https';
import { isIP } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

export interface UnaryResponse {
  status: number;
  text: string;
  retryAfter?: string;
}

/** The TLS material a session was opened with: a request that carries other material needs another. */
interface TlsIdentity {
  ca: RequestOptions['ca'];
  cert: RequestOptions['cert'];
  key: RequestOptions['key'];
  servername: string | undefined;
  rejectUnauthorized: boolean | undefined;
}

const tlsOf = (o: RequestOptions): TlsIdentity => ({
  ca: o.ca,
  cert: o.cert,
  key: o.key,
  servername: o.servername,
  rejectUnauthorized: o.rejectUnauthorized,
});

type Material = RequestOptions['ca'] | RequestOptions['key'];

/** Same bytes, not the same objects: client-node's authorize hands out fresh Buffers on every request. */
function sameMaterial(a: Material, b: Material): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => sameMaterial(x as Material, b[i] as Material));
  const bytes = (x: Material) => (typeof x === 'string' ? Buffer.from(x) : Buffer.isBuffer(x) ? x : undefined);
  const [x, y] = [bytes(a), bytes(b)];
  return x !== undefined && y !== undefined && x.equals(y);
}

const sameTls = (a: TlsIdentity, b: TlsIdentity) =>
  sameMaterial(a.ca, b.ca) &&
  sameMaterial(a.cert, b.cert) &&
  sameMaterial(a.key, b.key) &&
  a.servername === b.servername &&
  a.rejectUnauthorized === b.rejectUnauthorized;

export class Http2Connection {
  private current: { session: ClientHttp2Session; tls: TlsIdentity } | undefined;
  private connecting: Promise<ClientHttp2Session | undefined> | undefined;
  /** The server answered ALPN without h2: the caller speaks HTTP/1.1 from now on. */
  private http1Only = false;
  private readonly streams = new WeakMap<ClientHttp2Session, number>();
  /** TLS connections opened for HTTP/2 (tests and debugging). */
  connections = 0;

  constructor(
    private readonly origin: URL,
    private readonly connectTimeoutMs: number,
    /** How long a session that timed a request out has to answer a PING before it is dropped as dead. */
    private readonly pingTimeoutMs = 5_000,
  ) {}

  /**
   * One request as a stream of the shared session; undefined when the server does not speak
   * HTTP/2 (the caller sends it over HTTP/1.1). `options` carries the TLS material and headers
   * that ClusterAccess.authorize put there.
   */
  async request(
    method: string,
    url: URL,
    options: RequestOptions,
    body: Buffer | undefined,
    timeoutMs: number,
  ): Promise<UnaryResponse | undefined> {
    const session = await this.session(options);
    if (!session) return undefined;
    const headers: Record<string, string | number> = { ':method': method, ':path': url.pathname + url.search };
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
    }
    // A stream in flight keeps the process alive; an idle session does not.
    this.streams.set(session, (this.streams.get(session) ?? 0) + 1);
    session.ref();
    try {
      return await new Promise<UnaryResponse>((resolve, reject) => {
        const stream = session.request(headers, { endStream: !body });
        let status = 0;
        let retryAfter: string | undefined;
        const chunks: Buffer[] = [];
        stream.on('response', (h: IncomingHttpHeaders) => {
          status = Number(h[':status'] ?? 0);
          retryAfter = h['retry-after'];
        });
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => resolve({ status, text: Buffer.concat(chunks).toString('utf8'), retryAfter }));
        stream.on('error', reject);
        stream.setTimeout(timeoutMs, () => {
          stream.close(constants.NGHTTP2_CANCEL);
          reject(new Error(`no answer within ${timeoutMs} ms`));
          this.checkAlive(session);
        });
        stream.end(body);
      });
    } finally {
      const left = (this.streams.get(session) ?? 1) - 1;
      this.streams.set(session, left);
      if (left === 0 && !session.destroyed) session.unref();
    }
  }

  private async session(options: RequestOptions): Promise<ClientHttp2Session | undefined> {
    if (this.http1Only) return undefined;
    const tls = tlsOf(options);
    const live = this.current;
    if (live && !live.session.closed && !live.session.destroyed && sameTls(live.tls, tls)) return live.session;
    if (live) {
      // New TLS material (a rotated client certificate) or a closed session: streams in flight finish on the old one.
      live.session.close();
      this.current = undefined;
    }
    this.connecting ??= this.open(tls).finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async open(tls: TlsIdentity): Promise<ClientHttp2Session | undefined> {
    const host = this.origin.hostname.replace(/^\[|\]$/g, '');
    const socket = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({
        host,
        port: Number(this.origin.port || 443),
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        servername: tls.servername ?? (isIP(host) ? undefined : host),
        rejectUnauthorized: tls.rejectUnauthorized,
        ALPNProtocols: ['h2', 'http/1.1'],
      });
      const timer = setTimeout(() => s.destroy(new Error(`no TLS connection within ${this.connectTimeoutMs} ms`)), this.connectTimeoutMs);
      s.once('secureConnect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    if (socket.alpnProtocol !== 'h2') {
      socket.destroy();
      this.http1Only = true;
      return undefined;
    }
    this.connections++;
    // A peer that vanished without a FIN is noticed by TCP keepalive, as the watches' sockets are.
    socket.setKeepAlive(true, 30_000);
    const session = http2Connect(this.origin.origin, { createConnection: () => socket });
    const forget = () => {
      if (this.current?.session === session) this.current = undefined;
    };
    // The streams in flight see their own errors; a GOAWAY closes the session, so the next request opens another.
    session.on('error', forget);
    session.on('close', forget);
    session.unref();
    this.current = { session, tls };
    return session;
  }

  /** A request timed out: the session may be dead (a peer gone without a word); a PING tells. */
  private checkAlive(session: ClientHttp2Session): void {
    if (session.destroyed || session.closed) return;
    const timer = setTimeout(() => session.destroy(new Error('no PING answer: connection to the apiserver dropped')), this.pingTimeoutMs);
    timer.unref();
    const sent = session.ping((err) => {
      clearTimeout(timer);
      if (err) session.destroy(err);
    });
    if (!sent) {
      clearTimeout(timer);
      session.destroy(new Error('could not PING the apiserver: connection dropped'));
    }
  }
}
