// One /metrics scrape of the staple controller's per-staple series: the operator's ScrapeRegistry
// against prom-client's own exposition of the same metrics, in the same process, alternating.
//   node dist/bench/metrics-scrape.js [--staples N] [--rounds R]
//   --staples N  staples with series (default 10000: 14 series each, 140,000 lines)
//   --rounds R   scrapes timed per registry, alternating (default 20)
//   --served S   then the memory of serving S scrapes over HTTP (default 10; 0 skips it)
// Prints CPU time per scrape for each, their ratio and the text's size (the two texts must be
// equal, or it stops). Each timed scrape starts after a full collection and includes the one of
// its own garbage, so neither pays for the other's.
// Served: two child processes (this Node and its flags: run it as the chart runs the operator,
// the images' Node with --max-old-space-size=192 --max-semi-space-size=8) hold the same series and
// serve /metrics on 127.0.0.1, one through the health server (streamed, as the operator does), one
// answering with the whole text as one string; the RSS and VmHWM of each before and after the
// scrapes, read from /proc.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { ManualClock } from '../src/base/clock.js';
import { startHealthServer } from '../src/runtime/health-server.js';
import { ScrapeRegistry } from '../src/runtime/scraped-gauge.js';
import { StapleMetrics } from '../src/staple/metrics.js';
import { mib, procSample, type ProcSample } from './lib/proc-status.js';

const { values: flags } = parseArgs({
  options: {
    staples: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '20' },
    served: { type: 'string', default: '10' },
    child: { type: 'string' }, // internal: `streamed` or `whole`, a serving child
  },
});
const N = Number(flags.staples);
const ROUNDS = Number(flags.rounds);
const SERVED = Number(flags.served);

/** What a reconciled staple reports: its conditions, the certificate's and the response's times. */
function fill(registry: Registry, clock: ManualClock): void {
  const metrics = new StapleMetrics(registry, clock);
  for (let i = 0; i < N; i++) {
    const key = `team-${i % 50}/staple-${i}`;
    metrics.observe(key, {
      conditions: [
        { type: 'Ready', status: 'True', reason: 'Stapled' },
        { type: 'Fresh', status: 'True', reason: 'Fresh' },
        { type: 'Revoked', status: 'False', reason: 'Good' },
      ],
      notAfter: clock.now() + 90 * 86_400_000,
      nextUpdate: clock.now() + 4 * 86_400_000,
    });
    metrics.setUsableUntil(key, clock.now() + 4 * 86_400_000);
  }
}

if (flags.child) await serveAsChild(flags.child);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function cpuOfScrape(registry: Registry): Promise<{ ms: number; text: string }> {
  gc();
  const start = process.cpuUsage();
  const text = await registry.metrics();
  gc();
  const used = process.cpuUsage(start);
  return { ms: (used.user + used.system) / 1000, text };
}

const clock = new ManualClock(Date.parse('2026-12-03T12:00:00Z'));
const ours = new ScrapeRegistry();
const theirs = new Registry();
fill(ours, clock);
fill(theirs, clock);

const first = [await cpuOfScrape(ours), await cpuOfScrape(theirs)]; // warm-up, and the texts compared
if (first[0]?.text !== first[1]?.text) throw new Error('the two registries print different text: the comparison would mean nothing');
const lines = first[0]?.text.split('\n').length ?? 0;
const times = { ours: [] as number[], theirs: [] as number[] };
for (let r = 0; r < ROUNDS; r++) {
  times.ours.push((await cpuOfScrape(ours)).ms);
  times.theirs.push((await cpuOfScrape(theirs)).ms);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const [o, t] = [median(times.ours), median(times.theirs)];
process.stdout.write(
  `${N} staples, ${lines} lines, ${((first[0]?.text.length ?? 0) / 1024 / 1024).toFixed(1)} MiB a scrape; median of ${ROUNDS} scrapes each, alternating\n` +
    `ScrapeRegistry (ours)      ${o.toFixed(1)} ms CPU a scrape\n` +
    `prom-client Registry       ${t.toFixed(1)} ms CPU a scrape\n` +
    `ratio ours/prom-client     ${(o / t).toFixed(2)}x the CPU (${(t / o).toFixed(1)}x as fast)\n`,
);

if (SERVED > 0) {
  const streamed = await servedMemory('streamed');
  const whole = await servedMemory('whole');
  const line = (name: string, m: ServedMemory) =>
    `${name} RSS ${mib(m.before.rssBytes)} -> ${mib(m.after.rssBytes)} MiB, VmHWM ${mib(m.after.hwmBytes)} MiB`;
  process.stdout.write(
    `${SERVED} scrapes served over HTTP by a process holding the series (node ${process.execArgv.join(' ') || '(no flags)'}):\n` +
      `${line('streamed (health server)  ', streamed)}\n${line('one string                 ', whole)}\n`,
  );
}

/** A child holding the series and serving /metrics; prints its port, then serves until killed. */
async function serveAsChild(mode: string): Promise<never> {
  const registry = new ScrapeRegistry();
  fill(registry, new ManualClock(Date.parse('2026-12-03T12:00:00Z')));
  let port: number;
  if (mode === 'streamed') {
    const server = await startHealthServer({ host: '127.0.0.1', port: 0, registry, healthz: [], readyz: [] });
    port = Number(new URL(server.url).port);
  } else {
    const server = createServer((_req, res) => void registry.metrics().then((text) => res.end(text)));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  }
  process.stdout.write(`${port}\n`);
  return new Promise<never>(() => {});
}

interface ServedMemory {
  before: ProcSample;
  after: ProcSample;
}

async function servedMemory(mode: 'streamed' | 'whole'): Promise<ServedMemory> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, [...process.execArgv, self, '--staples', String(N), '--child', mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const [data] = (await once(child.stdout, 'data')) as [Buffer];
    const url = `http://127.0.0.1:${Number(data.toString())}/metrics`;
    const pid = child.pid ?? 0;
    const before = procSample(pid);
    for (let i = 0; i < SERVED; i++) {
      const res = await fetch(url);
      const text = await res.text();
      if (text.length < N * 14 * 40) throw new Error(`${mode}: a scrape of ${text.length} characters is too short`);
    }
    const after = procSample(pid);
    if (!before || !after) throw new Error(`${mode}: the serving process is gone`);
    return { before, after };
  } finally {
    child.kill();
  }
}
