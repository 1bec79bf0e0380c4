// The chart's Grafana dashboard, without a cluster: valid under Grafana's own dashboard schema
// (@grafana/schema's types, see test/support/dashboard.ts), laid out on Grafana's 24-column grid,
// every query filtered by the namespace variable where its series carry object namespaces, and
// rendered by the chart as a ConfigMap Grafana's sidecar loads. That every query returns data from
// a real Prometheus scraping the real programs is dashboard-queries.k8s.test.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import { CHART_DIR, helm, helmBinary, helmTemplate, ofKind, parseManifests, valueArgs } from '../install/helm.js';
import { dashboardSchemaErrors, panelQueries, readDashboard, type DashboardPanel } from '../support/dashboard.js';

const { text, dashboard } = readDashboard();

describe('the Grafana dashboard (charts/ocsp-operator/dashboards/ocsp-operator.json)', () => {
  it("is valid under @grafana/schema's Dashboard type, panel options included", () => {
    expect(dashboardSchemaErrors(text)).toEqual([]);
  });

  it('the schema check fails on a misspelled key, a value outside an enum and a missing required option', () => {
    expect(dashboardSchemaErrors(text.replace('"gridPos"', '"gridPosition"')).join('\n')).toMatch(/"gridPosition"' does not exist/);
    expect(dashboardSchemaErrors(text.replace('"mode": "multi"', '"mode": "several"')).join('\n')).toMatch(/"several"' is not assignable/);
    expect(dashboardSchemaErrors(text.replace('"showHeader": true,', '')).join('\n')).toMatch(/'showHeader' is missing/);
  }, 60_000);

  it('has a Prometheus data source variable and a multi-value namespace variable whose All is a regex', () => {
    const vars = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]));
    expect(vars.datasource).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(vars.namespace).toMatchObject({ type: 'query', allValue: '.*' });
    const panels = dashboard.panels.filter((p) => p.type !== 'row') as Array<DashboardPanel & { datasource?: { uid?: string } }>;
    for (const p of panels) expect({ panel: p.title, uid: p.datasource?.uid }).toEqual({ panel: p.title, uid: '${datasource}' });
  });

  it('covers staples, pools, signers, responders and the operator process', () => {
    const exprs = dashboard.panels
      .flatMap((p) => p.targets ?? [])
      .map((t) => t.expr)
      .join('\n');
    for (const m of [
      'ocsp_operator_staple_ready',
      'ocsp_operator_staple_condition',
      'ocsp_operator_staple_usable_until_timestamp_seconds',
      'ocsp_operator_staple_next_update_timestamp_seconds',
      'ocsp_operator_staple_not_after_timestamp_seconds',
      'ocsp_operator_staple_failures_total',
      'ocsp_operator_staple_refresh_failures_total',
      'ocsp_operator_pool_ready',
      'ocsp_signer_backlog',
      'ocsp_signer_oldest_response_age_seconds',
      'ocsp_signer_signing_rate',
      'ocsp_responder_store_lag_seconds',
      'ocsp_responder_requests_total',
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_p99_seconds',
    ])
      expect(exprs).toContain(m);
  });

  it('panels: unique ids and titles, on the 24-column grid, none overlapping', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const titles = dashboard.panels.map((p) => p.title);
    expect(titles.filter((t, i) => titles.indexOf(t) !== i)).toEqual([]);
    const cells = new Map<string, string>();
    for (const p of dashboard.panels) {
      const g = p.gridPos;
      expect(g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0, `${p.title} ${JSON.stringify(g)}`).toBe(true);
      for (let y = g.y; y < g.y + g.h; y++) {
        for (let x = g.x; x < g.x + g.w; x++) {
          const other = cells.get(`${x},${y}`);
          expect(other, `${p.title} overlaps ${other ?? ''}`).toBeUndefined();
          cells.set(`${x},${y}`, p.title);
        }
      }
    }
  });

  it("every query on objects' or pool pods' series is filtered by $namespace, and uses no variable but $namespace and $__rate_interval", () => {
    const perObject =
      /ocsp_operator_staple_(ready|condition|\w+_timestamp_seconds|refresh_failures_total)|ocsp_operator_pool_|ocsp_signer_|ocsp_responder_/;
    const raw = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
    expect(raw.length).toBeGreaterThan(30);
    for (const { panel, expr } of raw) {
      // Each selector of such a metric, not just one of them.
      for (const sel of expr.matchAll(/(\w+)\{([^}]*)\}|(\w+)\[/g)) {
        const name = sel[1] ?? sel[3] ?? '';
        if (perObject.test(name))
          expect({ panel, selector: sel[0] }).toEqual({ panel, selector: expect.stringContaining('namespace=~"$namespace"') as unknown });
      }
    }
    // panelQueries throws on any other variable.
    expect(panelQueries(dashboard, { namespace: '.*', rateInterval: '1m' }).every((q) => !q.expr.includes('$'))).toBe(true);
  });
});

describe('the chart renders it for Grafana’s sidecar', () => {
  beforeAll(async () => {
    await helmBinary(); // a fresh machine's first run builds helm: minutes, not the test's own time
  }, 15 * 60_000);

  it('off by default; on: a ConfigMap with the sidecar label, the JSON as it is in the chart, namespace and annotations from values', async () => {
    expect(ofKind(parseManifests(await helmTemplate('op', 'ocsp-system')), 'ConfigMap')).toEqual([]);

    const [cm, ...more] = ofKind(
      parseManifests(await helmTemplate('op', 'ocsp-system', { set: { 'grafana.dashboard.enabled': true } })),
      'ConfigMap',
    );
    expect(more).toEqual([]);
    expect(cm?.metadata).toMatchObject({
      name: 'op-ocsp-operator-dashboard',
      namespace: 'ocsp-system',
      labels: { grafana_dashboard: '1' },
    });
    const data = (cm as unknown as { data: Record<string, string> }).data;
    expect(Object.keys(data)).toEqual(['ocsp-operator.json']);
    expect(JSON.parse(data['ocsp-operator.json'] ?? '')).toEqual(dashboard);

    const [custom] = ofKind(
      parseManifests(
        await helmTemplate('op', 'ocsp-system', {
          set: { 'grafana.dashboard.enabled': true, 'grafana.dashboard.namespace': 'monitoring' },
          json: { 'grafana.dashboard.labels': { grafana_dashboard: 'ocsp' }, 'grafana.dashboard.annotations': { grafana_folder: 'OCSP' } },
        }),
      ),
      'ConfigMap',
    );
    expect(custom?.metadata).toMatchObject({
      namespace: 'monitoring',
      labels: { grafana_dashboard: 'ocsp' },
      annotations: { grafana_folder: 'OCSP' },
    });
  }, 240_000);

  it('helm lint --strict passes with it on; the values schema rejects a misspelt key and a namespace that is no DNS label', async () => {
    const lint = await helm(['lint', '--strict', CHART_DIR, ...valueArgs({ set: { 'grafana.dashboard.enabled': true } })]);
    expect(lint.code, lint.stdout + lint.stderr).toBe(0);
    for (const [values, message] of [
      [{ set: { 'grafana.dashboard.enable': true } }, /additional properties 'enable' not allowed/],
      [{ set: { 'grafana.dashboard.namespace': 'Monitoring_NS' } }, /grafana\/dashboard\/namespace|grafana.dashboard.namespace/],
    ] as const) {
      const r = await helm(['template', 'x', CHART_DIR, ...valueArgs(values)]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(message);
    }
  }, 240_000);
});
