// The API client's HTTP/2 connection (src/kube/http2-connection.ts) against real servers on
// 127.0.0.1: an HTTP/2 TLS server, a TLS server that offers only HTTP/1.1, and a TCP relay that can
// go silent like a peer that vanished. One connection carries concurrent requests; a server
// without h2 is left to HTTP/1.1; a GOAWAY, new TLS material or a dead peer opens a new connection.
import { createSecureServer, type Http2SecureServer, type ServerHttp2Session } from 'node:http2';
import { createServer as createHttpsServer, type RequestOptions } from 'node:https';
import { createServer as createTcpServer, connect as tcpConnect, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Http2Connection } from '../../src/kube/http2-connection.js';
import { createCa, issueLeaf, type Ca, type Issued } from '../support/pki.js';

let ca: Ca;
let leaf: Issued;
let client: { certPem: string; keyPem: string };
let h2: Http2SecureServer;
let h2Port: number;
const sessions: ServerHttp2Session[] = [];
/** Each request's method, path and the headers the handler looks at. */
const seen: { method: string; path: string; authorization?: string; contentType?: string; body: string }[] = [];
/** Streams the server leaves unanswered while true. */
let stall = false;

const port = (s: { address(): unknown }) => (s.address() as AddressInfo).port;

beforeAll(async () => {
  ca = await createCa();
  leaf = await issueLeaf(ca, { dnsNames: ['api.test'], ocspUrl: null, freshKey: true });
  client = await issueLeaf(ca, { dnsNames: ['client.test'], ocspUrl: null, freshKey: true });
  h2 = createSecureServer({ key: leaf.keyPem, cert: leaf.certPem });
  h2.on('session', (s) => sessions.push(s));
  h2.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const path = String(headers[':path']);
      seen.push({
        method: String(headers[':method']),
        path,
        authorization: headers.authorization,
        contentType: headers['content-type'],
        body: Buffer.concat(chunks).toString('utf8'),
      });
      if (stall) return;
      if (path.startsWith('/busy')) {
        stream.respond({ ':status': 429, 'retry-after': '2', 'content-type': 'application/json' });
        stream.end('{"kind":"Status","reason":"TooManyRequests"}');
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      stream.end(JSON.stringify({ path }));
    });
  });
  await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
  h2Port = port(h2);
});

afterAll(async () => {
  for (const s of sessions) s.destroy();
  await new Promise<void>((r) => h2.close(() => r()));
});

/** What ClusterAccess.authorize would put on a request: the CA, a client certificate, a token. */
const authorized = (o: Partial<RequestOptions> = {}): RequestOptions => ({
  ca: ca.certPem,
  cert: client.certPem,
  key: client.keyPem,
  servername: 'api.test',
  headers: { Accept: 'application/json', Authorization: 'Bearer t0ken' },
  ...o,
});

const get = (c: Http2Connection, path: string, o?: Partial<RequestOptions>, timeoutMs = 5_000) =>
  c.request('GET', new URL(`https://127.0.0.1${path}`), authorized(o), undefined, timeoutMs);

