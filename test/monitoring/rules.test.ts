// The chart's alerts under Prometheus' own tool: `promtool check rules` on the rendered
// PrometheusRule (expressions and annotation templates parse), and `promtool test rules` on the unit
// tests in rules/ (each alert fires on its bad series and not on healthy ones). Two mutants prove
// those tests bite: with every expression made never to fire, each alert's firing case fails; made
// always to fire, each alert's quiet case fails. And every alert has a severity, a summary, and a
// runbook_url naming a file in docs/runbooks/ (and every runbook there has its alert).
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { repoRoot } from '../../src/devenv/control-plane.js';
import { CHART_DIR } from '../install/helm.js';
import {
  ALL_GROUPS,
  alertsOf,
  promtool,
  renderRules,
  RULE_TESTS_DIR,
  RULES_FILE,
  unitTestFiles,
  type RuleGroups,
  type UnitTestFile,
} from './rules.js';

const RUNBOOKS = join(repoRoot(), 'docs', 'runbooks');
let dir: string;
let rules: RuleGroups;
let tests: UnitTestFile[];

/** The rules as promtool's unit tests compare them: annotations (checked separately) dropped. */
function forUnitTests(r: RuleGroups, expr?: (alert: string) => string): RuleGroups {
  return {
    groups: r.groups.map((g) => ({
      name: g.name,
      rules: g.rules.map(({ annotations: _a, ...rule }) => ({ ...rule, ...(expr ? { expr: expr(rule.alert) } : {}) })),
    })),
  };
}

async function runUnitTests(r: RuleGroups): Promise<{ code: number; out: string }> {
  await writeFile(join(dir, RULES_FILE), stringify(r));
  return promtool(['test', 'rules', ...tests.map((t) => t.file)], dir);
}

/** The alert names promtool reports as failed. */
const failedAlerts = (out: string) => new Set([...out.matchAll(/alertname: (\w+), time:/g)].map((m) => m[1] ?? ''));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ocsp-promtool-'));
  rules = await renderRules();
  tests = await unitTestFiles();
  for (const t of tests) await copyFile(join(RULE_TESTS_DIR, t.file), join(dir, t.file));
}, 15 * 60_000); // renderRules runs helm: a fresh machine's first run builds it (hack/install-helm.sh)

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the chart's alerting rules", () => {
  it('promtool check rules accepts them, annotations included', async () => {
    await writeFile(join(dir, 'full-rules.yaml'), stringify(rules));
    const r = await promtool(['check', 'rules', 'full-rules.yaml'], dir);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(`SUCCESS: ${alertsOf(rules).length} rules found`);
  });

  it('every alert has a firing and a quiet unit test, and promtool test rules passes them all', async () => {
    const names = alertsOf(rules).map((r) => r.alert);
    expect(new Set(names).size, 'alert names are unique').toBe(names.length);
    const cases = tests.flatMap((t) => t.tests.flatMap((g) => g.alert_rule_test));
    const fires = new Set(cases.filter((c) => (c.exp_alerts ?? []).length > 0).map((c) => c.alertname));
    const quiet = new Set(cases.filter((c) => (c.exp_alerts ?? []).length === 0).map((c) => c.alertname));
    expect(
      names.filter((n) => !fires.has(n)),
      'alerts without a firing case',
    ).toEqual([]);
    expect(
      names.filter((n) => !quiet.has(n)),
      'alerts without a quiet case',
    ).toEqual([]);
    expect(
      [...new Set(cases.map((c) => c.alertname))].filter((n) => !names.includes(n)),
      'cases for alerts the chart does not have',
    ).toEqual([]);
    const r = await runUnitTests(forUnitTests(rules));
    expect(r.code, r.out).toBe(0);
    process.stderr.write(`promtool: ${names.length} alerts, ${cases.length} cases in ${tests.length} files passed\n`);
  });

  it('the unit tests catch an alert that never fires, and one that always does', async () => {
    const names = alertsOf(rules).map((r) => r.alert);
    const never = await runUnitTests(forUnitTests(rules, () => 'vector(1) == 0'));
    expect(never.code).not.toBe(0);
    expect([...failedAlerts(never.out)].sort()).toEqual([...names].sort());
    const always = await runUnitTests(forUnitTests(rules, () => 'vector(1)'));
    expect(always.code).not.toBe(0);
    expect([...failedAlerts(always.out)].sort()).toEqual([...names].sort());
  });

  it('every alert has a severity, a summary and a runbook in docs/runbooks/, and every runbook an alert', async () => {
    const home = (parse(await readFile(join(CHART_DIR, 'Chart.yaml'), 'utf8')) as { home?: string }).home;
    expect(home).toMatch(/^https:\/\//);
    const base = `${home}/blob/main/docs/runbooks`;
    const runbooks = (await readdir(RUNBOOKS)).filter((f) => f.endsWith('.md') && f !== 'README.md');
    for (const r of alertsOf(rules)) {
      expect(['critical', 'warning'], `${r.alert} severity`).toContain(r.labels?.severity);
      expect(r.annotations?.summary, `${r.alert} summary`).toBeTruthy();
      expect(r.annotations?.runbook_url, `${r.alert} runbook_url`).toBe(`${base}/${r.alert}.md`);
      const text = await readFile(join(RUNBOOKS, `${r.alert}.md`), 'utf8').catch(() => '');
      expect(text, `docs/runbooks/${r.alert}.md`).toMatch(new RegExp(`^# ${r.alert}\\n`));
      for (const section of ['## Meaning', '## Look', '## Act']) expect(text, `${r.alert}: ${section}`).toContain(section);
    }
    expect(runbooks.map((f) => f.replace(/\.md$/, '')).sort()).toEqual(
      alertsOf(rules)
        .map((r) => r.alert)
        .sort(),
    );
  });

  it('prometheusRule.runbookBaseURL moves every runbook_url; the optional groups come and go with their values', async () => {
    const moved = await renderRules({ set: { ...ALL_GROUPS.set, 'prometheusRule.runbookBaseURL': 'https://wiki.example/ocsp/' } });
    expect(alertsOf(moved).map((r) => r.annotations?.runbook_url)).toEqual(
      alertsOf(moved).map((r) => `https://wiki.example/ocsp/${r.alert}.md`),
    );
    const plain = await renderRules({ set: { 'prometheusRule.enabled': true, 'pools.enabled': false } });
    expect(plain.groups.map((g) => g.name)).toEqual(['ocsp-operator.staples']);
    expect(rules.groups.map((g) => g.name)).toEqual([
      'ocsp-operator.staples',
      'ocsp-operator.pools',
      'ocsp-operator.signers',
      'ocsp-operator.responders',
    ]);
  });
});
