// Decoding the GET form of an OCSP request (RFC 6960 A.1) on the responder side. Tolerant, because
// real clients and proxies mangle it: a '//' after a base URL ending in '/', percent-encoded base64,
// base64url, '+' turned into ' ', padding dropped. Strict about what comes out: one DER SEQUENCE.
import { readTlv } from './der.js';
import { OcspInputError } from './errors.js';

const DEFAULT_MAX_BYTES = 8192;

/**
 * `path` is the part after the responder's mount point (the request line path, minus any prefix).
 * Returns the DER request bytes or throws OcspInputError.
 */
export function decodeOcspGetPath(path: string, opts: { maxBytes?: number } = {}): Uint8Array {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  // Worst case every base64 character arrives percent-encoded: 3 characters each.
  const maxPathChars = Math.ceil(maxBytes / 3) * 4 * 3 + 64;
  if (path.length > maxPathChars)
    throw new OcspInputError(`GET path of ${path.length} characters is longer than a ${maxBytes}-byte request allows`);
  // A DER request starts with 0x30, so its base64 starts with 'M': leading slashes are never data.
  let s = path.replace(/[?#].*$/s, '').replace(/^\/+/, '');
  if (s === '') throw new OcspInputError('GET path holds no request');
  s = s.replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  if (s.includes('%')) throw new OcspInputError('GET path has a malformed percent-escape');
  s = s
    .replace(/ /g, '+') // a form-decoding proxy turned '+' into ' '
    .replace(/-/g, '+')
    .replace(/_/g, '/') // base64url
    .replace(/\s+/g, '');
  s = s.replace(/=+$/, '');
  if (!/^[A-Za-z0-9+/]*$/.test(s)) {
    const bad = /[^A-Za-z0-9+/]/.exec(s)?.[0] ?? '';
    throw new OcspInputError(`GET path is not base64: unexpected ${JSON.stringify(bad)}`);
  }
  if (s.length % 4 === 1) throw new OcspInputError(`GET path is not base64: ${s.length} characters cannot be a whole encoding`);
  const der = new Uint8Array(Buffer.from(s, 'base64'));
  if (der.length > maxBytes) throw new OcspInputError(`GET request of ${der.length} bytes exceeds the ${maxBytes}-byte limit`);
  if (der[0] !== 0x30) throw new OcspInputError('GET path does not decode to a DER SEQUENCE');
  let end: number;
  try {
    end = readTlv(der, 0).end;
  } catch (e) {
    throw new OcspInputError(`GET path does not decode to a whole DER request (${der.length} bytes): ${(e as Error).message}`);
  }
  if (end !== der.length) throw new OcspInputError(`GET request has ${der.length - end} bytes after the DER SEQUENCE`);
  return der;
}
