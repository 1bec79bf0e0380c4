// One declarative description of "which store", so the responder and signer subcommands (and the
// pool controller that renders their flags) share a single way to open one.
import type { RedisOptions } from 'ioredis';
import { EmbeddedFollower } from './embedded-follower.js';
import { EmbeddedStore } from './embedded.js';
import { RedisReader } from './redis-reader.js';
import { RedisWriter } from './redis-writer.js';
import type { ResponseStore } from './types.js';

export type StoreSpec =
  /** The process owns the log: signers, or a responder that also receives the writes. */
  | { kind: 'embedded'; path: string; lockWaitMs?: number }
  /** A responder tailing a log another process on the same machine writes. */
  | { kind: 'embedded-follower'; path: string; pollMs?: number }
  /** Signers: write to the primary. */
  | { kind: 'redis-writer'; primary: RedisOptions; prefix?: string; minReplicas?: number }
  /** Responders: read a replica (the primary only to measure bytes behind). */
  | { kind: 'redis-reader'; replica: RedisOptions; primary?: RedisOptions; prefix?: string };

export async function openStore(spec: StoreSpec): Promise<ResponseStore> {
  switch (spec.kind) {
    case 'embedded':
      return EmbeddedStore.open({ path: spec.path, ...(spec.lockWaitMs !== undefined ? { lockWaitMs: spec.lockWaitMs } : {}) });
    case 'embedded-follower':
      return EmbeddedFollower.open({ path: spec.path, ...(spec.pollMs !== undefined ? { pollMs: spec.pollMs } : {}) });
    case 'redis-writer':
      return new RedisWriter({
        redis: spec.primary,
        ...(spec.prefix !== undefined ? { prefix: spec.prefix } : {}),
        ...(spec.minReplicas !== undefined ? { minReplicas: spec.minReplicas } : {}),
      });
    case 'redis-reader':
      return new RedisReader({
        replica: spec.replica,
        ...(spec.primary ? { primary: spec.primary } : {}),
        ...(spec.prefix !== undefined ? { prefix: spec.prefix } : {}),
      });
  }
}

/** `redis://[user:pass@]host:port[/db]` (or `rediss://` for TLS) as ioredis options. */
/** `password` (from a Secret, through the environment) applies when the URL carries none. */
export function redisOptionsFromUrl(url: string, password?: string): RedisOptions {
  const u = new URL(url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`not a redis:// URL: ${url}`);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.password ? { password: decodeURIComponent(u.password) } : password ? { password } : {}),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/** The Redis password named by `--redis-password-env`: a named variable that is unset is an error, not "no password". */
export function redisPasswordFromEnv(name: string | undefined): string | undefined {
  if (!name) return undefined;
  const value = process.env[name];
  if (!value) throw new Error(`--redis-password-env ${name}: the environment variable is not set`);
  return value;
}
