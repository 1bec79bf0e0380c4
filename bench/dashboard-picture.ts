// The README's picture of the Grafana dashboard (docs/dashboard.png). Grafana cannot be built here,
// so this draws the dashboard's own queries' results instead: the same stack the dashboard test
// scrapes (test/support/monitored-stack.ts: the real operator, signer and responder against a local
// apiserver, staples and pools healthy and not), relying parties asking the responder, a real
// Prometheus scraping all three every second; after --minutes, every panel's queries are run as
// range queries (tables: instant) with namespace = All and drawn by bench/lib/dashboard-render.ts.
//
//   npm run build && node dist/bench/dashboard-picture.js [--minutes 4] [--out docs/dashboard.png]
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot, startControlPlane, type ControlPlane } from '../src/devenv/control-plane.js';
import { installCrds } from '../src/devenv/crds.js';
import { KubeClient } from '../src/kube/client.js';
import { loadKubeConfig } from '../src/kube/config.js';
import { dashboardScrapeTargets, legendName, panelQueries, readDashboard, type DashboardPanel } from '../test/support/dashboard.js';
import { startMonitoredStack, type MonitoredStack } from '../test/support/monitored-stack.js';
import { startOcspTraffic, type OcspTraffic } from '../test/support/ocsp-traffic.js';
import { startPrometheus, type PrometheusServer } from '../test/support/prometheus.js';
import { renderDashboard, type RenderPanel } from './lib/dashboard-render.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '4' },
    out: { type: 'string', default: join(repoRoot(), 'docs', 'dashboard.png') },
  },
});
const minutes = Number(args.minutes);
if (!(minutes > 0 && minutes <= 60)) throw new Error(`--minutes must be in (0, 60]: ${args.minutes}`);
const log = (m: string) => process.stderr.write(`[dashboard-picture] ${m}\n`);

/** The panel fields the picture uses, beyond what the tests read. */
type Panel = DashboardPanel & {
  fieldConfig?: { defaults?: { min?: number; noValue?: string; custom?: { stacking?: { mode?: string } } } };
  transformations?: Array<{ id: string; options?: { excludeByName?: Record<string, boolean> } }>;
};

async function main(): Promise<void> {
  const { dashboard } = readDashboard();
  const work = await mkdtemp(join(tmpdir(), 'ocsp-dashboard-picture-'));
  let cp: ControlPlane | undefined;
  let stack: MonitoredStack | undefined;
  let traffic: OcspTraffic | undefined;
  let prom: PrometheusServer | undefined;
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    log('interrupted: tearing down');
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    cp = await startControlPlane({ workDir: join(work, 'control-plane'), log: (m) => log(`control plane: ${m}`) });
    await installCrds(loadKubeConfig(cp.kubeconfigPath), (m) => log(m));
    log('starting the operator, signer and responder with their objects');
    stack = await startMonitoredStack({ kubeconfig: cp.kubeconfigPath, namespacePrefix: 'dashboard' });
    traffic = await startOcspTraffic(new KubeClient(loadKubeConfig(cp.kubeconfigPath)), stack.namespace, [
      'good-tls',
      'revoked-tls',
      'stranger-tls',
    ]);
    prom = await startPrometheus(dashboardScrapeTargets(stack));
    const start = Math.floor(Date.now() / 1000);
    const until = Date.now() + minutes * 60_000;
    while (!interrupted && Date.now() < until) {
      log(`scraping: ${Math.ceil((until - Date.now()) / 1000)} s left, ${traffic.sent().total} OCSP requests sent`);
      await new Promise((r) => setTimeout(r, Math.min(30_000, Math.max(0, until - Date.now()))));
    }
    if (interrupted) return;
    const end = Math.floor(Date.now() / 1000);
    const step = Math.max(1, Math.round((end - start) / 240));

    const queries = panelQueries(dashboard, { namespace: '.*', rateInterval: `${Math.max(4, 4 * step)}s` });
    const panels: RenderPanel[] = [];
    for (const p of dashboard.panels as Panel[]) {
      if (p.type === 'row') continue;
      const d = p.fieldConfig?.defaults;
      const panel: RenderPanel = {
        type: p.type,
        title: p.title,
        gridPos: p.gridPos,
        unit: d?.unit,
        min: d?.min,
        noValue: d?.noValue,
        stacked: d?.custom?.stacking?.mode === 'normal',
        thresholds: d?.thresholds?.steps ?? [],
        thresholdLines: (d?.custom?.thresholdsStyle?.mode ?? 'off') !== 'off',
        series: [],
      };
      for (const q of queries.filter((x) => x.panelId === p.id)) {
        if (q.instant) {
          const hidden = Object.assign({}, ...(p.transformations ?? []).map((t) => t.options?.excludeByName ?? {})) as Record<
            string,
            boolean
          >;
          const samples = await prom.query(q.expr, end);
          const columns = [...new Set(samples.flatMap((s) => Object.keys(s.metric))), 'Value'].filter((c) => !hidden[c]);
          panel.table = {
            columns,
            rows: samples.map((s) =>
              columns.map((c) => (c === 'Value' ? String(+Number(s.value[1]).toPrecision(4)) : (s.metric[c] ?? ''))),
            ),
          };
        } else {
          for (const s of await prom.queryRange(q.expr, start, end, step)) {
            panel.series.push({ name: legendName(q.legendFormat, s.metric), points: s.values.map(([t, v]) => [t, Number(v)]) });
          }
        }
      }
      log(`${p.title}: ${panel.table ? `${panel.table.rows.length} rows` : `${panel.series.length} series`}`);
      panels.push(panel);
    }
    const png = renderDashboard({
      title: dashboard.title,
      subtitle: `Not Grafana: the dashboard's queries, answered by Prometheus scraping the test stack for ${minutes} min (bench/dashboard-picture.ts)`,
      panels,
      rows: dashboard.panels.filter((p) => p.type === 'row').map((p) => ({ title: p.title, y: p.gridPos.y })),
      range: [start, end],
    });
    const out = resolve(args.out);
    await writeFile(out, png);
    log(`wrote ${out} (${png.length} bytes)`);
  } finally {
    await traffic?.stop().catch((e: unknown) => log(`traffic: ${String(e)}`));
    await prom?.stop().catch((e: unknown) => log(`prometheus: ${String(e)}`));
    await stack?.stop().catch((e: unknown) => log(`stack: ${String(e)}`));
    await cp?.stop().catch((e: unknown) => log(`control plane: ${String(e)}`));
    await rm(work, { recursive: true, force: true });
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}

main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
