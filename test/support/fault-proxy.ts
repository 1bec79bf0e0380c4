// A fault-injecting HTTP proxy in front of a real OCSP responder: it passes requests through, or
// answers the way broken responders and captive proxies do (down, slow, tryLater, a 5-byte body,
// an HTML page, a canned response for another certificate…). Bound to 127.0.0.1.
import { createServer, request, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FaultMode =
  | { kind: 'pass' }
  | { kind: 'reset' } // accept, then drop the connection: a responder that is down
  | { kind: 'slow'; delayMs: number }
  | { kind: 'status'; code: number }
  | { kind: 'body'; body: Uint8Array; contentType?: string }; // a fixed answer: tryLater, 5 bytes, HTML, a wrong response

export interface FaultProxy {
  url: string;
  /** The real responder behind the proxy; settable, since certificates name the proxy first. */
  upstream: string;
  mode: FaultMode;
  requests: number;
  close(): Promise<void>;
}

export async function startFaultProxy(upstream = ''): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  const state: FaultProxy = { url: '', upstream, mode: { kind: 'pass' }, requests: 0, close: async () => {} };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    state.requests++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const mode = state.mode;
      switch (mode.kind) {
        case 'reset':
          req.socket.destroy();
          return;
        case 'status':
          res.writeHead(mode.code, { 'Content-Type': 'text/plain' }).end('error');
          return;
        case 'body':
          res.writeHead(200, { 'Content-Type': mode.contentType ?? 'application/ocsp-response' }).end(Buffer.from(mode.body));
          return;
        case 'slow':
          setTimeout(() => forward(state.upstream, req, Buffer.concat(chunks), res), mode.delayMs);
          return;
        case 'pass':
          forward(state.upstream, req, Buffer.concat(chunks), res);
      }
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  state.close = () =>
    new Promise((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return state;
}

function forward(upstream: string, req: IncomingMessage, body: Buffer, res: ServerResponse): void {
  const target = new URL(req.url ?? '/', upstream);
  const up = request(
    target,
    {
      method: req.method,
      headers: { 'Content-Type': req.headers['content-type'] ?? 'application/ocsp-request', 'Content-Length': body.length },
      timeout: 10_000,
    },
    (ures) => {
      res.writeHead(ures.statusCode ?? 502, { 'Content-Type': ures.headers['content-type'] ?? 'application/octet-stream' });
      ures.pipe(res);
    },
  );
  up.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  up.end(body);
}
