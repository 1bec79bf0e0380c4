// Key names and INFO parsing shared by the Redis writer and readers.

export interface RedisKeyspace {
  /** Prefix for every key this store writes, so one Redis can host several pools. */
  prefix: string;
}

export const DEFAULT_PREFIX = 'ocsp:';

export function responseKey(prefix: string, issuerId: string, serial: string): string {
  return `${prefix}r:${issuerId}:${serial}`;
}

export function responsePattern(prefix: string): string {
  return `${prefix}r:*`;
}

/** The writer stores its wall-clock time (epoch ms) here every second. */
export function heartbeatKey(prefix: string): string {
  return `${prefix}heartbeat`;
}

/** `INFO replication` as a map of its `key:value` lines. */
export function parseInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return out;
}
