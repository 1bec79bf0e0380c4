// README's "What the chart grants" table is the chart's rules, row for row: a rule added to or
// widened in the chart without the README saying so fails here, and so does a README row the
// chart does not render.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/devenv/control-plane.js';
import { helmTemplate, ofKind, parseManifests, type Rule } from './helm.js';

/** One rule as a comparable line: group | resources | verbs (resourceNames are not in the table). */
const ruleLine = (r: Rule) =>
  [(r.apiGroups ?? []).map((g) => g || 'core').join(','), (r.resources ?? []).join(','), (r.verbs ?? []).join(',')].join(' | ');

function readmeRows(): string[] {
  const text = readFileSync(join(repoRoot(), 'README.md'), 'utf8');
  const table = /<!-- rbac:begin -->\n([\s\S]*?)<!-- rbac:end -->/.exec(text)?.[1];
  if (!table) throw new Error('README.md has no <!-- rbac:begin --> … <!-- rbac:end --> table');
  const cell = (c: string) =>
    c
      .replace(/`/g, '')
      .split(',')
      .map((x) => x.trim())
      .join(',');
  return table
    .split('\n')
    .filter((l) => l.startsWith('|') && !l.startsWith('| API group') && !l.startsWith('|---'))
    .map((l) => l.split('|').slice(1, 4).map(cell).join(' | '));
}

async function renderedRules(values: Parameters<typeof helmTemplate>[2], kind: 'ClusterRole' | 'Role'): Promise<string[][]> {
  const objs = ofKind(parseManifests(await helmTemplate('ocsp-operator', 'ocsp-operator-system', values)), kind).filter(
    (o) => !(o.metadata?.name ?? '').endsWith('-leader-election'),
  );
  return objs.map((o) => (o.rules ?? []).map(ruleLine));
}

const STAPLE_RESOURCES = /^(ocspstaples|secrets|events|certificates)/;

describe('README: what the chart grants', () => {
  const rows = readmeRows();

  it('the table lists exactly the ClusterRole the chart renders with its default values', async () => {
    const [rules, ...more] = await renderedRules({}, 'ClusterRole');
    expect(more, 'one operator ClusterRole').toHaveLength(0);
    expect(rows.length, 'the README table has rows').toBeGreaterThan(10);
    expect(rows).toEqual(rules);
  }, 120_000);

  it('namespaced mode renders the same rules in a Role per watched namespace, and no ClusterRole', async () => {
    const values = { json: { watchNamespaces: ['shop', 'payments'] } };
    expect(await renderedRules(values, 'ClusterRole')).toEqual([]);
    expect(await renderedRules(values, 'Role')).toEqual([rows, rows]);
  }, 120_000);

  it('pools.enabled=false leaves only the staple rows', async () => {
    const [rules] = await renderedRules({ set: { 'pools.enabled': false } }, 'ClusterRole');
    const stapleRows = rows.filter((r) => STAPLE_RESOURCES.test(r.split(' | ')[1] ?? ''));
    expect(stapleRows.length, 'the table has staple rows').toBeGreaterThan(3);
    expect(rules).toEqual(stapleRows);
  }, 120_000);
});
