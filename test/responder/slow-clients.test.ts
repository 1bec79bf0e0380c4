// Slow clients must not hold connections. Node enforces headersTimeout only when it sweeps its
// connections (every 30 s by default): before this guard, 3,000 connections that had sent half a
// request line were all still open 12 s after a 5 s headers timeout. Here the pod as it runs
// (primary and two workers, default timeouts) takes a flood of 3,000 such connections (every tenth
// sends nothing at all) while a real client keeps asking; the flood must be closed within the
// headers timeout plus one sweep, the real client must keep getting its response, and no process
// may hold more descriptors than its connection cap allows. Then, in one process with small
// numbers, what the cap does (evict the oldest connection without a request, refuse when none),
// the timeouts one by one, garbage, and a client that stops reading its answers.
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePemChain } from '../../src/ocsp/index.js';
import { startResponder } from '../../src/responder/index.js';
import { sweepIntervalMs } from '../../src/responder/connection-guard.js';
import { EmbeddedStore } from '../../src/store/index.js';
import { fdCount, get, oneResponseStore, startPod, type PodProcess, type ServedCertificate } from './pod-process.js';

const HEADERS_TIMEOUT_MS = 5_000; // the responder's default
const FLOOD = 3_000;
const CAP = 1_000; // per worker: two workers hold 2,000 of the 3,000 at most
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

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

