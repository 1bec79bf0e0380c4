// The series the promtool unit tests (rules/*.yaml) feed the alerts are series the real processes
// export: a running operator (with staples and pools in the unhealthy states the alerts are about),
// signer and responder (test/support/monitored-stack.ts) are scraped, and every input series'
// name must be exported by its process with the same label names (give or take the target labels
// Prometheus adds), and every enumerated label value (reason, type, status, ...) must be seen in
// the scrape or, for states the stack does not reach, be a literal of the source. The same holds
// for the label values the rule expressions name. A renamed metric, label or reason breaks this.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/devenv/control-plane.js';
import { startMonitoredStack, type MonitoredJob, type MonitoredStack } from '../support/monitored-stack.js';
import { alertsOf, parseSeries, renderRules, unitTestFiles } from './rules.js';

/** Labels Prometheus adds to a scraped series (the chart's ServiceMonitor and PodMonitor targets). */
const TARGET_LABELS = new Set(['job', 'instance', 'namespace', 'pod', 'container', 'endpoint', 'service']);
/** Labels whose values are a fixed vocabulary of the code (not names of objects or pods). */
const ENUMERATED = ['reason', 'type', 'status', 'kind', 'result', 'method', 'controller'];
/** Families that have no sample in the stack (a labelled counter appears at its first increment). */
const NO_SAMPLES: Record<string, string> = {
  ocsp_signer_errors_total: 'no signing or storing error happens in the stack',
};

interface Sample {
  name: string;
  labels: Record<string, string>;
}

function samples(text: string): Sample[] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => parseSeries(l.slice(0, l.lastIndexOf(' '))));
}
const families = (text: string) => new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] ?? ''));
const jobOf = (name: string): MonitoredJob =>
  name.startsWith('ocsp_signer_') ? 'signer' : name.startsWith('ocsp_responder_') ? 'responder' : 'operator';

let stack: MonitoredStack;
const scraped = new Map<MonitoredJob, { text: string; samples: Sample[] }>();
let sourceText = '';

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...(await sources(join(dir, e.name))));
    else if (e.name.endsWith('.ts')) out.push(await readFile(join(dir, e.name), 'utf8'));
  }
  return out;
}
/** A value the code writes somewhere as a string literal ('KeyMismatch', "Fresh", ...). */
const inSource = (v: string) => sourceText.includes(`'${v}'`) || sourceText.includes(`"${v}"`);

beforeAll(async () => {
  stack = await startMonitoredStack({ namespacePrefix: 'alert-series' });
  for (const t of stack.targets) {
    const text = await (await fetch(t.url)).text();
    scraped.set(t.job, { text, samples: samples(text) });
  }
  sourceText = (await sources(join(repoRoot(), 'src'))).join('\n');
}, 240_000);

afterAll(async () => {
  await stack?.stop();
});

describe("the alert tests' series, against what the processes export", () => {
  it('every input series has an exported name and label set, and known label values', async () => {
    const files = await unitTestFiles();
    const problems: string[] = [];
    const live = new Set<string>();
    const notLive = new Set<string>();
    const checked = new Set<string>();
    for (const f of files) {
      for (const s of f.tests.flatMap((t) => t.input_series)) {
        const { name, labels } = parseSeries(s.series);
        const job = jobOf(name);
        const got = scraped.get(job);
        if (!got) throw new Error(`no scrape of ${job}`);
        checked.add(name);
        if (!families(got.text).has(name)) {
          problems.push(`${f.file}: ${name} is not exported by the ${job}`);
          continue;
        }
        const mine = got.samples.filter((x) => x.name === name);
        if (mine.length === 0) {
          if (!NO_SAMPLES[name]) problems.push(`${f.file}: ${name} has no sample in the ${job}'s scrape`);
          continue;
        }
        const names = Object.keys(labels);
        // some exported sample whose labels are these, but for target labels Prometheus adds
        const fits = mine.some(
          (x) => Object.keys(x.labels).every((k) => k in labels) && names.every((k) => k in x.labels || TARGET_LABELS.has(k)),
        );
        if (!fits)
          problems.push(
            `${f.file}: ${s.series} has labels {${names.join(',')}}; the ${job} exports ${name} with {${Object.keys(mine[0]!.labels).join(',')}}`,
          );
        for (const k of ENUMERATED) {
          const v = labels[k];
          if (v === undefined) continue;
          const key = `${name}{${k}="${v}"}`;
          if (mine.some((x) => x.labels[k] === v)) live.add(key);
          else if (inSource(v)) notLive.add(key);
          else problems.push(`${f.file}: ${key}: the ${job} never exported it and no source file names '${v}'`);
        }
      }
    }
    expect(problems).toEqual([]);
    // The stack's states reach the alerts: each staple state's reason is fed to a test live.
    for (const reason of Object.values(stack.staples))
      expect(live.has(`ocsp_operator_staple_ready{reason="${reason}"}`), `staple reason ${reason} used live`).toBe(true);
    process.stderr.write(
      `alert test series: ${checked.size} metrics; label values seen live: ${live.size}; from the source only: ${[...notLive].sort().join(', ')}\n`,
    );
  });

  it('every metric a rule names is exported, and every label value it names is seen live or in the source', async () => {
    const problems: string[] = [];
    for (const r of alertsOf(await renderRules())) {
      for (const m of r.expr.matchAll(/\b(ocsp_[a-z0-9_]+)(?:\{([^}]*)\})?/g)) {
        const name = m[1] ?? '';
        const got = scraped.get(jobOf(name))!;
        if (!families(got.text).has(name)) problems.push(`${r.alert}: ${name} is not exported by the ${jobOf(name)}`);
        for (const l of (m[2] ?? '').matchAll(/(\w+)\s*(=~|!~|=|!=)\s*"([^"]*)"/g)) {
          const [, label = '', , pattern = ''] = l;
          if (!ENUMERATED.includes(label)) continue;
          for (const v of pattern.split('|')) {
            if (!got.samples.some((x) => x.name === name && x.labels[label] === v) && !inSource(v))
              problems.push(`${r.alert}: ${name}{${label}="${v}"} is neither exported nor in the source`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });
});
