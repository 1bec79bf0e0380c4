// Plain-text rendering for kubectl-ocsp: aligned key/value blocks and column tables, the way
// kubectl prints, and times both absolute and relative ("2026-01-01T00:00:00Z (in 3h20m)").

/** A block of `key  value` lines; nested blocks are indented. A row with an undefined value is left out. */
export type Row = [key: string, value: string | undefined] | [key: string, rows: Row[]];

export function keyValues(rows: Row[], indent = ''): string {
  const shown = rows.filter((r) => r[1] !== undefined);
  const width = Math.max(0, ...shown.map((r) => r[0].length));
  const lines: string[] = [];
  for (const [key, value] of shown) {
    if (Array.isArray(value)) {
      lines.push(`${indent}${key}:`);
      const inner = keyValues(value, `${indent}  `);
      if (inner) lines.push(inner);
    } else {
      lines.push(`${indent}${`${key}:`.padEnd(width + 1)}  ${value}`);
    }
  }
  return lines.join('\n');
}

/** Columns padded to the widest cell, headers in capitals, as `kubectl get` prints. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('   ')
      .trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...rows.map(line)].join('\n');
}

/** 5_400_000 → "1h30m"; 90 days → "90d"; seconds only under a minute. */
export function humanDuration(ms: number): string {
  let s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return `${s}s`;
  const d = Math.floor(s / 86_400);
  s -= d * 86_400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  if (d >= 7) return `${d}d`;
  if (d > 0) return `${d}d${h ? `${h}h` : ''}`;
  if (h > 0) return `${h}h${m ? `${m}m` : ''}`;
  return `${m}m`;
}

export function relative(t: Date, now: Date): string {
  const ms = t.getTime() - now.getTime();
  return ms >= 0 ? `in ${humanDuration(ms)}` : `${humanDuration(ms)} ago`;
}

/** "2026-01-01T00:00:00Z (in 3h20m)" */
export function when(t: Date | string | undefined, now: Date): string | undefined {
  if (t === undefined) return undefined;
  const d = typeof t === 'string' ? new Date(t) : t;
  if (Number.isNaN(d.getTime())) return String(t);
  return `${d.toISOString().replace(/\.000Z$/, 'Z')} (${relative(d, now)})`;
}

export const yesNo = (b: boolean | undefined): string | undefined => (b === undefined ? undefined : b ? 'yes' : 'no');
