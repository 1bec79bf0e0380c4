// Responder benchmark: wrk on loopback (64 keep-alive connections, 2 threads) against our
// responder as a pod runs it (the CLI, N workers sharing the port), against nginx with N worker
// processes serving the same DER as a static file, and against a bare node:http server returning
// the bytes from memory with N workers (the ceiling for Node); also our responder as one process
// (against bare node:http as one process), POST, and `openssl ocsp -multi N`. Once with an ECDSA
// P-256 CA and once with an RSA-2048 CA.
//
// The machine is shared and busy, so figures wander from one run to the next by a factor of two.
// The servers therefore start once and stay up (but openssl's, which needs a fresh one per run),
// every target runs once per round for a few seconds, in an order rotated each round, and each
// ratio compares two figures of the same round (taken within half a minute of each other); the
// report gives each ratio's minimum and median over the rounds. Next to the rates it gives what the
// load wobbles least: the CPU time each server (all its processes) spent per request, so the
// comparison of costs holds even in a round where another job took the cores.
//   npm run build && node dist/bench/responder.js [--rounds 10] [--duration 3] [--workers N]
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildOcspRequest } from '../src/ocsp/index.js';
import { workersForCpuLimit } from '../src/responder/cpu-limit.js';
import { EmbeddedStore } from '../src/store/index.js';
import { presign } from '../test/responder/fixtures.js';
import { createCa, issueLeaf, type KeyAlg } from '../test/support/pki.js';
import { freePort } from '../test/support/redis.js';
import { startNginx } from './lib/nginx.js';
import { startOpenssl } from './lib/openssl.js';
import { treeCpuSeconds } from './lib/proc-status.js';
import { startChild, type Child } from './lib/processes.js';
import { startResponderPod } from './lib/responder-server.js';
import { runWrk, type WrkResult } from './lib/wrk.js';

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '10' },
    duration: { type: 'string', default: process.env.BENCH_DURATION ?? '3' },
    workers: { type: 'string' },
  },
});
const ROUNDS = Number(flags.rounds);
const DURATION = Number(flags.duration);
const WORKERS = flags.workers === undefined ? workersForCpuLimit() : Number(flags.workers);
const CONNECTIONS = 64;
const THREADS = 2;
const here = resolve(new URL('.', import.meta.url).pathname);

interface Server {
  start(): Promise<{ child: Child; base: string }>;
  /** openssl's responder is started afresh for every run; the others once. */
  freshEachRun?: boolean;
  /** Whether the body must equal the stored DER byte for byte (openssl signs afresh). */
  sameBytes: boolean;
}

interface Target {
  name: string;
  method: 'GET' | 'POST';
  server: Server;
}

const OURS = `ours ×${WORKERS}`;
const OURS_POST = `ours ×${WORKERS} POST`;
const OURS_1 = 'ours ×1';
const NGINX = `nginx ×${WORKERS}`;
const BARE = `bare node:http ×${WORKERS}`;
const BARE_1 = 'bare node:http ×1';
const OPENSSL = `openssl ocsp -multi ${WORKERS}`;

interface Run extends WrkResult {
  /** CPU time of the server's processes over the run, per request answered (µs). */
  cpuUs: number;
}

type Rounds = Map<string, Run>[];

async function benchCa(keyAlg: KeyAlg): Promise<Rounds> {
  const dir = await mkdtemp(join(tmpdir(), `ocsp-bench-${keyAlg}-`));
  try {
    const ca = await createCa({ keyAlg });
    const leaf = await issueLeaf(ca);
    const rec = await presign(ca, leaf);
    const s = await EmbeddedStore.open({ path: join(dir, 'responses.log') });
    await s.put([rec]);
    await s.close();
    await writeFile(join(dir, 'ca.pem'), ca.certPem);
    await writeFile(join(dir, 'resp.der'), rec.der);
    const reqDer = buildOcspRequest({ cert: leaf.cert, issuer: ca.cert }).der;
    const getPath = encodeURIComponent(Buffer.from(reqDer).toString('base64'));

    const ours = (workers: number): Server => ({
      sameBytes: true,
      async start() {
        const c = await startResponderPod({ storeDir: dir, caPem: join(dir, 'ca.pem'), port: await freePort(), workers });
        return { child: c, base: c.line };
      },
    });
    const bare = (workers: number): Server => ({
      sameBytes: true,
      async start() {
        const c = await startChild(
          process.execPath,
          [join(here, 'lib/bare-server.js'), join(dir, 'resp.der'), String(workers)],
          /PORT (\d+)/,
        );
        return { child: c, base: `http://127.0.0.1:${c.line.slice(5)}/` };
      },
    });
    const oursN = ours(WORKERS);
    const targets: Target[] = [
      { name: OURS, method: 'GET', server: oursN },
      {
        name: NGINX,
        method: 'GET',
        server: {
          sameBytes: true,
          async start() {
            const c = await startNginx(dir, await freePort(), 'resp.der', WORKERS);
            return { child: c, base: c.line };
          },
        },
      },
      { name: BARE, method: 'GET', server: bare(WORKERS) },
      { name: OURS_1, method: 'GET', server: ours(1) },
      { name: BARE_1, method: 'GET', server: bare(1) },
      { name: OURS_POST, method: 'POST', server: oursN },
      {
        name: OPENSSL,
        method: 'GET',
        server: {
          sameBytes: false,
          freshEachRun: true,
          async start() {
            const c = await startOpenssl({
              dir,
              port: await freePort(),
              ca,
              entries: [{ cert: leaf.cert, status: 'V' }],
              probe: reqDer,
              multi: WORKERS,
            });
            return { child: c, base: c.line };
          },
        },
      },
    ];
    const up = new Map<Server, { child: Child; base: string }>();
    const serve = async (server: Server) => {
      let s = up.get(server);
      if (s === undefined) {
        s = await server.start();
        if (!server.freshEachRun) up.set(server, s);
      }
      return s;
    };

    const rounds: Rounds = [];
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const results = new Map<string, Run>();
        // Rotated, so that no target always follows the same one (or always runs first).
        const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
        for (const t of order) {
          const { child, base } = await serve(t.server);
          try {
            const url = t.method === 'GET' ? base + getPath : base;
            const check = await fetch(url, t.method === 'POST' ? { method: 'POST', body: reqDer } : {});
            const body = Buffer.from(await check.arrayBuffer());
            if (check.status !== 200 || body[0] !== 0x30 || (t.server.sameBytes && !body.equals(Buffer.from(rec.der)))) {
              throw new Error(`${t.name} did not answer the request correctly (HTTP ${check.status}, ${body.length} bytes)`);
            }
            const cpuBefore = treeCpuSeconds(child.proc.pid!);
            const w = await runWrk({
              url,
              method: t.method,
              ...(t.method === 'POST' ? { body: reqDer } : {}),
              connections: CONNECTIONS,
              threads: THREADS,
              durationS: DURATION,
              dir,
            });
            const r = { ...w, cpuUs: ((treeCpuSeconds(child.proc.pid!) - cpuBefore) / w.requests) * 1e6 };
            results.set(t.name, r);
            const failures = r.non2xx + r.errors > 0 ? `  (non-2xx ${r.non2xx}, socket errors ${r.errors})` : '';
            console.log(
              `  [${keyAlg}] round ${round + 1} ${t.name.padEnd(24)} ${r.rps.toFixed(0).padStart(7)} req/s  p99 ${r.p99Ms.toFixed(2).padStart(6)} ms  ${r.cpuUs.toFixed(1).padStart(5)} µs CPU/req${failures}`,
            );
          } finally {
            if (t.server.freshEachRun) await child.stop();
          }
        }
        rounds.push(results);
      }
    } finally {
      for (const { child } of up.values()) await child.stop();
    }
    return rounds;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** One figure per round (a ratio of two targets of that round), then its worst and its median. */
