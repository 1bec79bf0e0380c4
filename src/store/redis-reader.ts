// A responder's view of Redis: reads go to one replica; lag is measured from that replica's
// `INFO replication` (link state, processed offset) and the age of the writer's heartbeat as
// the replica has it. With a primary connection too, the offset difference gives bytes behind.
// A replica that is not following anyone (promoted with REPLICAOF NO ONE, link down) is detached.
import { Redis, type RedisOptions } from 'ioredis';
import { decodeEntry } from './codec.js';
import { DEFAULT_PREFIX, heartbeatKey, parseInfo, responseKey } from './redis-keys.js';
import { scanEntries } from './redis-writer.js';
import type { ResponseRecord, ResponseStore, StoredEntry, StoredResponse, StoreLag } from './types.js';

export interface RedisReaderOptions {
  /** Connection to the replica this responder reads from. */
  replica: RedisOptions;
  /** Optional connection to the primary, only to measure replication bytes behind. */
  primary?: RedisOptions;
  prefix?: string;
  now?: () => number;
}

export class RedisReader implements ResponseStore {
  readonly replica: Redis;
  private readonly primary: Redis | undefined;
  private readonly prefix: string;
  private readonly now: () => number;

  constructor(opts: RedisReaderOptions) {
    this.prefix = opts.prefix ?? DEFAULT_PREFIX;
    this.now = opts.now ?? Date.now;
    // Auto-pipelining batches the GETs of concurrent requests into one write to the socket.
    this.replica = new Redis({ enableAutoPipelining: true, maxRetriesPerRequest: 1, commandTimeout: 2_000, ...opts.replica });
    this.primary = opts.primary ? new Redis({ maxRetriesPerRequest: 1, commandTimeout: 2_000, ...opts.primary }) : undefined;
    for (const c of [this.replica, this.primary]) {
      c?.on('error', () => {
        // Surfaced through rejected commands and lag(); ioredis would otherwise log each retry.
      });
    }
  }

  async get(issuerId: string, serial: string): Promise<StoredResponse | undefined> {
    const buf = await this.replica.getBuffer(responseKey(this.prefix, issuerId, serial));
    return buf === null ? undefined : decodeEntry(buf);
  }

  put(_records: readonly ResponseRecord[]): Promise<void> {
    return Promise.reject(new Error('RedisReader is read-only; signers write with RedisWriter on the primary'));
  }

  async lag(): Promise<StoreLag> {
    try {
      const [info, hb] = await Promise.all([this.replica.info('replication'), this.replica.get(heartbeatKey(this.prefix))]);
      const r = parseInfo(info);
      const lagMs = hb === null ? Infinity : Math.max(0, this.now() - Number(hb));
      const role = r.get('role');
      const link = r.get('master_link_status');
      const detached = role !== 'slave' || link !== 'up';
      const lag: StoreLag = { lagMs, detached };
      if (detached)
        lag.detail =
          role !== 'slave' ? `replica is ${role ?? 'unknown'}, not following a primary` : `master_link_status ${link ?? 'unknown'}`;
      if (this.primary !== undefined && !detached) {
        const p = parseInfo(await this.primary.info('replication'));
        const behind = Number(p.get('master_repl_offset')) - Number(r.get('slave_repl_offset'));
        if (Number.isFinite(behind)) lag.bytesBehind = Math.max(0, behind);
      }
      return lag;
    } catch (e) {
      return { lagMs: Infinity, detached: true, detail: e instanceof Error ? e.message : String(e) };
    }
  }

  entries(): AsyncIterable<StoredEntry> {
    return scanEntries(this.replica, this.prefix);
  }

  async close(): Promise<void> {
    for (const c of [this.replica, this.primary]) await c?.quit().catch(() => c.disconnect());
  }
}
