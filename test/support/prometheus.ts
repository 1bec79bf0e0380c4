// A real Prometheus for tests: Debian's /usr/bin/prometheus (hack/install-system-deps.sh) on
// 127.0.0.1 at a free port, its TSDB in a temp directory, scraping the given /metrics URLs every
// second. The query helpers speak its HTTP API (/api/v1/query, query_range, label values, targets).
// stop() kills it and removes the directory; a failed start tears down what it began.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from './redis.js';

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';

export interface ScrapeTarget {
  job: string;
  /** http://127.0.0.1:PORT/metrics */
  url: string;
  /** Target labels, as service discovery would attach them (e.g. a PodMonitor's namespace and pod). */
  labels?: Record<string, string>;
}

export interface Sample {
  metric: Record<string, string>;
  /** [unix seconds, value as Prometheus prints it] */
  value: [number, string];
}

export interface Series {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}

export interface PrometheusServer {
  url: string;
  /** An instant query at `time` (Unix seconds; default now). A scalar result is one sample without labels. */
  query(expr: string, time?: number): Promise<Sample[]>;
  /** A range query from start to end (Unix seconds) every step seconds. */
  queryRange(expr: string, start: number, end: number, step: number): Promise<Series[]>;
  /** The values of `label` on series matching any of the selectors. */
  labelValues(label: string, match: string[]): Promise<string[]>;
  /** Waits until every target was scraped successfully at least `scrapes` times (bounded by timeoutMs). */
  waitForScrapes(scrapes: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

interface ApiReply<T> {
  status: 'success' | 'error';
  data: T;
  errorType?: string;
  error?: string;
}

async function api<T>(base: string, path: string, params: Array<[string, string]>): Promise<T> {
  // GET: every endpoint used here takes it (label values takes nothing else).
  const res = await fetch(`${base}${path}?${new URLSearchParams(params).toString()}`, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  let body: ApiReply<T>;
  try {
    body = JSON.parse(text) as ApiReply<T>;
  } catch {
    throw new Error(`prometheus ${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
  }
  if (body.status !== 'success')
    throw new Error(
      `prometheus ${path} ${params.map(([k, v]) => `${k}=${v}`).join(' ')}: ${body.errorType ?? ''} ${body.error ?? res.status}`,
    );
  return body.data;
}

function scrapeConfig(targets: readonly ScrapeTarget[]) {
  const jobs = new Map<string, ScrapeTarget[]>();
  for (const t of targets) jobs.set(t.job, [...(jobs.get(t.job) ?? []), t]);
  return {
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    scrape_configs: [...jobs].map(([job, ts]) => ({
      job_name: job,
      // As the chart's ServiceMonitor does: staple series carry the staple's own `namespace` label.
      honor_labels: true,
      static_configs: ts.map((t) => {
        const u = new URL(t.url);
        // One job's targets may serve /metrics on different paths: the path is a per-target label.
        return { targets: [u.host], labels: { ...t.labels, __metrics_path__: u.pathname, __scheme__: u.protocol.replace(':', '') } };
      }),
    })),
  };
}

export async function startPrometheus(targets: readonly ScrapeTarget[], o: { retention?: string } = {}): Promise<PrometheusServer> {
  const dir = await mkdtemp(join(tmpdir(), 'ocsp-prometheus-'));
  let child: ReturnType<typeof spawn> | undefined;
  const stop = async () => {
    const p = child;
    child = undefined;
    if (p && p.exitCode === null && p.signalCode === null) {
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      const kill = setTimeout(() => p.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(kill);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const config = join(dir, 'prometheus.yml');
    await writeFile(config, stringify(scrapeConfig(targets)));
    // A port picked free may be taken before Prometheus binds it: a few tries.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      let log = '';
      const p = spawn(
        PROMETHEUS_BIN,
        [
          `--config.file=${config}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--storage.tsdb.retention.time=${o.retention ?? '1d'}`,
          `--web.listen-address=127.0.0.1:${port}`,
          '--log.level=warn',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      child = p;
      p.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-8_000)));
      const deadline = Date.now() + 30_000;
      let ready = false;
      while (!ready && p.exitCode === null && Date.now() < deadline) {
        ready = await fetch(`${base}/-/ready`, { signal: AbortSignal.timeout(1_000) }).then(
          (r) => r.ok,
          () => false,
        );
        if (!ready) await new Promise((r) => setTimeout(r, 100));
      }
      if (ready) return server(base);
      await stop().catch(() => undefined);
      if (attempt >= 3 || !/address already in use/.test(log)) throw new Error(`prometheus did not become ready on ${base}:\n${log}`);
    }
  } catch (err) {
    await stop();
    throw err;
  }

  function server(base: string): PrometheusServer {
    return {
      url: base,
      async query(expr, time) {
        const r = await api<{ resultType: string; result: Sample[] | [number, string] }>(base, '/api/v1/query', [
          ['query', expr],
          ...(time === undefined ? [] : [['time', String(time)] as [string, string]]),
        ]);
        if (r.resultType === 'scalar' || r.resultType === 'string') return [{ metric: {}, value: r.result as [number, string] }];
        return r.result as Sample[];
      },
      async queryRange(expr, start, end, step) {
        const r = await api<{ resultType: string; result: Series[] }>(base, '/api/v1/query_range', [
          ['query', expr],
          ['start', String(start)],
          ['end', String(end)],
          ['step', String(step)],
        ]);
        return r.result;
      },
      labelValues(label, match) {
        return api<string[]>(
          base,
          `/api/v1/label/${encodeURIComponent(label)}/values`,
          match.map((m) => ['match[]', m]),
        );
      },
      async waitForScrapes(scrapes, timeoutMs = 60_000) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const up = await this.query('sum_over_time(up[10m])').catch(() => [] as Sample[]);
          const seen = new Map(up.map((s) => [`${s.metric.job ?? ''} ${s.metric.instance ?? ''}`, Number(s.value[1])]));
          const waiting = targets.filter((t) => (seen.get(`${t.job} ${new URL(t.url).host}`) ?? 0) < scrapes);
          if (waiting.length === 0) return;
          if (Date.now() > deadline) {
            const health = await fetch(`${base}/api/v1/targets`).then(
              (r) => r.text(),
              (e: unknown) => String(e),
            );
            throw new Error(
              `targets not scraped ${scrapes} times within ${timeoutMs} ms: ${waiting.map((t) => t.url).join(', ')}\n${health}`,
            );
          }
          await new Promise((r) => setTimeout(r, 500));
        }
      },
      stop,
    };
  }
}
