// A small record of an incident replay: what was injected, when it was detected, and by which
// condition, Event and metric. Each incident test prints one at the end (stderr), so a run shows
// the story the assertions check. Times are wall-clock milliseconds since the timeline started and,
// when the test moves a clock of its own (ManualClock), that clock's time since the start too.

export type TimelineKind = 'inject' | 'detect' | 'recover' | 'note';

export interface TimelineEntry {
  kind: TimelineKind;
  /** wall-clock ms since the timeline started */
  wallMs: number;
  /** the test's clock, ms since the timeline started (when a clock was given) */
  clockMs?: number;
  what: string;
  condition?: string;
  event?: string;
  metric?: string;
}

export interface Detection {
  condition?: string;
  event?: string;
  metric?: string;
}

export class Timeline {
  readonly entries: TimelineEntry[] = [];
  private readonly wall0 = Date.now();
  private readonly clock0: number | undefined;

  constructor(
    readonly title: string,
    private readonly clock?: { now(): number },
  ) {
    this.clock0 = clock?.now();
  }

  private add(kind: TimelineKind, what: string, d: Detection = {}): TimelineEntry {
    const e: TimelineEntry = { kind, wallMs: Date.now() - this.wall0, what, ...d };
    if (this.clock && this.clock0 !== undefined) e.clockMs = this.clock.now() - this.clock0;
    this.entries.push(e);
    return e;
  }

  inject(what: string): TimelineEntry {
    return this.add('inject', what);
  }

  detect(what: string, d: Detection = {}): TimelineEntry {
    return this.add('detect', what, d);
  }

  recover(what: string, d: Detection = {}): TimelineEntry {
    return this.add('recover', what, d);
  }

  note(what: string, d: Detection = {}): TimelineEntry {
    return this.add('note', what, d);
  }

  /** The first entry of `kind` whose text contains `text`. */
  find(kind: TimelineKind, text: string): TimelineEntry | undefined {
    return this.entries.find((e) => e.kind === kind && e.what.includes(text));
  }

  format(): string {
    const clockCol = this.clock !== undefined;
    const lines = [`── incident: ${this.title} ──`];
    for (const e of this.entries) {
      const wall = `+${(e.wallMs / 1000).toFixed(2)}s`.padStart(9);
      const sim = clockCol ? ` ${e.clockMs === undefined ? '' : formatClock(e.clockMs)}`.padEnd(12) : '';
      const tag = e.kind.toUpperCase().padEnd(7);
      const by = [e.condition && `condition ${e.condition}`, e.event && `Event ${e.event}`, e.metric && `metric ${e.metric}`]
        .filter(Boolean)
        .join('; ');
      lines.push(`${wall}${sim} ${tag} ${e.what}${by ? `  [${by}]` : ''}`);
    }
    return lines.join('\n') + '\n';
  }

  print(): void {
    process.stderr.write(this.format());
  }
}

/** "+96h00m", "+12m30s", "+4.2s": the test clock's offset. */
export function formatClock(ms: number): string {
  const sign = ms < 0 ? '-' : '+';
  const a = Math.abs(ms);
  if (a >= 3_600_000) return `${sign}${Math.floor(a / 3_600_000)}h${String(Math.floor((a % 3_600_000) / 60_000)).padStart(2, '0')}m`;
  if (a >= 60_000) return `${sign}${Math.floor(a / 60_000)}m${String(Math.floor((a % 60_000) / 1000)).padStart(2, '0')}s`;
  return `${sign}${(a / 1000).toFixed(1)}s`;
}
