// What a client may hold, and for how long. A connection costs a file descriptor and some memory
// whether or not it ever sends a request, so a flood of clients that connect and then trickle (or
// send nothing) must neither exhaust the process's descriptors nor crowd out clients that ask a
// question and leave.
//
// Time: Node enforces headersTimeout and requestTimeout only when it sweeps its connection list,
// every connectionsCheckingInterval (30 s by default), so a 5 s headers timeout really let a
// connection sit for up to 35 s. The sweep here runs often enough that the bound holds to within
// a fifth of the headers timeout (at most 1 s late). A connection that times out is told 408 and
// closed at once; one that sent garbage is told 400/431 and closed after a short linger, so the
// answer is not lost to a reset but the peer cannot keep the half-closed socket open either.
// Between requests, keepAliveTimeout closes an idle connection. A client that pipelines requests
// but stops reading the answers makes Node stop reading from it: a request it had begun then trips
// the headers timeout, and if it stopped right at the end of one, nothing is in progress and no
// keep-alive timer runs while answers wait, so the socket inactivity timeout (server.timeout, off
// by default) closes it after the request timeout.
//
// Space: at most `maxConnections` per process. At the cap, a new connection evicts the oldest one
// that has not yet completed a request (a slow client is the likeliest such, and a real client
// sends its request within a round trip of connecting, so it is rarely the oldest); only when
// every connection is serving or has served a request is the new one refused. Node's own
// server.maxConnections can only refuse the newcomer, which is what lets a flood that fills the
// cap starve real clients (and under the cluster module's round-robin a refused connection stays
// in the primary, offered to the workers again and again while its descriptor is held).
import type { IncomingMessage, Server, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';

export interface ConnectionLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
}

export type ShedReason = 'timeout' | 'evicted' | 'refused';

/** What the guard counts, for metrics. */
export interface ConnectionCounts {
  readonly open: number;
  readonly max: number;
}

/** How long a peer that sent something unparseable may keep the connection after our answer. */
const LINGER_MS = 1_000;

/** createServer options: the timeouts, and a sweep frequent enough that they hold. */
export function timeoutOptions(l: ConnectionLimits): ServerOptions {
  return {
    headersTimeout: l.headersTimeoutMs,
    requestTimeout: l.requestTimeoutMs,
    connectionsCheckingInterval: sweepIntervalMs(l.headersTimeoutMs),
  };
}

/**
 * How often Node sweeps for timed-out connections: a fifth of the headers timeout, from 50 ms to
 * 1 s. A connection is closed at most one sweep after its timeout.
 */
export function sweepIntervalMs(headersTimeoutMs: number): number {
  return Math.max(50, Math.min(1_000, Math.floor(headersTimeoutMs / 5)));
}

export class ConnectionGuard implements ConnectionCounts {
  /** Connections that have not completed a request, oldest first (a Set keeps insertion order). */
  private readonly waiting = new Set<Socket>();
  open = 0;
  readonly max: number;

  constructor(
    server: Server,
    limits: ConnectionLimits,
    private readonly shed: (reason: ShedReason) => void,
    private readonly log: Logger,
  ) {
    this.max = limits.maxConnections;
    server.keepAliveTimeout = limits.keepAliveTimeoutMs;
    server.timeout = limits.requestTimeoutMs;
    server.on('connection', (socket: Socket) => this.admit(socket));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.clientError(err, socket));
  }

  /** A request's headers arrived: its connection is no longer a candidate for eviction. */
  requested(req: IncomingMessage): void {
    this.waiting.delete(req.socket);
  }

  private admit(socket: Socket): void {
    if (this.open >= this.max) {
      const oldest = this.waiting.values().next();
      if (oldest.done) {
        socket.destroy();
        this.shed('refused');
        return;
      }
      this.waiting.delete(oldest.value);
      oldest.value.destroy();
      this.shed('evicted');
    }
    this.open++;
    this.waiting.add(socket);
    socket.once('close', () => {
      this.open--;
      this.waiting.delete(socket);
    });
  }

  // Unparseable HTTP, oversized headers, timeouts: answer if the socket still can, never throw.
  private clientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    this.log.debug({ err: err.message, code: err.code }, 'client error');
    const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    if (timeout) this.shed('timeout');
    // After `Connection: close` the response is already on its way; a second one would corrupt it.
    if (err.code === 'HPE_CLOSED_CONNECTION' || err.code === 'ECONNRESET' || !socket.writable || socket.writableEnded) {
      socket.destroy();
      return;
    }
    if (timeout) {
      answerAndClose(socket, 408, 'Request Timeout', 0);
    } else if (err.code === 'HPE_HEADER_OVERFLOW') {
      answerAndClose(socket, 431, 'Request Header Fields Too Large', LINGER_MS);
    } else {
      answerAndClose(socket, 400, 'Bad Request', LINGER_MS);
    }
  }
}

/**
 * Sends a bodiless status and closes. The server allows half-open sockets, so `end()` alone
 * would leave the descriptor open for as long as the peer keeps its side open: the timer closes
 * it regardless once the answer has had `lingerMs` to leave.
 */
function answerAndClose(socket: Duplex, status: number, reason: string, lingerMs: number): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  const timer = setTimeout(() => socket.destroy(), lingerMs).unref();
  socket.once('close', () => clearTimeout(timer));
}
