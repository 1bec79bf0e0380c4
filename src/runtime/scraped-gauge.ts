// A gauge whose series are computed when it is scraped and kept by nobody in between. A plain
// prom-client Gauge refilled in `collect()` keeps every series (a label object, a value object and
// a hash key string) from one scrape to the next: at ten thousand staples with fourteen series
// each, megabytes held and hashed again every scrape for nothing. Here each scrape asks the owner
// for its series and hands them straight to the exposition. A ScrapeRegistry prints them itself:
// prom-client's exposition builds several arrays and runs three regular expressions per label of
// each series, and a scrape at ten thousand staples prints some 140,000 series.
import { Gauge, Registry, type LabelValues, type Metric, type MetricObjectWithValues, type MetricValue } from 'prom-client';

export interface ScrapedGaugeOptions<T extends string> {
  name: string;
  help: string;
  labelNames: readonly T[];
  registry: Registry;
  /** The series as of now; called once per scrape. */
  series: () => Iterable<MetricValue<T>>;
}

// prom-client's escaping: backslash and newline in names and help, and the double quote too in label values.
const NEEDS_ESCAPE = /[\\\n"]/;
const escapeText = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabelValue = (s: string) => (NEEDS_ESCAPE.test(s) ? escapeText(s).replace(/"/g, '\\"') : s);
const valueText = (v: number) => (Number.isNaN(v) ? 'Nan' : Number.isFinite(v) ? String(v) : v < 0 ? '-Inf' : '+Inf');

export class ScrapedGauge<T extends string> extends Gauge<T> {
  private readonly series: () => Iterable<MetricValue<T>>;
  private readonly header: string;
  private readonly metricName: string;

  constructor(o: ScrapedGaugeOptions<T>) {
    super({ name: o.name, help: o.help, labelNames: o.labelNames, registers: [o.registry] });
    this.series = o.series;
    this.metricName = escapeText(o.name);
    this.header = `# HELP ${this.metricName} ${escapeText(o.help)}\n# TYPE ${this.metricName} gauge`;
  }

  /** The text exposition (Prometheus 0.0.4) of the series as of now, as prom-client would print it. */
  exposition(): string {
    return Array.from(this.blocks()).join('\n');
  }

  /**
   * The same text in pieces to be joined by newlines: the header, then a thousand lines at a time.
   * The lines die young, and a scrape streamed piece by piece never holds all 140,000 of them.
   */
  *blocks(): Generator<string> {
    const name = this.metricName;
    yield this.header;
    let lines: string[] = [];
    for (const { labels, value } of this.series()) {
      let line = '';
      for (const label in labels) {
        const v = labels[label as T];
        line += `${line ? ',' : '{'}${label}="${typeof v === 'string' ? escapeLabelValue(v) : String(v)}"`;
      }
      lines.push(`${name}${line && `${line}}`} ${valueText(value)}`);
      if (lines.length === 1024) {
        yield lines.join('\n');
        lines = [];
      }
    }
    if (lines.length) yield lines.join('\n');
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

/** A registry that prints ScrapedGauges with their own exposition; everything else as prom-client does. */
export class ScrapeRegistry extends Registry {
  private defaultLabels = false;

  override setDefaultLabels(labels: object): void {
    this.defaultLabels = Object.keys(labels).length > 0;
    super.setDefaultLabels(labels);
  }

  // Not in prom-client's typings, but the method its metrics() calls for each metric.
  async getMetricsAsString(metric: Metric): Promise<string> {
    if (this.printsItself(metric)) return metric.exposition();
    return (Registry.prototype as unknown as { getMetricsAsString(m: Metric): Promise<string> }).getMetricsAsString.call(this, metric);
  }

  /**
   * metrics()'s text in pieces, for a server to write as they come: a scrape of 10,000 staples is
   * 14 MB, which as one string (and its copy as one Buffer) raised a process's RSS by 50-70 MiB
   * that glibc and V8 then kept (bench/metrics-scrape.js). Concatenated, the pieces are exactly
   * metrics().
   */
  async *chunks(): AsyncGenerator<string> {
    if (this.contentType !== Registry.PROMETHEUS_CONTENT_TYPE || this.defaultLabels) {
      yield await this.metrics();
      return;
    }
    let separator = '';
    // prom-client's typings call these MetricObjects; they are the registered metrics themselves.
    for (const metric of this.getMetricsAsArray() as unknown as Metric[]) {
      if (this.printsItself(metric)) {
        for (const block of metric.blocks()) {
          yield separator + block;
          separator = '\n';
        }
      } else {
        yield separator + (await this.getMetricsAsString(metric));
      }
      separator = '\n\n';
    }
    yield '\n';
  }

  private printsItself(metric: Metric): metric is ScrapedGauge<string> {
    return metric instanceof ScrapedGauge && !this.defaultLabels && this.contentType === Registry.PROMETHEUS_CONTENT_TYPE;
  }
}
