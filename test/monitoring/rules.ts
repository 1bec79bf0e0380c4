// The chart's alerting rules as Prometheus loads them, and the promtool unit tests beside this file
// (rules/*.yaml), for rules.test.ts (promtool) and series.k8s.test.ts (their series against real
// scrapes).
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { helmTemplate, ofKind, parseManifests, type Values } from '../install/helm.js';

export const RULE_TESTS_DIR = join(import.meta.dirname, 'rules');
/** The name the unit test files give in `rule_files`. */
export const RULES_FILE = 'ocsp-operator-rules.yaml';
export const PROMTOOL = process.env.PROMTOOL ?? 'promtool';

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RuleGroups {
  groups: Array<{ name: string; rules: AlertRule[] }>;
}

/** Every group on: staples, operator, pools (pools.enabled is the default), signers, responders. */
export const ALL_GROUPS: Values = {
  set: { 'prometheusRule.enabled': true, 'prometheusRule.signers.enabled': true, 'prometheusRule.responders.enabled': true },
};

/** The PrometheusRule's spec: a plain Prometheus rule file. */
export async function renderRules(values: Values = ALL_GROUPS): Promise<RuleGroups> {
  const [rule] = ofKind(parseManifests(await helmTemplate('ocsp-operator', 'monitoring', values)), 'PrometheusRule');
  if (!rule?.spec) throw new Error('the chart rendered no PrometheusRule');
  const spec = rule.spec as unknown as RuleGroups;
  for (const g of spec.groups) for (const r of g.rules) r.expr = String(r.expr);
  return spec;
}

export const alertsOf = (rules: RuleGroups): AlertRule[] => rules.groups.flatMap((g) => g.rules);

export interface UnitTestFile {
  file: string;
  tests: Array<{
    input_series: Array<{ series: string; values: string }>;
    alert_rule_test: Array<{ alertname: string; eval_time: string; exp_alerts?: Array<{ exp_labels?: Record<string, string> }> }>;
  }>;
}

export async function unitTestFiles(): Promise<UnitTestFile[]> {
  const names = (await readdir(RULE_TESTS_DIR)).filter((f) => f.endsWith('.yaml')).sort();
  return Promise.all(
    names.map(async (file) => ({ file, ...(parse(await readFile(join(RULE_TESTS_DIR, file), 'utf8')) as Omit<UnitTestFile, 'file'>) })),
  );
}

/** `name{a="x",b="y"}` (promtool's series notation) as a name and its labels. */
export function parseSeries(s: string): { name: string; labels: Record<string, string> } {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$/.exec(s.trim());
  if (!m) throw new Error(`not a series: ${s}`);
  const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1] ?? '', x[2] ?? '']));
  return { name: m[1] ?? '', labels };
}

export interface RunResult {
  code: number;
  out: string;
}

export function promtool(args: string[], cwd: string, timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(PROMTOOL, args, { cwd, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
      if (e?.code === 'ENOENT')
        return reject(new Error(`${PROMTOOL} not found: hack/install-system-deps.sh installs it (Debian's prometheus package)`));
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}
