// RFC 5019 section 6 headers for a pre-signed response. Everything but max-age is fixed per
// response, so the header list is built once per response per second and reused by every request
// in that second; the hot path only compares two numbers.
//
// max-age ends at or before nextUpdate, and is shortened by a per-response fraction (derived from
// the ETag, so every responder replica agrees) so that responses signed in the same batch do not
// all expire from caches in the same second.
import type { StoredResponse } from '../store/types.js';

export interface HeaderPolicy {
  spread: number;
  capSeconds: number | undefined;
}

interface Prepared {
  second: number;
  maxAge: number;
  ok: string[];
  notModified: string[];
  readonly jitter: number;
  readonly fixed: string[];
}

const cache = new WeakMap<StoredResponse, Prepared>();

export interface CacheHeaders {
  maxAge: number;
  ok: string[];
  notModified: string[];
}

export function cacheHeaders(r: StoredResponse, nowMs: number, policy: HeaderPolicy): CacheHeaders {
  const second = Math.floor(nowMs / 1000);
  let p = cache.get(r);
  if (p === undefined) {
    p = {
      second: -1,
      maxAge: 0,
      ok: [],
      notModified: [],
      jitter: jitterOf(r.etag),
      fixed: ['ETag', r.etag, 'Last-Modified', new Date(r.thisUpdate).toUTCString(), 'Expires', new Date(r.nextUpdate).toUTCString()],
    };
    cache.set(r, p);
  }
  if (p.second !== second) {
    const remaining = Math.max(0, Math.floor((r.nextUpdate - nowMs) / 1000));
    let maxAge = Math.floor(remaining * (1 - policy.spread * p.jitter));
    if (policy.capSeconds !== undefined) maxAge = Math.min(maxAge, policy.capSeconds);
    const cc = `max-age=${maxAge}, public, no-transform, must-revalidate`;
    p.second = second;
    p.maxAge = maxAge;
    p.ok = ['Content-Type', 'application/ocsp-response', 'Content-Length', String(r.der.byteLength), 'Cache-Control', cc, ...p.fixed];
    p.notModified = ['Cache-Control', cc, ...p.fixed];
  }
  return p;
}

/** A stable number in [0, 1) from the ETag (FNV-1a). */
export function jitterOf(etag: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < etag.length; i++) {
    h ^= etag.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) / 2 ** 32;
}

/** Headers for OCSP error bodies (unauthorized, malformedRequest, tryLater): never cached long. */
export function errorHeaders(body: Uint8Array, maxAgeSeconds: number): string[] {
  return [
    'Content-Type',
    'application/ocsp-response',
    'Content-Length',
    String(body.byteLength),
    'Cache-Control',
    maxAgeSeconds > 0 ? `max-age=${maxAgeSeconds}, public, no-transform, must-revalidate` : 'no-store',
  ];
}
