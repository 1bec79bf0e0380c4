// Responder benchmark: wrk on loopback (64 connections, fixed duration, every target run twice,
// interleaved) against our responder, `openssl ocsp -index -port` (and -multi 2), nginx serving the
// same DER as a static file, and a bare node:http server returning the bytes from memory; once with
// an ECDSA P-256 CA and once with an RSA-2048 CA.
//   npx tsc -p tsconfig.json; node dist/bench/responder.js [durationSeconds]
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildOcspRequest } from '../src/ocsp/index.js';
import { EmbeddedStore } from '../src/store/index.js';
import { presign } from '../test/responder/fixtures.js';
import { createCa, issueLeaf, type KeyAlg } from '../test/support/pki.js';
import { freePort } from '../test/support/redis.js';
import { startNginx } from './lib/nginx.js';
import { startOpenssl } from './lib/openssl.js';
import { startChild, type Child } from './lib/processes.js';
import { runWrk, type WrkResult } from './lib/wrk.js';

const DURATION = Number(process.argv[2] ?? process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = 64;
const THREADS = 2;
const here = resolve(new URL('.', import.meta.url).pathname);

interface Target {
  name: string;
  method: 'GET' | 'POST';
  start(): Promise<{ child: Child; base: string }>;
  /** Whether the body must equal the stored DER byte for byte (openssl signs afresh). */
  sameBytes: boolean;
}

async function benchCa(keyAlg: KeyAlg): Promise<Map<string, WrkResult[]>> {
  const dir = await mkdtemp(join(tmpdir(), `ocsp-bench-${keyAlg}-`));
  try {
    const ca = await createCa({ keyAlg });
    const leaf = await issueLeaf(ca);
    const rec = await presign(ca, leaf);
    const storePath = join(dir, 'responses.log');
    const s = await EmbeddedStore.open({ path: storePath });
    await s.put([rec]);
    await s.close();
    await writeFile(join(dir, 'ca.pem'), ca.certPem);
    await writeFile(join(dir, 'resp.der'), rec.der);
    const reqDer = buildOcspRequest({ cert: leaf.cert, issuer: ca.cert }).der;
    const getPath = encodeURIComponent(Buffer.from(reqDer).toString('base64'));
    const node = process.execPath;

    const openssl = (multi: boolean): Target => ({
      name: multi ? 'openssl ocsp -multi 2' : 'openssl ocsp',
      method: 'GET',
      sameBytes: false,
      async start() {
        const c = await startOpenssl({ dir, port: await freePort(), ca, entries: [{ cert: leaf.cert, status: 'V' }], probe: reqDer, ...(multi ? { multi: 2 } : {}) });
        return { child: c, base: c.line };
      },
    });
    const targets: Target[] = [
      {
        name: 'ocsp-operator responder',
        method: 'GET',
        sameBytes: true,
        async start() {
          const c = await startChild(node, [join(here, 'lib/responder-server.js'), storePath, join(dir, 'ca.pem')], /URL (\S+)/);
          return { child: c, base: c.line.slice(4) };
        },
      },
      {
        name: 'ocsp-operator responder (POST)',
        method: 'POST',
        sameBytes: true,
        async start() {
          const c = await startChild(node, [join(here, 'lib/responder-server.js'), storePath, join(dir, 'ca.pem')], /URL (\S+)/);
          return { child: c, base: c.line.slice(4) };
        },
      },
      {
        name: 'bare node:http',
        method: 'GET',
        sameBytes: true,
        async start() {
          const c = await startChild(node, [join(here, 'lib/bare-server.js'), join(dir, 'resp.der')], /PORT (\d+)/);
          return { child: c, base: `http://127.0.0.1:${c.line.slice(5)}/` };
        },
      },
      {
        name: 'nginx static file',
        method: 'GET',
        sameBytes: true,
        async start() {
          const c = await startNginx(dir, await freePort(), 'resp.der');
          return { child: c, base: c.line };
        },
      },
      openssl(false),
      openssl(true),
    ];

    const results = new Map<string, WrkResult[]>();
    for (let round = 1; round <= 2; round++) {
      for (const t of targets) {
        // A fresh server per run (openssl's responder needs it; the others get the same treatment).
        const { child, base } = await t.start();
        try {
          const url = t.method === 'GET' ? base + getPath : base;
          const check = await fetch(url, t.method === 'POST' ? { method: 'POST', body: reqDer } : {});
          const body = Buffer.from(await check.arrayBuffer());
          if (check.status !== 200 || body[0] !== 0x30 || (t.sameBytes && !body.equals(Buffer.from(rec.der)))) {
            throw new Error(`${t.name} did not answer the request correctly (HTTP ${check.status}, ${body.length} bytes)`);
          }
          const r = await runWrk({ url, method: t.method, ...(t.method === 'POST' ? { body: reqDer } : {}), connections: CONNECTIONS, threads: THREADS, durationS: DURATION, dir });
          results.set(t.name, [...(results.get(t.name) ?? []), r]);
          console.log(`  [${keyAlg}] round ${round} ${t.name.padEnd(32)} ${r.rps.toFixed(0).padStart(7)} req/s  p99 ${r.p99Ms.toFixed(2)} ms  (non-2xx ${r.non2xx}, socket errors ${r.errors})`);
        } finally {
          await child.stop();
        }
      }
    }
    return results;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function mean(rs: WrkResult[], f: (r: WrkResult) => number): number {
  return rs.reduce((a, r) => a + f(r), 0) / rs.length;
}

async function main(): Promise<void> {
  console.log(`wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION}s on 127.0.0.1, every target twice, interleaved`);
  for (const alg of ['P-256', 'RSA-2048'] as const) {
    const res = await benchCa(alg);
    console.log(`\n== ${alg} CA ==`);
    console.log(`${'target'.padEnd(32)} ${'run 1'.padStart(18)} ${'run 2'.padStart(18)} ${'mean req/s'.padStart(11)}`);
    for (const [name, rs] of res) {
      const cell = (r: WrkResult | undefined) => (r ? `${r.rps.toFixed(0)} / ${r.p99Ms.toFixed(2)}ms` : '-').padStart(18);
      console.log(`${name.padEnd(32)} ${cell(rs[0])} ${cell(rs[1])} ${mean(rs, (r) => r.rps).toFixed(0).padStart(11)}`);
    }
    const m = (n: string) => mean(res.get(n) ?? [], (r) => r.rps);
    const ours = m('ocsp-operator responder');
    console.log(`ratios (mean req/s): ours/nginx ${(ours / m('nginx static file')).toFixed(2)}, ours/bare-node ${(ours / m('bare node:http')).toFixed(2)}, ` +
      `ours/openssl ${(ours / m('openssl ocsp')).toFixed(1)}x, ours/openssl-multi2 ${(ours / m('openssl ocsp -multi 2')).toFixed(1)}x, ` +
      `POST/GET ${(m('ocsp-operator responder (POST)') / ours).toFixed(2)}`);
  }
}

await main();
