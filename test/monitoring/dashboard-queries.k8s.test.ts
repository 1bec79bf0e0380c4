// Every query of the chart's Grafana dashboard, run against a real Prometheus (Debian's) that scrapes
// the real operator, signer and responder every second (test/support/monitored-stack.ts: staples
// and pools in healthy and unhealthy states) while relying parties ask the responder: each must
// return data, with the namespace variable at All and at the namespace of the stack's objects. The
// variables are substituted as Grafana would; `$__rate_interval` as Grafana computes it for a 1 s
// scrape interval over a short range (at least four scrape intervals).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeClient } from '../support/kube.js';
import { startMonitoredStack, type MonitoredStack } from '../support/monitored-stack.js';
import { dashboardScrapeTargets, namespaceVariable, panelQueries, readDashboard, type PanelQuery } from '../support/dashboard.js';
import { startOcspTraffic, type OcspTraffic } from '../support/ocsp-traffic.js';
import { startPrometheus, type PrometheusServer, type Sample } from '../support/prometheus.js';

const { dashboard } = readDashboard();
const RATE_INTERVAL = '10s';

/** What is wrong with a query's answer, or undefined when it has at least one finite value. */
function noData(q: PanelQuery, samples: Sample[]): string | undefined {
  if (samples.length === 0) return `${q.panel} [${q.refId}] returned nothing: ${q.expr}`;
  if (!samples.some((s) => Number.isFinite(Number(s.value[1]))))
    return `${q.panel} [${q.refId}] returned only ${samples.map((s) => s.value[1]).join(', ')}: ${q.expr}`;
  return undefined;
}

describe('the dashboard’s queries against Prometheus scraping the operator, a signer and a responder', () => {
  let stack: MonitoredStack | undefined;
  let traffic: OcspTraffic | undefined;
  let prom: PrometheusServer | undefined;

  beforeAll(async () => {
    stack = await startMonitoredStack({ namespacePrefix: 'dashboard' });
    // good and revoked: in the pool's store; stranger: a serial it does not have.
    traffic = await startOcspTraffic(kubeClient(), stack.namespace, ['good-tls', 'revoked-tls', 'stranger-tls']);
    prom = await startPrometheus(dashboardScrapeTargets(stack));
    // Enough samples for every rate over $__rate_interval, with requests among them.
    await prom.waitForScrapes(15, 90_000);
  }, 420_000);

  afterAll(async () => {
    await traffic?.stop();
    await prom?.stop();
    await stack?.stop();
  });

  const run = async (queries: PanelQuery[]) => {
    const problems: string[] = [];
    for (const q of queries) {
      const p = noData(q, await prom!.query(q.expr));
      if (p) problems.push(p);
    }
    return problems;
  };

  it('Prometheus scraped all three programs, and the relying parties got answers', () => {
    expect(stack!.targets.map((t) => t.job).sort()).toEqual(['operator', 'responder', 'signer']);
    expect(traffic!.sent().byStatus[200] ?? 0).toBeGreaterThan(20);
  });

  it("the namespace variable's query lists the stack's namespace", async () => {
    const v = namespaceVariable(dashboard);
    expect(await prom!.labelValues(v.label, [v.selector])).toContain(stack!.namespace);
  });

  it('namespace = All: every query of every panel returns data', async () => {
    const queries = panelQueries(dashboard, { namespace: '.*', rateInterval: RATE_INTERVAL });
    expect(queries.length).toBeGreaterThan(30);
    expect(await run(queries)).toEqual([]);
  });

  it("namespace = the stack's: every query that names the variable returns data", async () => {
    const ns = stack!.namespace.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const filtered = dashboard.panels.flatMap((p) =>
      (p.targets ?? []).filter((t) => t.expr.includes('$namespace')).map((t) => `${p.id} ${t.refId}`),
    );
    const queries = panelQueries(dashboard, { namespace: ns, rateInterval: RATE_INTERVAL }).filter((q) =>
      filtered.includes(`${q.panelId} ${q.refId}`),
    );
    expect(queries.length).toBeGreaterThan(20);
    expect(await run(queries)).toEqual([]);
  });

  it('the check can fail: a renamed metric, a namespace with no objects, a label nobody exports', async () => {
    const [q] = panelQueries(dashboard, { namespace: 'no-such-namespace', rateInterval: RATE_INTERVAL }).filter((x) =>
      x.expr.includes('no-such-namespace'),
    );
    const renamed = { panelId: 0, panel: 'renamed', refId: 'A', instant: false, expr: 'sum(ocsp_operator_staple_readyy)' };
    const byMissingLabel = {
      panelId: 0,
      panel: 'label',
      refId: 'A',
      instant: false,
      expr: 'sum by (pool) (ocsp_signer_backlog{pool!=""})',
    };
    expect(await run([q!, renamed, byMissingLabel])).toHaveLength(3);
  });
});
