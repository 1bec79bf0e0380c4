// Node's default metrics under the standard names (process_*, nodejs_*), registered once per
// registry although the operator's metrics and its prober both ask for them on the shared one.
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { OperatorMetrics } from '../../src/runtime/metrics.js';
import { registerDefaultMetrics } from '../../src/runtime/default-metrics.js';
import { ObjectConditionMetrics } from '../../src/runtime/object-metrics.js';

describe('default metrics', () => {
  it('the operator registry has process_* and nodejs_* once, and no prefixed copies', async () => {
    const m = new OperatorMetrics();
    registerDefaultMetrics(m.registry); // what a second part of the same process does: no throw, no copy
    const text = await m.registry.metrics();
    expect(text.match(/^# TYPE process_cpu_user_seconds_total counter$/gm)).toHaveLength(1);
    expect(text.match(/^# TYPE process_resident_memory_bytes gauge$/gm)).toHaveLength(1);
    expect(text.match(/^# TYPE nodejs_heap_size_used_bytes gauge$/gm)).toHaveLength(1);
    expect(text).not.toMatch(/^ocsp_operator_(process|nodejs)_/m);
  });

  it('two registries each get their own (tests run several managers side by side)', async () => {
    const a = new Registry();
    const b = new Registry();
    registerDefaultMetrics(a);
    registerDefaultMetrics(b);
    expect(await a.metrics()).toMatch(/^process_start_time_seconds /m);
    expect(await b.metrics()).toMatch(/^process_start_time_seconds /m);
  });
});

describe('per-object condition metrics', () => {
  it('three series per condition type plus one ready series, removed with the object', async () => {
    const r = new Registry();
    const m = new ObjectConditionMetrics(r, 'test_obj', 'Thing');
    m.set('ns/a', [
      { type: 'Ready', status: 'False', reason: 'SecretNotFound' },
      { type: 'Fresh', status: 'Unknown', reason: 'NotChecked' },
    ]);
    m.set('ns/b', [{ type: 'Ready', status: 'True', reason: 'Stapled' }]);
    const lines = (await r.metrics()).split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines.filter((l) => l.includes('name="a"'))).toHaveLength(2 * 3 + 1);
    expect(lines).toContain('test_obj_condition{namespace="ns",name="a",type="Ready",status="False"} 1');
    expect(lines).toContain('test_obj_condition{namespace="ns",name="a",type="Ready",status="True"} 0');
    expect(lines).toContain('test_obj_ready{namespace="ns",name="a",reason="SecretNotFound"} 0');
    expect(lines).toContain('test_obj_ready{namespace="ns",name="b",reason="Stapled"} 1');
    // a new status replaces the old series: the count per object does not grow
    m.set('ns/a', [{ type: 'Ready', status: 'True', reason: 'Stapled' }]);
    m.forget('ns/b');
    const after = (await r.metrics()).split('\n').filter((l) => l && !l.startsWith('#'));
    expect(after.filter((l) => l.includes('name="b"'))).toEqual([]);
    expect(after.filter((l) => l.includes('name="a"'))).toHaveLength(3 + 1);
    expect(after).toContain('test_obj_ready{namespace="ns",name="a",reason="Stapled"} 1');
  });
});