describe('Http2Connection', () => {
  it('carries concurrent requests over one TLS connection, headers and bodies as sent', async () => {
    const c = new Http2Connection(new URL(`https://127.0.0.1:${h2Port}`), 5_000);
    seen.length = 0;
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => get(c, `/api/v1/namespaces/ns/configmaps/cm-${i}?limit=5`)));
    expect(answers.map((a) => a?.status)).toEqual(Array(50).fill(200));
    expect(answers.map((a) => JSON.parse(a?.text ?? '{}') as { path: string })).toEqual(
      Array.from({ length: 50 }, (_, i) => ({ path: `/api/v1/namespaces/ns/configmaps/cm-${i}?limit=5` })),
    );
    expect(c.connections).toBe(1);
    expect(seen.every((s) => s.method === 'GET' && s.authorization === 'Bearer t0ken')).toBe(true);

    const body = Buffer.from(JSON.stringify({ kind: 'ConfigMap' }));
    const posted = await c.request(
      'POST',
      new URL('https://127.0.0.1/api/v1/namespaces/ns/configmaps'),
      authorized({ headers: { Authorization: 'Bearer t0ken', 'Content-Type': 'application/json', 'Content-Length': body.length } }),
      body,
      5_000,
    );
    expect(posted?.status).toBe(200);
    expect(seen.at(-1)).toMatchObject({ method: 'POST', contentType: 'application/json', body: '{"kind":"ConfigMap"}' });

    const busy = await get(c, '/busy');
    expect(busy).toMatchObject({ status: 429, retryAfter: '2' });
    expect(c.connections).toBe(1);
  });

  it('leaves a server that does not offer h2 to HTTP/1.1, asking it once', async () => {
    let handshakes = 0; // TCP connections the server accepted
    const http1 = createHttpsServer({ key: leaf.keyPem, cert: leaf.certPem }, (_req, res) => res.end('{}'));
    http1.on('connection', () => handshakes++);
    await new Promise<void>((r) => http1.listen(0, '127.0.0.1', r));
    try {
      const c = new Http2Connection(new URL(`https://127.0.0.1:${port(http1)}`), 5_000);
      expect(await get(c, '/api')).toBeUndefined();
      expect(await get(c, '/api')).toBeUndefined();
      expect(handshakes).toBe(1);
      expect(c.connections).toBe(0);
    } finally {
      http1.closeAllConnections();
      await new Promise<void>((r) => http1.close(() => r()));
    }
  });

  it('opens a new connection after the server said GOAWAY, and for new TLS material', async () => {
    const c = new Http2Connection(new URL(`https://127.0.0.1:${h2Port}`), 5_000);
    expect((await get(c, '/first'))?.status).toBe(200);
    const first = sessions.at(-1);
    first?.goaway();
    await new Promise<void>((r) => setTimeout(r, 100)); // the GOAWAY frame crosses the loopback
    expect((await get(c, '/after-goaway'))?.status).toBe(200);
    expect(c.connections).toBe(2);
    expect(sessions.at(-1)).not.toBe(first);

    // A rotated client certificate (an exec plugin's new credential) is a new TLS identity.
    const rotated = await issueLeaf(ca, { dnsNames: ['client.test'], ocspUrl: null, freshKey: true });
    expect((await get(c, '/rotated', { cert: rotated.certPem, key: rotated.keyPem }))?.status).toBe(200);
    expect(c.connections).toBe(3);
    expect((await get(c, '/rotated-again', { cert: rotated.certPem, key: rotated.keyPem }))?.status).toBe(200);
    expect(c.connections).toBe(3);
    // The same bytes in fresh Buffers (client-node's authorize makes new ones each time) are the same identity.
    const fresh = () => ({ ca: Buffer.from(ca.certPem), cert: Buffer.from(rotated.certPem), key: Buffer.from(rotated.keyPem) });
    expect((await get(c, '/fresh-buffers', fresh()))?.status).toBe(200);
    expect((await get(c, '/fresh-buffers-again', fresh()))?.status).toBe(200);
    expect(c.connections).toBe(3);
  });

  it('times a silent request out, and drops a connection whose peer no longer answers a PING', async () => {
    // A relay between client and server that can stop passing bytes: a peer gone without a FIN.
    let silent = false;
    const sockets: Socket[] = [];
    const relay: Server = createTcpServer((down) => {
      const up = tcpConnect(h2Port, '127.0.0.1');
      sockets.push(down, up);
      down.on('data', (d: Buffer) => !silent && up.write(d));
      up.on('data', (d: Buffer) => !silent && down.write(d));
      down.on('error', () => up.destroy());
      up.on('error', () => down.destroy());
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    try {
      const c = new Http2Connection(new URL(`https://127.0.0.1:${port(relay)}`), 5_000, 300);
      expect((await get(c, '/before'))?.status).toBe(200);
      silent = true;
      await expect(get(c, '/lost', {}, 300)).rejects.toThrow(/no answer within 300 ms/);
      await new Promise<void>((r) => setTimeout(r, 600)); // the PING goes unanswered for longer than 300 ms
      silent = false;
      expect((await get(c, '/after'))?.status).toBe(200);
      expect(c.connections).toBe(2);

      // A slow answer on a live connection times its request out but keeps the connection.
      stall = true;
      await expect(get(c, '/stalled', {}, 300)).rejects.toThrow(/no answer within 300 ms/);
      stall = false;
      await new Promise<void>((r) => setTimeout(r, 600));
      expect((await get(c, '/still-here'))?.status).toBe(200);
      expect(c.connections).toBe(2);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => relay.close(() => r()));
    }
  });
});