function ratio(rounds: Rounds, f: (r: Map<string, Run>) => number, worst: 'min' | 'max' = 'min'): string {
  const xs = rounds.map(f);
  return `${worst} ${(worst === 'min' ? Math.min(...xs) : Math.max(...xs)).toFixed(2)}, median ${median(xs).toFixed(2)}`;
}

async function main(): Promise<void> {
  console.log(`wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION}s on 127.0.0.1, ${WORKERS} workers, ${ROUNDS} rounds, targets interleaved`);
  for (const alg of ['P-256', 'RSA-2048'] as const) {
    const rounds = await benchCa(alg);
    console.log(`\n== ${alg} CA ==`);
    console.log(`${'target'.padEnd(24)} ${'median req/s'.padStart(13)} ${'median p99'.padStart(11)} ${'median CPU/req'.padStart(15)}`);
    for (const name of rounds[0]!.keys()) {
      const rs = rounds.map((r) => r.get(name)!);
      const cells = [
        median(rs.map((r) => r.rps))
          .toFixed(0)
          .padStart(13),
        `${median(rs.map((r) => r.p99Ms)).toFixed(2)} ms`.padStart(11),
        `${median(rs.map((r) => r.cpuUs)).toFixed(1)} µs`.padStart(15),
      ];
      console.log(`${name.padEnd(24)} ${cells.join(' ')}`);
    }
    const rps = (r: Map<string, Run>, n: string) => r.get(n)!.rps;
    const p99 = (r: Map<string, Run>, n: string) => r.get(n)!.p99Ms;
    const cpu = (r: Map<string, Run>, n: string) => r.get(n)!.cpuUs;
    console.log(`${OURS} / ${NGINX}, req/s:`.padEnd(46) + ratio(rounds, (r) => rps(r, OURS) / rps(r, NGINX)));
    console.log(`${OURS} / ${NGINX}, p99:`.padEnd(46) + ratio(rounds, (r) => p99(r, OURS) / p99(r, NGINX), 'max'));
    console.log(`${NGINX} / ${OURS}, CPU per request:`.padEnd(46) + ratio(rounds, (r) => cpu(r, NGINX) / cpu(r, OURS)));
    console.log(`${BARE} / ${OURS}, CPU per request:`.padEnd(46) + ratio(rounds, (r) => cpu(r, BARE) / cpu(r, OURS)));
    console.log(`${OURS} / ${OURS_1}, req/s:`.padEnd(46) + ratio(rounds, (r) => rps(r, OURS) / rps(r, OURS_1)));
    console.log(`${OURS} / ${BARE}, req/s:`.padEnd(46) + ratio(rounds, (r) => rps(r, OURS) / rps(r, BARE)));
    console.log(`${OURS_1} / ${BARE_1}, req/s:`.padEnd(46) + ratio(rounds, (r) => rps(r, OURS_1) / rps(r, BARE_1)));
    console.log(`${OURS_1} / ${NGINX}, req/s:`.padEnd(46) + ratio(rounds, (r) => rps(r, OURS_1) / rps(r, NGINX)));
    console.log(`${OURS_POST} / ${OURS}, req/s:`.padEnd(46) + ratio(rounds, (r) => rps(r, OURS_POST) / rps(r, OURS)));
    console.log(`${OURS} / ${OPENSSL}, req/s:`.padEnd(46) + ratio(rounds, (r) => rps(r, OURS) / rps(r, OPENSSL)));
  }
}

await main();
