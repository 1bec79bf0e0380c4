// A gauge computed at each scrape: its series are the owner's as of that scrape, nothing of an
// earlier scrape stays, and the exposition escapes label values as prom-client's own gauges do.
import { describe, expect, it } from 'vitest';
import { Gauge, Registry } from 'prom-client';
import { ScrapedGauge, seriesOf } from '../../src/runtime/scraped-gauge.js';

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
