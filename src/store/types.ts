// The contract between signers (writers) and responders (readers) of pre-signed OCSP responses.
// Keys are (issuerId, serial): issuerId names the issuer by its key (see ./keys.ts), serial is
// canonical lowercase hex. Values carry what the HTTP layer needs without re-parsing the DER.

/** The certificate status the signed response asserts (kept so that pools can count them). */
export type StoredStatus = 'good' | 'revoked' | 'unknown';

/** What a signer hands to `put`. */
export interface ResponseRecord {
  issuerId: string;
  serial: string;
  /** The complete, signed OCSPResponse (DER). */
  der: Uint8Array;
  /** Epoch milliseconds. */
  thisUpdate: number;
  /** Epoch milliseconds; the response is useless after it. */
  nextUpdate: number;
  status: StoredStatus;
}

/** What a responder reads. `etag` is derived from the DER at write time so it is stable everywhere. */
export interface StoredResponse {
  der: Uint8Array;
  thisUpdate: number;
  nextUpdate: number;
  etag: string;
  status: StoredStatus;
}

/**
 * How far behind the authoritative copy this reader may be. `lagMs` is the age of the newest proof
 * of freshness (a heartbeat, or for a writer 0); `detached` means the reader knows it is not
 * following the source at all (replication link down, replica promoted, log file replaced).
 */
export interface StoreLag {
  lagMs: number;
  detached: boolean;
  /** Replication bytes not yet applied, where measurable. */
  bytesBehind?: number;
  detail?: string;
}

export interface StoredEntry extends StoredResponse {
  issuerId: string;
  serial: string;
}

export interface ResponseStore {
  /** Resolves only once every record is durable (fsynced / acknowledged by the primary). */
  put(records: readonly ResponseRecord[]): Promise<void>;
  /**
   * A synchronous answer when the store has the data in memory, a promise when it must ask a
   * server; callers handle both so the embedded hot path allocates no promise.
   */
  get(issuerId: string, serial: string): StoredResponse | undefined | Promise<StoredResponse | undefined>;
  /** Every stored response, for pool-wide freshness checks; order is unspecified. */
  entries(): AsyncIterable<StoredEntry>;
  /** Freshness probe; a store that is its own source of truth reports lag 0. */
  lag(): Promise<StoreLag>;
  close(): Promise<void>;
  /** An embedded log's: how its last (re)load indexed it. */
  readonly lastLoad?: LogLoad;
}

/** How an embedded log was indexed when it was opened (or read again after a compaction). */
export interface LogLoad {
  /** Log bytes a checkpoint of the index covered (0: none was used). */
  checkpointBytes: number;
  /** Log bytes whose frames were read and indexed one by one. */
  scannedBytes: number;
}
