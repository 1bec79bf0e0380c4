// From the bytes of a request (a GET path or a POST body) to the (issuerId, serial) the store is
// keyed by. Parsing ASN.1 costs far more than the rest of a request, and clients (and caches
// revalidating) send the very same bytes again and again, so successful resolutions are kept in a
// bounded map keyed by those exact bytes. What is cached depends only on the bytes and the
// configured issuers, never on the store, so it can never serve a stale answer.
import { decodeOcspGetPath, OcspInputError, parseOcspRequest } from '../ocsp/index.js';
import { canonicalSerial } from '../store/keys.js';
import type { IssuerIndex } from './issuers.js';

export interface Resolved {
  /** undefined when the CertID names an issuer this responder does not serve */
  issuerId: string | undefined;
  serial: string;
}

/** Keys longer than this are not cached, so a client cannot make the cache large. */
const MAX_KEY_CHARS = 1024;

export class RequestResolver {
  private readonly cache = new Map<string, Resolved>();

  constructor(
    private readonly issuers: IssuerIndex,
    private readonly maxBytes: number,
    private readonly cacheEntries = 10_000,
  ) {}

  /** `rest` is the URL path after the responder's prefix. Throws OcspInputError. */
  fromGetPath(rest: string): Resolved {
    const hit = this.cache.get(rest);
    if (hit !== undefined) return hit;
    const r = this.resolveDer(decodeOcspGetPath(rest, { maxBytes: this.maxBytes }));
    this.remember(rest, r);
    return r;
  }

  /** Throws OcspInputError. */
  fromBody(body: Buffer): Resolved {
    // latin1 maps bytes 1:1 to chars; the 'P' keeps POST keys apart from GET paths.
    const key = body.length < MAX_KEY_CHARS ? 'P' + body.toString('latin1') : undefined;
    if (key !== undefined) {
      const hit = this.cache.get(key);
      if (hit !== undefined) return hit;
    }
    const r = this.resolveDer(body);
    if (key !== undefined) this.remember(key, r);
    return r;
  }

  private resolveDer(der: Uint8Array): Resolved {
    const { certIds } = parseOcspRequest(der);
    // RFC 5019 2.1.1: one certificate per request; a pre-signed response answers exactly one.
    if (certIds.length !== 1)
      throw new OcspInputError(`OCSP request asks about ${certIds.length} certificates; this responder answers one per request`);
    const id = certIds[0]!;
    if (id.serialNumber.length === 0) throw new OcspInputError('CertID has an empty serial number');
    return { issuerId: this.issuers.resolve(id), serial: canonicalSerial(id.serialNumber) };
  }

  private remember(key: string, r: Resolved): void {
    if (key.length > MAX_KEY_CHARS) return;
    if (this.cache.size >= this.cacheEntries) {
      // Drop the oldest insertion (Map keeps insertion order): cheap, and good enough for a
      // working set that is mostly stable.
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(key, r);
  }
}
