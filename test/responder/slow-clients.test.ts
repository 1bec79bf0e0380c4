// Slow clients must not hold connections. Node enforces headersTimeout only when it sweeps its
// connections (every 30 s by default): before this guard, 3,000 connections that had sent half a
// request line were all still open 12 s after a 5 s headers timeout. In one process with small
// numbers: a silent connection and half a request line are closed within the headers timeout plus
// one sweep, garbage gets its 400 and is closed even if the peer keeps its side open, and at the
// connection cap the oldest connection without a request is evicted, or the new one refused.
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePemChain } from '../../src/ocsp/index.js';
import { startResponder } from '../../src/responder/index.js';
import { sweepIntervalMs } from '../../src/responder/connection-guard.js';
import { EmbeddedStore } from '../../src/store/index.js';
import { oneResponseStore, type ServedCertificate } from './pod-process.js';

/** Scheduling slack on two shared, busy cores. */
const SLACK_MS = 1_500;

interface SlowClient {
  socket: Socket;
  connectedAt: number;
  closedAt: number | undefined;
  /** What the server sent before closing: a 408 for a timeout, nothing for an eviction. */
  received: string;
}

/** Connects and sends `line` (maybe nothing), then neither sends more nor closes. */
function slowClient(port: number, line: string): Promise<SlowClient> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const c: SlowClient = { socket, connectedAt: 0, closedAt: undefined, received: '' };
    socket.on('connect', () => {
      c.connectedAt = Date.now();
      if (line) socket.write(line);
      resolve(c);
    });
    socket.on('data', (d: Buffer) => (c.received += d.toString('latin1')));
    socket.on('error', () => undefined); // an evicted connection may see a reset
    socket.on('close', () => {
      c.closedAt ??= Date.now();
      resolve(c); // if it never connected
    });
  });
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name.replace(/[{}"]/g, (ch) => `\\${ch}`)} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

describe('the connection cap in one process', { timeout: 30_000 }, () => {
  let served: ServedCertificate;
  let store: EmbeddedStore;
  let port: number;
  let close: () => Promise<void>;
  let metrics: () => Promise<string>;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    served = await oneResponseStore();
    store = await EmbeddedStore.open({ path: `${served.dir}/responses.log` });
    const [ca] = parsePemChain(await readFile(`${served.dir}/ca.pem`, 'utf8'));
    const r = await startResponder({ store, issuers: [ca!], lagPolicy: 'Unauthorized', logLevel: 'silent', maxConnections: 3, headersTimeoutMs: 1_000, keepAliveTimeoutMs: 20_000, requestTimeoutMs: 2_000 });
    port = Number(new URL(r.url).port);
    close = () => r.close();
    metrics = () => r.metrics.registry.metrics();
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await close?.();
    await store?.close();
    await served?.remove();
  });

  /** A connection that has completed one request and stays open (keep-alive). */
  async function keptAlive(): Promise<Socket> {
    const s = connect(port, '127.0.0.1');
    sockets.push(s);
    await new Promise<void>((resolve) => {
      s.once('connect', () => s.write(`GET ${served.getPath} HTTP/1.1\r\nHost: x\r\n\r\n`));
      s.once('data', () => resolve());
    });
    return s;
  }

  async function silent(): Promise<SlowClient> {
    const c = await slowClient(port, '');
    sockets.push(c.socket);
    return c;
  }

  const settle = () => new Promise((r) => setTimeout(r, 100));

  it('evicts the oldest connection without a request to admit a new one, and refuses when every connection has served', async () => {
    const a = await silent();
    await keptAlive();
    const c = await silent();
    await settle();
    const d = await silent(); // the fourth: `a`, the oldest without a request, makes room
    await settle();
    expect(a.closedAt).toBeDefined();
    expect(c.closedAt).toBeUndefined();
    expect(d.closedAt).toBeUndefined();
    // Now `c` and `d` are the ones without a request; let them send theirs.
    for (const x of [c, d]) x.socket.write(`GET ${served.getPath} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await settle();
    const e = await silent(); // nothing left to evict: refused
    await settle();
    expect(e.closedAt).toBeDefined();
    expect(e.received).toBe('');
    const text = await metrics();
    expect(metric(text, 'ocsp_responder_connections_shed_total{reason="evicted"}')).toBe(1);
    expect(metric(text, 'ocsp_responder_connections_shed_total{reason="refused"}')).toBe(1);
    expect(metric(text, 'ocsp_responder_connections_open')).toBe(3);
    for (const s of sockets) s.destroy();
  });

  it('times out a silent connection and a half request line at headersTimeout + one sweep, with a 408', async () => {
    await settle();
    const quiet = await silent();
    const half = await slowClient(port, 'GET /MFMw');
    sockets.push(half.socket);
    const bound = 1_000 + sweepIntervalMs(1_000);
    await new Promise((r) => setTimeout(r, bound + SLACK_MS));
    for (const c of [quiet, half]) {
      expect(c.closedAt).toBeDefined();
      expect(c.received).toMatch(/^HTTP\/1\.1 408 /);
      expect(c.closedAt! - c.connectedAt).toBeGreaterThanOrEqual(950);
      expect(c.closedAt! - c.connectedAt).toBeLessThanOrEqual(bound + SLACK_MS);
    }
  });

  it('closes a connection that sent garbage and then keeps its side open', async () => {
    const g = await slowClient(port, 'NOT HTTP AT ALL\r\n\r\n');
    sockets.push(g.socket);
    await new Promise((r) => setTimeout(r, 1_000 + SLACK_MS));
    expect(g.received).toMatch(/^HTTP\/1\.1 400 /);
    expect(g.closedAt).toBeDefined();
  });
});
