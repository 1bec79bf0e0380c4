// Counters and histograms cheap enough for the request path. prom-client's own metrics hash the
// label object on every inc/observe (about 1 µs for the three a request needs, several percent of
// a request's whole cost here); these keep plain numbers in pre-bound slots and build the
// exposition only when /metrics is scraped. They register in a prom-client Registry through the
// interface its registry reads (`name`, `help`, `type`, `get()`), so the output is prom-client's.
import type { Registry } from 'prom-client';

type Labels = Record<string, string>;

interface Exposed {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  values: { value: number; labels: Labels; metricName?: string }[];
}

export class CounterSlot {
  n = 0;
  inc(): void {
    this.n++;
  }
}

export class HistogramSlot {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) {
        this.counts[i]!++;
        return;
      }
    }
  }
}

abstract class LeanMetric<S> {
  protected readonly slots = new Map<string, { labels: Labels; slot: S }>();
  readonly aggregator = 'sum' as const;
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    // The registry reads only name/help/type/get(); its TypeScript type names prom-client's classes.
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }
  protected abstract create(): S;
  /** The slot for these label values; bind once, keep the reference. */
  slot(...values: string[]): S {
    const key = values.join('\u0000');
    let s = this.slots.get(key);
    if (s === undefined) {
      const labels: Labels = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i] ?? ''));
      s = { labels, slot: this.create() };
      this.slots.set(key, s);
    }
    return s.slot;
  }
}

export class LeanCounter extends LeanMetric<CounterSlot> {
  readonly type = 'counter' as const;
  protected create(): CounterSlot {
    return new CounterSlot();
  }
  get(): Exposed {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: [...this.slots.values()].map((s) => ({ value: s.slot.n, labels: s.labels })),
    };
  }
}

export class LeanHistogram extends LeanMetric<HistogramSlot> {
  readonly type = 'histogram' as const;
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    super(name, help, labelNames, registry);
  }
  protected create(): HistogramSlot {
    return new HistogramSlot(this.bounds);
  }
  get(): Exposed {
    const values: Exposed['values'] = [];
    for (const { labels, slot } of this.slots.values()) {
      let cumulative = 0;
      this.bounds.forEach((b, i) => {
        cumulative += slot.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: String(b) }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: slot.count });
      values.push({ metricName: `${this.name}_sum`, labels, value: slot.sum });
      values.push({ metricName: `${this.name}_count`, labels, value: slot.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
