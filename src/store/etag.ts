// A strong ETag derived from the DER bytes alone, so every replica and every responder process
// hands out the same validator for the same response (a CDN revalidating against another
// responder still gets its 304).
import { createHash } from 'node:crypto';

export function etagFor(der: Uint8Array): string {
  return `"${createHash('sha256').update(der).digest('base64url').slice(0, 22)}"`;
}
