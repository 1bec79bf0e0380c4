export type { LogLoad, StoredStatus, ResponseRecord, ResponseStore, StoredEntry, StoredResponse, StoreLag } from './types.js';
export { canonicalSerial, issuerIdFromKeyHash, isIssuerId, hexOf } from './keys.js';
export { etagFor } from './etag.js';
export { EmbeddedStore, type EmbeddedStoreOptions } from './embedded.js';
export { WriterLockHeldError, type LockHolder } from './writer-lock.js';
export { EmbeddedFollower, type EmbeddedFollowerOptions } from './embedded-follower.js';
export { RedisWriter, type RedisWriterOptions } from './redis-writer.js';
export { RedisReader, type RedisReaderOptions } from './redis-reader.js';
export { openStore, redisOptionsFromUrl, redisPasswordFromEnv, type StoreSpec } from './open.js';
