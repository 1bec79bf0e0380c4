// One shape for "is this object one of ours, and if not, what exactly is wrong", so logs, Events
// and conditions can say `OcspStaple team-a/web: spec.refresh.fraction: …` instead of a zod dump.

import type { z } from 'zod';

export type ParseResult<T> = { ok: true; value: T } | { ok: false; message: string };

/** `spec.sources[0].opensslIndex`, the way the apiserver names fields in its errors. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out || '(root)';
}

/** Names the object as `namespace/name` (or just `name`), reading it defensively: it may be junk. */
export function objectRef(obj: unknown): string {
  const meta = typeof obj === 'object' && obj !== null ? (obj as { metadata?: unknown }).metadata : undefined;
  const m = typeof meta === 'object' && meta !== null ? (meta as { name?: unknown; namespace?: unknown }) : {};
  const name = typeof m.name === 'string' ? m.name : '<unnamed>';
  return typeof m.namespace === 'string' && m.namespace ? `${m.namespace}/${name}` : name;
}

export function parseWith<S extends z.ZodType>(schema: S, kind: string, obj: unknown): ParseResult<z.output<S>> {
  const r = schema.safeParse(obj);
  if (r.success) return { ok: true, value: r.data };
  const problems = r.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
  return { ok: false, message: `${kind} ${objectRef(obj)}: ${problems.join('; ')}` };
}
