// One probe of one TLS endpoint: a handshake that asks for the staple (status_request), the
// certificate chain the server sent, and the staple it sent with it, judged by checkStaple.
import { readFileSync } from 'node:fs';
import { connect, type ConnectionOptions, type DetailedPeerCertificate } from 'node:tls';
import type { X509Certificate } from '@peculiar/x509';
import { parsePemChain } from '../ocsp/index.js';
import { checkStaple, type Problem, type StapleCheck } from './check.js';
import { endpointName, type Endpoint } from './endpoint.js';

export type ProbeResult =
  | { endpoint: Endpoint; at: Date; ok: true; latencyMs: number; check: StapleCheck; problem?: Problem }
  | { endpoint: Endpoint; at: Date; ok: false; latencyMs: number; problem: Problem };

export interface Handshake {
  /** DER certificates as the server sent them, leaf first */
  chain: Uint8Array[];
  staple?: Uint8Array;
}

/** Connects, asks for the staple, and returns what the server sent. Rejects on any TLS or network error. */
export function tlsHandshake(e: Endpoint, timeoutMs: number): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    let staple: Uint8Array | undefined;
    // We judge the staple, not the chain: no verification, so a private CA needs no trust store here.
    // tls.connect hands requestOCSP to the TLSSocket it makes; @types/node lists it only there.
    const options: ConnectionOptions & { requestOCSP: boolean } = {
      host: e.host,
      port: e.port,
      requestOCSP: true,
      rejectUnauthorized: false,
      ...(e.servername ? { servername: e.servername } : {}),
    };
    const socket = connect(options);
    const timer = setTimeout(() => socket.destroy(new Error(`no TLS handshake within ${timeoutMs} ms`)), timeoutMs);
    socket.on('OCSPResponse', (b: Buffer | null) => {
      staple = b && b.length ? new Uint8Array(b) : undefined;
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const chain: Uint8Array[] = [];
      let c: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
      const seen = new Set<DetailedPeerCertificate>();
      while (c && c.raw && !seen.has(c)) {
        seen.add(c);
        chain.push(new Uint8Array(c.raw));
        c = c.issuerCertificate;
      }
      socket.end();
      if (chain.length === 0) reject(new Error('the server sent no certificate'));
      else resolve(staple ? { chain, staple } : { chain });
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Issuer PEM files are read once per path (a probe runs every interval). */
const issuerFiles = new Map<string, X509Certificate[]>();
function readIssuerFile(path: string): X509Certificate[] {
  let certs = issuerFiles.get(path);
  if (!certs) issuerFiles.set(path, (certs = parsePemChain(readFileSync(path, 'utf8'))));
  return certs;
}

export async function probeEndpoint(e: Endpoint, o: { now: () => Date; timeoutMs: number }): Promise<ProbeResult> {
  const started = performance.now();
  let hs: Handshake;
  try {
    hs = await tlsHandshake(e, o.timeoutMs);
  } catch (err) {
    return {
      endpoint: e,
      at: o.now(),
      ok: false,
      latencyMs: performance.now() - started,
      problem: { reason: 'HandshakeFailed', message: `TLS handshake with ${endpointName(e)} failed: ${(err as Error).message}` },
    };
  }
  const latencyMs = performance.now() - started;
  const at = o.now();
  try {
    const chain = hs.chain.flatMap((der) => parsePemChain(der));
    const issuerCandidates = e.issuerFile ? readIssuerFile(e.issuerFile) : [];
    const check = checkStaple({ chain, issuerCandidates, now: at, ...(hs.staple ? { staple: hs.staple } : {}) });
    const problem = check.problems[0];
    return problem ? { endpoint: e, at, ok: true, latencyMs, check, problem } : { endpoint: e, at, ok: true, latencyMs, check };
  } catch (err) {
    return {
      endpoint: e,
      at,
      ok: false,
      latencyMs,
      problem: { reason: 'BadCertificate', message: `${endpointName(e)}: ${(err as Error).message}` },
    };
  }
}
