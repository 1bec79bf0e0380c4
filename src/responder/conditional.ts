// If-None-Match without touching `req.headers`: Node builds that object lazily, and a request that
// never asks for it skips the work. rawHeaders is already there as [name, value, name, value...].

export function rawHeader(raw: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!;
    if (k.length === lowerName.length && k.toLowerCase() === lowerName) return raw[i + 1];
  }
  return undefined;
}

/** RFC 9110 13.1.2: weak comparison, a list of tags, or '*'. */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header === etag) return true;
  for (const part of header.split(',')) {
    const t = part.trim();
    if (t === '*' || t === etag || (t.startsWith('W/') && t.slice(2) === etag)) return true;
  }
  return false;
}
