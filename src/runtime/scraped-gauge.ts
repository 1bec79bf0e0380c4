// A gauge whose series are computed when it is scraped and kept by nobody in between. A plain
// prom-client Gauge refilled in `collect()` keeps every series (a label object, a value object and
// a hash key string) from one scrape to the next: at ten thousand staples with thirteen series
// each, megabytes held and hashed again every scrape for nothing. Here each scrape asks the owner
// for its series and hands them straight to the exposition.
import { Gauge, type LabelValues, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';

export interface ScrapedGaugeOptions<T extends string> {
  name: string;
  help: string;
  labelNames: readonly T[];
  registry: Registry;
  /** The series as of now; called once per scrape. */
  series: () => Iterable<MetricValue<T>>;
}

export class ScrapedGauge<T extends string> extends Gauge<T> {
  private readonly series: () => Iterable<MetricValue<T>>;

  constructor(o: ScrapedGaugeOptions<T>) {
    super({ name: o.name, help: o.help, labelNames: o.labelNames, registers: [o.registry] });
    this.series = o.series;
  }

  override async get(): Promise<MetricObjectWithValues<MetricValue<T>>> {
    const empty = await super.get(); // name, help, type and aggregator; nothing is ever set on it
    return { ...empty, values: Array.from(this.series()) };
  }
}

/** One series per entry whose value is defined: the shape of most per-object gauges. */
export function* seriesOf<E, T extends string>(
  entries: Iterable<E>,
  labels: (e: E) => LabelValues<T>,
  value: (e: E) => number | undefined,
): Generator<MetricValue<T>> {
  for (const e of entries) {
    const v = value(e);
    if (v !== undefined) yield { labels: labels(e), value: v };
  }
}
