// A gauge computed at each scrape: its series are the owner's as of that scrape, nothing of an
// earlier scrape stays, and the exposition escapes label values as prom-client's own gauges do; a
// ScrapeRegistry, which prints them without prom-client's exposition, prints the same text.
import { describe, expect, it } from 'vitest';
import { Counter, Gauge, Registry } from 'prom-client';
import { ManualClock } from '../../src/base/clock.js';
import { ScrapedGauge, ScrapeRegistry, seriesOf } from '../../src/runtime/scraped-gauge.js';
import { StapleMetrics } from '../../src/staple/metrics.js';

describe('ScrapedGauge', () => {
  it('asks for its series once per scrape and keeps none of them', async () => {
    const registry = new Registry();
    const values = new Map<string, number | undefined>([
      ['a', 1],
      ['b "quoted"\\', 2],
      ['c', undefined],
    ]);
    let asked = 0;
    const gauge = new ScrapedGauge({
      name: 'test_value',
      help: 'a value per key',
      labelNames: ['key'] as const,
      registry,
      series: () => {
        asked++;
        return seriesOf(
          values,
          ([key]) => ({ key }),
          ([, v]) => v,
        );
      },
    });
    const first = await registry.metrics();
    expect(asked).toBe(1);
    expect(first).toContain('# TYPE test_value gauge');
    expect(first).toContain('test_value{key="a"} 1');
    expect(first).toContain('test_value{key="b \\"quoted\\"\\\\"} 2');
    expect(first).not.toContain('key="c"'); // undefined: no series

    // The same text a plain Gauge holding these series prints.
    const plainRegistry = new Registry();
    const plain = new Gauge({ name: 'test_value', help: 'a value per key', labelNames: ['key'] as const, registers: [plainRegistry] });
    plain.set({ key: 'a' }, 1);
    plain.set({ key: 'b "quoted"\\' }, 2);
    expect(first).toBe(await plainRegistry.metrics());

    values.delete('a');
    values.set('c', 3);
    const second = await registry.metrics();
    expect(asked).toBe(2);
    expect(second).not.toContain('key="a"');
    expect(second).toContain('test_value{key="c"} 3');
    // Nothing held between scrapes: prom-client's own store for the gauge stays empty.
    expect((await Gauge.prototype.get.call(gauge)).values).toEqual([]);
  });
});

describe('ScrapeRegistry', () => {
  // Both registries get the same metrics; the ScrapeRegistry prints its ScrapedGauges itself.
  function twin(fill: (registry: Registry) => void): { plain: Registry; scrape: ScrapeRegistry } {
    const plain = new Registry();
    const scrape = new ScrapeRegistry();
    fill(plain);
    fill(scrape);
    return { plain, scrape };
  }

  /** The streamed pieces of a scrape, joined: must be metrics() exactly. */
  async function joined(registry: ScrapeRegistry): Promise<string> {
    let text = '';
    for await (const chunk of registry.chunks()) text += chunk;
    return text;
  }

  it('streams 3,000 series in pieces that join to exactly what prom-client prints', async () => {
    const { plain, scrape } = twin((registry) => {
      new ScrapedGauge({
        name: 'many',
        help: 'three blocks and a bit',
        labelNames: ['i'],
        registry,
        series: () => Array.from({ length: 3000 }, (_, i) => ({ labels: { i }, value: i })),
      });
      new Counter({ name: 'after_total', help: 'between', registers: [registry] }).inc();
      new ScrapedGauge({ name: 'last', help: 'one', labelNames: [], registry, series: () => [{ labels: {}, value: 1 }] });
    });
    const pieces: string[] = [];
    for await (const chunk of scrape.chunks()) pieces.push(chunk);
    expect(pieces.length).toBeGreaterThanOrEqual(6); // header and three blocks of `many`, the counter, `last`
    expect(pieces.join('')).toBe(await plain.metrics());
  });

  it('prints exactly what prom-client prints, escapes and odd values included', async () => {
    const series: Array<{ labels: Record<string, string | number>; value: number }> = [
      { labels: { key: 'plain', n: 1 }, value: 1 },
      { labels: { key: 'back\\slash "quote"\nnewline', n: 2 }, value: -0.25 },
      { labels: {}, value: 1e21 },
      { labels: { key: 'x' }, value: NaN },
      { labels: { key: 'y' }, value: Infinity },
      { labels: { key: 'z' }, value: -Infinity },
    ];
    const { plain, scrape } = twin((registry) => {
      new ScrapedGauge({
        name: 'odd_values',
        help: 'help with a \\ and a\nnewline',
        labelNames: ['key', 'n'],
        registry,
        series: () => series,
      });
      new ScrapedGauge({ name: 'no_series', help: 'nothing yet', labelNames: ['key'], registry, series: () => [] });
      const counter = new Counter({ name: 'a_counter_total', help: 'printed by prom-client', labelNames: ['kind'], registers: [registry] });
      counter.inc({ kind: 'k' }, 3);
    });
    const text = await scrape.metrics();
    expect(text).toBe(await plain.metrics());
    expect(await joined(scrape)).toBe(text);
    expect(text).toContain('odd_values{key="back\\\\slash \\"quote\\"\\nnewline",n="2"} -0.25');
    expect(text).toContain('odd_values 1e+21');
    expect(text).toContain('a_counter_total{kind="k"} 3');
  });

  it('prints the staple metrics of ten staples as prom-client does', async () => {
    const clock = new ManualClock(Date.parse('2026-12-03T12:00:00Z'));
    const { plain, scrape } = twin((registry) => {
      const m = new StapleMetrics(registry, clock);
      for (let i = 0; i < 10; i++) {
        const key = `ns-${i % 3}/staple-${i}`;
        m.observe(key, {
          conditions: [
            { type: 'Ready', status: i % 4 ? 'True' : 'False', reason: i % 4 ? 'Stapled' : 'FetchFailed' },
            { type: 'Fresh', status: 'True', reason: 'Fresh' },
          ],
          notAfter: clock.now() + i * 86_400_000,
          nextUpdate: clock.now() + 3_600_000,
        });
        m.setUsableUntil(key, clock.now() + 1_800_000 + i);
        if (i % 5 === 0) m.refreshFailed(key, 'Timeout');
      }
    });
    const text = await scrape.metrics();
    expect(text).toBe(await plain.metrics());
    expect(await joined(scrape)).toBe(text);
    expect(text).toContain('ocsp_operator_staple_condition{namespace="ns-1",name="staple-1",type="Ready",status="True"} 1');
    expect(text).toContain('ocsp_operator_staple_expiry_seconds{namespace="ns-0",name="staple-0"} 1800');
  });

  it('leaves printing to prom-client once default labels are set', async () => {
    const { plain, scrape } = twin((registry) => {
      new ScrapedGauge({
        name: 'with_defaults',
        help: 'h',
        labelNames: ['key'],
        registry,
        series: () => [{ labels: { key: 'a' }, value: 1 }],
      });
      registry.setDefaultLabels({ pod: 'operator-0' });
    });
    const text = await scrape.metrics();
    expect(text).toBe(await plain.metrics());
    expect(await joined(scrape)).toBe(text);
    expect(text).toContain('with_defaults{key="a",pod="operator-0"} 1');
  });
});
