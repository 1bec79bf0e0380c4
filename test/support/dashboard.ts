// The chart's Grafana dashboard as tests and the picture script read it: its panels' queries with
// the dashboard's variables substituted as Grafana would, and a check of the JSON against
// Grafana's own dashboard schema. @grafana/schema (a pinned devDependency) publishes that schema as
// TypeScript types, so the check compiles the JSON as a literal of those types: a misspelled key,
// a missing required field or a value outside an enum is a compile error.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { repoRoot } from '../../src/devenv/control-plane.js';

export const DASHBOARD_FILE = join(repoRoot(), 'charts', 'ocsp-operator', 'dashboards', 'ocsp-operator.json');

/** The parts of a dashboard the tests read (the schema check covers the rest). */
export interface DashboardTarget {
  refId: string;
  expr: string;
  legendFormat?: string;
  instant?: boolean;
}

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: DashboardTarget[];
  fieldConfig?: {
    defaults?: {
      unit?: string;
      thresholds?: { steps: Array<{ color: string; value: number | null }> };
      custom?: { thresholdsStyle?: { mode: string } };
    };
  };
}

export interface DashboardJson {
  title: string;
  uid: string;
  panels: DashboardPanel[];
  templating: { list: Array<{ name: string; type: string; query?: string | { query?: string }; allValue?: string }> };
}

export function readDashboard(file = DASHBOARD_FILE): { text: string; dashboard: DashboardJson } {
  const text = readFileSync(file, 'utf8');
  return { text, dashboard: JSON.parse(text) as DashboardJson };
}

export interface PanelQuery {
  panelId: number;
  panel: string;
  refId: string;
  legendFormat?: string;
  instant: boolean;
  /** The query as Prometheus receives it. */
  expr: string;
}

/** Values for the dashboard's variables; Grafana's own interval variables included. */
export interface QueryVariables {
  /** The namespace variable's value: a regex (the All value `.*`, or one namespace). */
  namespace: string;
  /** What Grafana puts in `$__rate_interval` (at least four scrape intervals). */
  rateInterval: string;
}

/** Every target of every panel, with `$var` and `${var}` replaced; an unknown variable throws. */
export function panelQueries(d: DashboardJson, vars: QueryVariables): PanelQuery[] {
  const values: Record<string, string> = { namespace: vars.namespace, __rate_interval: vars.rateInterval };
  const substitute = (expr: string) =>
    expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, braced: string | undefined, bare: string | undefined) => {
      const name = braced ?? bare ?? '';
      const v = values[name];
      if (v === undefined) throw new Error(`query uses $${name}, which the test does not substitute: ${expr}`);
      return v;
    });
  return d.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({
      panelId: p.id,
      panel: p.title,
      refId: t.refId,
      legendFormat: t.legendFormat,
      instant: t.instant === true,
      expr: substitute(t.expr),
    })),
  );
}

/**
 * Scrape targets for the monitored stack's programs with the target labels Prometheus would attach
 * in a cluster: the chart's PodMonitor gives pool pods their namespace, pod and container (an
 * embedded pool: one pod, the signer and responder containers); the operator's own series carry
 * the objects' namespaces (honor_labels, as the ServiceMonitor does).
 */
export function dashboardScrapeTargets(stack: {
  namespace: string;
  targets: ReadonlyArray<{ job: string; url: string }>;
}): Array<{ job: string; url: string; labels: Record<string, string> }> {
  const pod: Record<string, string> = { namespace: stack.namespace, pod: 'served-embedded-0' };
  return stack.targets.map((t) => ({ ...t, labels: t.job === 'operator' ? {} : { ...pod, container: t.job } }));
}

/** A series' name as Grafana's legend shows it: legendFormat's {{label}}s filled in, or the labels. */
export function legendName(legendFormat: string | undefined, metric: Record<string, string>): string {
  if (legendFormat && legendFormat !== '__auto') return legendFormat.replace(/\{\{\s*(\w+)\s*\}\}/g, (_m, l: string) => metric[l] ?? '');
  const labels = Object.entries(metric)
    .filter(([k]) => k !== '__name__')
    .map(([k, v]) => `${k}="${v}"`);
  return `${metric.__name__ ?? ''}{${labels.join(', ')}}`;
}

