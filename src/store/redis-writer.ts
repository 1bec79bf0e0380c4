// The Redis writer: signers put responses on the primary; replicas carry them to responders.
// A put is acknowledged when the primary has it and, if minReplicas is set, when that many
// replicas confirmed it (WAIT), since with persistence off replication is the durability.
// The writer also stamps a heartbeat key every second: readers compare it with their clock to
// know how stale their replica is even when no responses are being written.
import { Redis, type RedisOptions } from 'ioredis';
import { decodeEntry, encodeEntry } from './codec.js';
import { toEntry } from './embedded.js';
import { DEFAULT_PREFIX, heartbeatKey, responseKey, responsePattern } from './redis-keys.js';
import type { ResponseRecord, ResponseStore, StoredEntry, StoredResponse, StoreLag } from './types.js';

export interface RedisWriterOptions {
  /** Connection to the primary. */
  redis: RedisOptions;
  prefix?: string;
  /** Replicas that must confirm each put before it is acknowledged (WAIT); 0 = primary only. */
  minReplicas?: number;
  waitTimeoutMs?: number;
  heartbeatMs?: number;
  /** Keep a response this long past its nextUpdate (for diagnostics) before Redis expires it. */
  expiredRetentionMs?: number;
  now?: () => number;
}

// Newer thisUpdate wins (thisUpdate sits at byte 3 of the codec layout as a big-endian double),
// so a late signer cannot overwrite a fresher response; the key expires after nextUpdate.
const SET_IF_NEWER = `
local old = redis.call('GET', KEYS[1])
if old and string.len(old) >= 10 and struct.unpack('>d', old, 3) > tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[3])
return 1`;

export class RedisWriter implements ResponseStore {
  readonly client: Redis;
  private readonly prefix: string;
  private readonly now: () => number;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(private readonly opts: RedisWriterOptions) {
    this.prefix = opts.prefix ?? DEFAULT_PREFIX;
    this.now = opts.now ?? Date.now;
    this.client = new Redis({ maxRetriesPerRequest: 2, commandTimeout: 5_000, ...opts.redis });
    this.client.on('error', () => {
      // Connection errors surface as rejected commands; without a listener ioredis logs them.
    });
    const every = opts.heartbeatMs ?? 1_000;
    if (every > 0) {
      this.heartbeat = setInterval(() => void this.beat().catch(() => undefined), every);
      this.heartbeat.unref();
      void this.beat().catch(() => undefined);
    }
  }

  /** Stamp the heartbeat now (also what the interval does). */
  async beat(): Promise<void> {
    await this.client.set(heartbeatKey(this.prefix), String(this.now()));
  }

  async put(records: readonly ResponseRecord[]): Promise<void> {
    if (records.length === 0) return;
    const entries = records.map(toEntry);
    const retention = this.opts.expiredRetentionMs ?? 60 * 60_000;
    const p = this.client.pipeline();
    for (const e of entries) {
      p.eval(
        SET_IF_NEWER,
        1,
        responseKey(this.prefix, e.issuerId, e.serial),
        encodeEntry(e),
        String(e.thisUpdate),
        String(Math.ceil(e.nextUpdate + retention)),
      );
    }
    const results = await p.exec();
    for (const [err] of results ?? []) if (err) throw err;
    const min = this.opts.minReplicas ?? 0;
    if (min > 0) {
      const acked = await this.client.wait(min, this.opts.waitTimeoutMs ?? 5_000);
      if (acked < min) throw new Error(`only ${acked} of ${min} replicas confirmed the write`);
    }
  }

  async get(issuerId: string, serial: string): Promise<StoredResponse | undefined> {
    const buf = await this.client.getBuffer(responseKey(this.prefix, issuerId, serial));
    return buf === null ? undefined : decodeEntry(buf);
  }

  entries(): AsyncIterable<StoredEntry> {
    return scanEntries(this.client, this.prefix);
  }

  async lag(): Promise<StoreLag> {
    return { lagMs: 0, detached: this.client.status !== 'ready' };
  }

  async close(): Promise<void> {
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    await this.client.quit().catch(() => this.client.disconnect());
  }
}

export async function* scanEntries(client: Redis, prefix: string): AsyncIterable<StoredEntry> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', responsePattern(prefix), 'COUNT', 500);
    cursor = next;
    if (keys.length === 0) continue;
    const values = await client.mgetBuffer(...keys);
    for (const v of values) {
      if (v === null) continue;
      try {
        yield decodeEntry(v);
      } catch {
        // A value another program wrote under our prefix: not ours to serve.
      }
    }
  } while (cursor !== '0');
}