describe('a slow-client flood against the pod (primary and two workers)', { timeout: 90_000 }, () => {
  let served: ServedCertificate;
  let pod: PodProcess;
  const clients: SlowClient[] = [];

  beforeAll(async () => {
    served = await oneResponseStore();
    pod = await startPod(served, ['--workers', '2', '--max-connections', String(CAP)]);
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.socket.destroy();
    await pod?.stop();
    await served?.remove();
  });

  it('closes every flood connection within the headers timeout plus one sweep, serves a real client throughout, holds descriptors under the cap', async () => {
    const pids = { primary: pod.proc.pid!, workers: pod.workerPids() };
    expect(pids.workers).toHaveLength(2);
    const all = [pids.primary, ...pids.workers];
    const baseline = new Map(all.map((p) => [p, fdCount(p) ?? 0]));
    const peak = new Map(baseline);
    const sampler = setInterval(() => {
      for (const p of all) peak.set(p, Math.max(peak.get(p) ?? 0, fdCount(p) ?? 0));
    }, 100);

    // A real client: a fresh connection every 100 ms, as OCSP clients mostly make them.
    const real: { ok: boolean; ms: number }[] = [];
    let flooding = true;
    const realClient = (async () => {
      while (flooding) {
        const t = Date.now();
        const r = await get(pod.base + served.getPath, 3_000);
        real.push({ ok: r.status === 200 && r.body.equals(served.der), ms: Date.now() - t });
        await new Promise((res) => setTimeout(res, 100));
      }
    })();

    const floodStart = Date.now();
    // In batches, so the flood is not also a SYN flood overflowing the listen backlog.
    for (let i = 0; i < FLOOD; i += 200) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(200, FLOOD - i) }, (_, j) =>
          slowClient(pod.port, (i + j) % 10 === 0 ? '' : 'GET /MFMwUTBPME0wSzAJBgUr'),
        ),
      );
      clients.push(...batch);
    }
    const floodOpened = Date.now() - floodStart;
    const bound = HEADERS_TIMEOUT_MS + sweepIntervalMs(HEADERS_TIMEOUT_MS);
    const deadline = Date.now() + bound + SLACK_MS + 2_000;
    while (clients.some((c) => c.closedAt === undefined) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    flooding = false;
    await realClient;
    clearInterval(sampler);

    const timedOut = clients.filter((c) => c.received.startsWith('HTTP/1.1 408'));
    const evicted = clients.filter((c) => c.received === '');
    const heldMs = timedOut.map((c) => c.closedAt! - c.connectedAt);
    const growth = all.map((p) => (peak.get(p) ?? 0) - (baseline.get(p) ?? 0));
    const text = await (await fetch(`${pod.base}/metrics`)).text();
    process.stderr.write(
      `flood of ${FLOOD} opened in ${floodOpened} ms; ${timedOut.length} closed by the headers timeout after ${Math.min(...heldMs)}–${Math.max(...heldMs)} ms ` +
        `(bound ${bound} ms), ${evicted.length} evicted at the cap; real client ${real.filter((r) => r.ok).length}/${real.length} ok, ` +
        `p99 ${percentile(
          real.map((r) => r.ms),
          99,
        )} ms; descriptor growth primary ${growth[0]}, workers ${growth.slice(1).join(', ')} (cap ${CAP})\n`,
    );

    // Every flood connection was closed by the server, none left open.
    expect(clients.filter((c) => c.closedAt === undefined)).toHaveLength(0);
    expect(timedOut.length + evicted.length).toBe(FLOOD);
    // Timed-out ones: not before the headers timeout, and within it plus one sweep.
    expect(Math.min(...heldMs)).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
    expect(Math.max(...heldMs)).toBeLessThanOrEqual(bound + SLACK_MS);
    // Two workers hold 2,000 at most: the rest made room by evicting the oldest.
    expect(evicted.length).toBeGreaterThanOrEqual(FLOOD - 2 * CAP);
    expect(metric(text, 'ocsp_responder_connections_shed_total{reason="evicted"}')).toBe(evicted.length);
    expect(metric(text, 'ocsp_responder_connections_shed_total{reason="timeout"}')).toBe(timedOut.length);
    expect(metric(text, 'ocsp_responder_connections_max')).toBe(2 * CAP);
    // The real client was never starved.
    expect(real.length).toBeGreaterThan(20);
    expect(real.every((r) => r.ok)).toBe(true);
    // Descriptors: each worker at most its cap (plus the real client and a few in passing); the
    // primary only holds a connection between accepting it and handing it to a worker.
    for (const g of growth.slice(1)) expect(g).toBeLessThanOrEqual(CAP + 20);
    expect(growth[0]).toBeLessThanOrEqual(250);
    // And all of it is given back.
    for (const p of all) expect(fdCount(p)).toBeLessThanOrEqual((baseline.get(p) ?? 0) + 5);
  });
});

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
    const r = await startResponder({
      store,
      issuers: [ca!],
      lagPolicy: 'Unauthorized',
      logLevel: 'silent',
      maxConnections: 3,
      headersTimeoutMs: 1_000,
      keepAliveTimeoutMs: 20_000,
      requestTimeoutMs: 2_000,
    });
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

  it('closes a connection whose client pipelines requests and stops reading the answers', async () => {
    const reader = connect(port, '127.0.0.1');
    sockets.push(reader);
    reader.on('error', () => undefined);
    await new Promise((r) => reader.once('connect', r));
    reader.pause(); // reads nothing: the answers fill its buffers, then the server's
    const one = `GET ${served.getPath} HTTP/1.1\r\nHost: x\r\n\r\n`;
    reader.write(one.repeat(20_000));
    const open = async () => metric(await metrics(), 'ocsp_responder_connections_open');
    const start = Date.now();
    while ((await open()) > 0 && Date.now() - start < 15_000) await new Promise((r) => setTimeout(r, 200));
    expect(await open()).toBe(0);
    process.stderr.write(
      `a client that stopped reading was closed ${Date.now() - start} ms after its requests (headers timeout 1000 ms, request timeout 2000 ms)\n`,
    );
  });

  it('closes a connection that sent garbage and then keeps its side open', async () => {
    const g = await slowClient(port, 'NOT HTTP AT ALL\r\n\r\n');
    sockets.push(g.socket);
    await new Promise((r) => setTimeout(r, 1_000 + SLACK_MS));
    expect(g.received).toMatch(/^HTTP\/1\.1 400 /);
    expect(g.closedAt).toBeDefined();
  });
});