/** The namespace variable's query (`label_values(selector, label)`), split. */
export function namespaceVariable(d: DashboardJson): { selector: string; label: string; allValue?: string } {
  const v = d.templating.list.find((x) => x.name === 'namespace');
  const q = typeof v?.query === 'string' ? v.query : v?.query?.query;
  const m = q ? /^label_values\((.+),\s*(\w+)\)$/.exec(q) : null;
  if (!v || !m) throw new Error(`the namespace variable is not a label_values() query: ${String(q)}`);
  return { selector: m[1] ?? '', label: m[2] ?? '', allValue: v.allValue };
}

// The checked program. Wire<T> is T as JSON spells it: a string enum becomes the union of its values
// (JSON has no enums; Grafana reads the strings), numeric enums stay (a JSON number literal that is a
// member's value type-checks). Panels are checked against their own plugin's option types; Grafana's
// Panel types `options` and `targets` only as records. The Prometheus target shape is not part of
// @grafana/schema (the plugin lives in Grafana's repository): its fields are declared here.
const CHECK_SOURCE = (json: string) => `
import type { Dashboard, DataQuery, FieldConfigSource, Panel, RowPanel } from '@grafana/schema';
import type * as TimeSeries from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';
import type * as Stat from '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen';
import type * as Table from '@grafana/schema/dist/esm/raw/composable/table/panelcfg/x/TablePanelCfg_types.gen';

type Wire<T> = 0 extends 1 & T ? T
  : T extends string ? (string extends T ? string : \`\${T}\`)
  : T extends number | boolean | null | undefined ? T
  : T extends ReadonlyArray<infer U> ? Array<Wire<U>>
  : T extends object ? { [K in keyof T]: Wire<T[K]> }
  : T;

type PrometheusTarget = Wire<DataQuery> & {
  expr: string;
  legendFormat?: string;
  range?: boolean;
  instant?: boolean;
  format?: 'time_series' | 'table' | 'heatmap';
  interval?: string;
};
type PanelOf<K extends string, O, F> = Wire<Omit<Panel, 'type' | 'options' | 'fieldConfig' | 'targets'>> & {
  type: K;
  options: Wire<O>;
  fieldConfig: Wire<FieldConfigSource<F>>;
  targets: PrometheusTarget[];
};
type CheckedPanel =
  | PanelOf<'timeseries', TimeSeries.Options, TimeSeries.FieldConfig>
  | PanelOf<'stat', Stat.Options, Record<string, unknown>>
  | PanelOf<'table', Table.Options, Table.FieldConfig>
  | (Wire<Omit<RowPanel, 'panels'>> & { panels: CheckedPanel[] });
type CheckedDashboard = Wire<Omit<Dashboard, 'panels'>> & { panels: CheckedPanel[] };

export const dashboard: CheckedDashboard = ${json};
`;

const parsed = new Map<string, ts.SourceFile>();

/** Compiles the dashboard JSON as @grafana/schema's Dashboard; returns the compiler's messages (none = valid). */
export function dashboardSchemaErrors(json: string): string[] {
  const root = repoRoot();
  // A file that exists only in memory, placed in the repository so @grafana/schema resolves from node_modules.
  const fileName = join(root, 'test', 'support', '__dashboard_schema_check__.ts');
  const source = CHECK_SOURCE(json);
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2023.d.ts'],
    types: [],
    skipLibCheck: true,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, onError, create) => {
    if (name === fileName) return ts.createSourceFile(name, source, lang);
    // Parsed once per process: the declaration files are most of the time a check takes.
    let f = parsed.get(name);
    if (!f) {
      f = getSourceFile(name, lang, onError, create);
      if (f) parsed.set(name, f);
    }
    return f;
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === fileName || fileExists(name);
  const program = ts.createProgram([fileName], options, host);
  const sourceLines = source.split('\n');
  const jsonStart = sourceLines.findIndex((l) => l.startsWith('export const dashboard'));
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!d.file || d.start === undefined) return text;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    // Lines of the JSON file are numbered as in the file.
    const where =
      d.file.fileName === fileName && line >= jsonStart ? `ocsp-operator.json:${line - jsonStart + 1}` : `${d.file.fileName}:${line + 1}`;
    return `${where}: ${text}`;
  });
}
