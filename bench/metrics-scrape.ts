// One /metrics scrape of the staple controller's per-staple series: the operator's ScrapeRegistry
// against prom-client's own exposition of the same metrics, in the same process, alternating.
//   node dist/bench/metrics-scrape.js [--staples N] [--rounds R]
//   --staples N  staples with series (default 10000: 14 series each, 140,000 lines)
//   --rounds R   scrapes timed per registry, alternating (default 20)
// Prints CPU time per scrape for each, their ratio and the text's size (the two texts must be
// equal, or it stops). Each timed scrape starts after a full collection and includes the one of
// its own garbage, so neither pays for the other's.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { ManualClock } from '../src/base/clock.js';
import { ScrapeRegistry } from '../src/runtime/scraped-gauge.js';
import { StapleMetrics } from '../src/staple/metrics.js';

const { values: flags } = parseArgs({
  options: {
    staples: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '20' },
  },
});
const N = Number(flags.staples);
const ROUNDS = Number(flags.rounds);

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
