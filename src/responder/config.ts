// Responder settings. The lag policy has no default on purpose: what a responder answers while its
// store lags is a decision the operator of the pool makes, not an accident of the code.
import type { X509Certificate } from '@peculiar/x509';
import type { Logger } from 'pino';
import { LAG_POLICIES } from '../api/pool.js';
import type { ResponseStore } from '../store/types.js';
import type { Pod } from './worker-link.js';

/**
 * ServeWhatItHas: keep answering from the (possibly stale) store; every response served is still a
 *   correctly signed one inside its validity window, and readiness already steers traffic away.
 * Unauthorized: while lagging, answer `unauthorized` to everything, vouching for nothing.
 * TryLater: while lagging, answer `tryLater`: vouch for nothing, but tell clients to ask again
 *   (elsewhere) rather than that the certificate is unknown — requests that reach the responder
 *   before readiness takes it out of rotation are not refused as `unauthorized`.
 */
export type LagPolicy = (typeof LAG_POLICIES)[number];
export { LAG_POLICIES }; // one list: the CRD's enum

export interface ResponderConfig {
  store: ResponseStore;
  /** The CA certificates whose responses this responder serves; CertIDs naming others are refused. */
  issuers: readonly X509Certificate[];
  lagPolicy: LagPolicy;
  /** Store lag above which /readyz fails (and the Unauthorized policy applies). */
  lagThresholdMs?: number;
  lagPollMs?: number;
  host?: string;
  port?: number;
  /** URL path under which OCSP is served; GET requests carry the base64 request after it. */
  pathPrefix?: string;
  maxBodyBytes?: number;
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  /** Connections this process holds at most; see connection-guard.ts for what happens at the cap. */
  maxConnections?: number;
  maxHeaderBytes?: number;
  /** Fraction of the remaining validity by which max-age is shortened, varied per response. */
  maxAgeSpread?: number;
  /** Upper bound on max-age, if any (seconds). */
  maxAgeCapSeconds?: number;
  /** max-age for `unauthorized`/`malformedRequest`; 0 sends `no-store`. */
  errorMaxAgeSeconds?: number;
  logger?: Logger;
  logLevel?: string;
  now?: () => number;
  /** Set in a worker of a pod: /readyz and /metrics then answer for the whole pod. */
  pod?: Pod;
  /** /metrics on the public port too (default); false when the pod serves it on a port of its own (`--metrics-addr`). */
  publicMetrics?: boolean;
}

/** How often the store's lag is probed; a pod's primary counts a worker silent for 4 of these as not ready. */
export const DEFAULT_LAG_POLL_MS = 500;

type Optional = 'maxAgeCapSeconds' | 'logger' | 'logLevel' | 'pod';
export type ResolvedConfig = Required<Omit<ResponderConfig, Optional>> & Pick<ResponderConfig, Optional>;

export function resolveConfig(c: ResponderConfig): ResolvedConfig {
  if (!LAG_POLICIES.includes(c.lagPolicy))
    throw new Error(`lagPolicy must be one of ${LAG_POLICIES.join(', ')}, got ${String(c.lagPolicy)}`);
  if (c.issuers.length === 0) throw new Error('a responder needs at least one issuer');
  const prefix = c.pathPrefix ?? '/';
  if (!prefix.startsWith('/')) throw new Error(`pathPrefix must start with '/': ${prefix}`);
  return {
    lagThresholdMs: 5_000,
    lagPollMs: DEFAULT_LAG_POLL_MS,
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: 4_096,
    headersTimeoutMs: 5_000,
    requestTimeoutMs: 10_000,
    keepAliveTimeoutMs: 5_000,
    maxConnections: 8_192,
    maxHeaderBytes: 8_192,
    maxAgeSpread: 0.1,
    errorMaxAgeSeconds: 0,
    publicMetrics: true,
    now: Date.now,
    ...stripUndefined(c),
    pathPrefix: prefix.endsWith('/') ? prefix : `${prefix}/`,
  };
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
