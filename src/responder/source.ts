// The serving path asks a Source, and policies wrap Sources (Boulder's responder has the same
// shape): the store adapter, an expiry filter, the lag policy. They are composed once at start-up
// so the request path never branches on configuration.
import type { ResponseStore, StoredResponse } from '../store/types.js';
import type { LagPolicy } from './config.js';

/** Why no response is served. String constants, so the hot path allocates nothing to say so. */
export type Refusal = 'unknown' | 'lagging' | 'expired' | 'unavailable';
export type Lookup = StoredResponse | Refusal;

export interface Source {
  lookup(issuerId: string, serial: string): Lookup | Promise<Lookup>;
}

/** Reads the store; a store error becomes 'unavailable' rather than an exception. */
export function storeSource(store: ResponseStore): Source {
  return {
    lookup(issuerId, serial) {
      let r: ReturnType<ResponseStore['get']>;
      try {
        r = store.get(issuerId, serial);
      } catch {
        return 'unavailable';
      }
      if (r instanceof Promise)
        return r.then(
          (v) => v ?? 'unknown',
          () => 'unavailable' as const,
        );
      return r ?? 'unknown';
    },
  };
}

/** Never serve a response past its nextUpdate: clients would reject it, and it claims too much. */
export function notExpired(inner: Source, now: () => number): Source {
  const check = (r: Lookup): Lookup => (typeof r !== 'string' && r.nextUpdate <= now() ? 'expired' : r);
  return {
    lookup(issuerId, serial) {
      const r = inner.lookup(issuerId, serial);
      return r instanceof Promise ? r.then(check) : check(r);
    },
  };
}

/** With the Unauthorized and TryLater policies a lagging store vouches for nothing; ServeWhatItHas passes through. */
export function lagPolicy(inner: Source, policy: LagPolicy, isLagging: () => boolean): Source {
  if (policy === 'ServeWhatItHas') return inner;
  return {
    lookup(issuerId, serial) {
      return isLagging() ? 'lagging' : inner.lookup(issuerId, serial);
    },
  };
}
