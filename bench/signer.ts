// Signer benchmark: signatures per second on SoftHSM2 for ECDSA P-256 and RSA-2048, with 1 and N
// sessions, through the pipeline (ResponseSigner.runOnce: plan + encode + sign, into a store whose
// put does nothing) next to the raw backend rate (a bare pkcs11js C_SignInit + C_SignAsync loop
// with the same N sessions) and `openssl speed` for software keys. Every pair runs twice,
// interleaved (raw, pipeline, raw, pipeline ...). Then, with the embedded store (writes included):
// time to sign and to re-sign 100,000 P-256 certificates, and RSA-2048 extrapolated from 20,000.
//   npx tsc -p tsconfig.json && node dist/bench/signer.js [--sessions N] [--quick]
// UV_THREADPOOL_SIZE is raised by re-executing (as the signer command does): C_SignAsync runs there.
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pkcs11js from 'pkcs11js';
import { ManualClock } from '../src/base/clock.js';
import { acquireModule } from '../src/signer/pkcs11-module.js';
import { openPkcs11Signer, type Pkcs11Signer } from '../src/signer/pkcs11-signer.js';
import type { CertificateInfo } from '../src/ca-db/index-txt.js';
import { ResponseSigner } from '../src/signer/signer.js';
import { ensureThreadpool, threadpoolSizeFor } from '../src/signer/threadpool.js';
import { EmbeddedStore, type ResponseRecord, type ResponseStore, type StoredEntry } from '../src/store/index.js';
import { runOpenssl } from '../test/support/openssl.js';
import { createCa, type Ca } from '../test/support/pki.js';
import { createSoftHsm, type SoftHsm } from '../test/support/softhsm.js';
import { storeStats } from '../test/support/store-stats.js';

const { values } = parseArgs({ options: { sessions: { type: 'string' }, quick: { type: 'boolean', default: false } } });
const N = Number(values.sessions ?? Math.max(2, availableParallelism()));
const QUICK = values.quick;
const H = 3_600_000;

/** A store that only counts: the pipeline figure excludes store writes. */
class NullStore implements ResponseStore {
  count = 0;
  async put(records: readonly ResponseRecord[]): Promise<void> {
    this.count += records.length;
  }
  get(): undefined {
    return undefined;
  }
  async *entries(): AsyncIterable<StoredEntry> {}
  async stats() {
    return { count: this.count, oldestThisUpdate: undefined, soonestNextUpdate: undefined };
  }
  async lag() {
    return { lagMs: 0, detached: false };
  }
  async close(): Promise<void> {}
}

function certs(n: number, offset = 0): CertificateInfo[] {
  const notAfter = Date.now() + 365 * 24 * H;
  return Array.from({ length: n }, (_, i) => ({ serial: (0x10000000 + offset + i).toString(16), notAfter }));
}

interface Backend {
  name: 'P-256' | 'RSA-2048';
  ca: Ca;
  label: string;
  /** signatures per measurement */
  count: number;
}

/** The bare pkcs11js loop: `sessions` concurrent C_SignInit + C_SignAsync chains, `count` signatures. */
async function raw(hsm: SoftHsm, b: Backend, sessions: number): Promise<number> {
  const mod = acquireModule(hsm.module);
  const lib = mod.lib;
  const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === hsm.tokenLabel)!;
  const ss = Array.from({ length: sessions }, () => lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION));
  try {
    try {
      lib.C_Login(ss[0]!, pkcs11js.CKU_USER, hsm.pin);
    } catch {
      // already logged in by the pipeline signer
    }
    lib.C_FindObjectsInit(ss[0]!, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
      { type: pkcs11js.CKA_LABEL, value: b.label },
    ]);
    const [key] = lib.C_FindObjects(ss[0]!, 1);
    lib.C_FindObjectsFinal(ss[0]!);
    const ec = b.name === 'P-256';
    const mech = { mechanism: ec ? pkcs11js.CKM_ECDSA : pkcs11js.CKM_SHA256_RSA_PKCS };
    const data = ec ? createHash('sha256').update('tbs').digest() : Buffer.alloc(200, 7);
    let left = b.count;
    const t0 = performance.now();
    await Promise.all(
      ss.map(async (s) => {
        const out = Buffer.alloc(512);
        while (left > 0) {
          left--;
          lib.C_SignInit(s, mech, key!);
          await lib.C_SignAsync(s, data, out);
        }
      }),
    );
    return b.count / ((performance.now() - t0) / 1000);
  } finally {
    for (const s of ss) lib.C_CloseSession(s);
    mod.release();
  }
}

/** The pipeline: one ResponseSigner round over `count` new certificates (plan + encode + sign), store writes excluded. */
async function pipeline(signer: Pkcs11Signer, b: Backend, sessions: number): Promise<number> {
  const list = certs(b.count);
  const s = new ResponseSigner({
    issuer: b.ca.cert,
    identity: { signer },
    certificates: () => list,
    store: new NullStore(),
    responseValidityMs: 168 * H,
    refreshAgeMs: 72 * H,
    concurrency: sessions,
  });
  const t0 = performance.now();
  const r = await s.runOnce();
  const rate = r.signed / ((performance.now() - t0) / 1000);
  if (r.signed !== b.count || r.failed) throw new Error(`pipeline signed ${r.signed}/${b.count}, ${r.failed} failed`);
  return rate;
}

async function opensslSpeed(): Promise<{ ecdsap256?: number; rsa2048?: number; output: string }> {
  const r = await runOpenssl(['speed', '-seconds', QUICK ? '1' : '3', 'ecdsap256', 'rsa2048'], { timeoutMs: 120_000 });
  const out = r.stdout + r.stderr;
  const ec = /256 bits ecdsa \(nistp256\)\s+\S+s\s+\S+s\s+([\d.]+)/.exec(out)?.[1];
  const rsa = /rsa\s+2048 bits\s+\S+s\s+\S+s\s+([\d.]+)/.exec(out)?.[1];
  return { ...(ec ? { ecdsap256: Number(ec) } : {}), ...(rsa ? { rsa2048: Number(rsa) } : {}), output: out };
}

/** Sign `n` certificates into the embedded store, then move the clock past refreshAge and re-sign them all. */
async function resign(
  signer: Pkcs11Signer,
  b: Backend,
  n: number,
  sessions: number,
  dir: string,
): Promise<{ firstMs: number; resignMs: number; writes: number }> {
  const clock = new ManualClock(Date.now());
  const store = await EmbeddedStore.open({ path: join(dir, `${b.name}-${n}.log`), now: () => clock.now() });
  try {
    const list = certs(n, 0x1000000);
    const s = new ResponseSigner({
      issuer: b.ca.cert,
      identity: { signer },
      certificates: () => list,
      store,
      responseValidityMs: 168 * H,
      refreshAgeMs: 72 * H,
      concurrency: sessions,
      clock,
      batchSize: 512,
    });
    let t = performance.now();
    const first = await s.runOnce();
    const firstMs = performance.now() - t;
    clock.advance(72 * H);
    t = performance.now();
    const again = await s.runOnce();
    const resignMs = performance.now() - t;
    if (first.signed !== n || again.signed !== n || again.byReason.refresh !== n)
      throw new Error(`signed ${first.signed} then ${again.signed} (refresh ${again.byReason.refresh}) of ${n}`);
    return { firstMs, resignMs, writes: (await storeStats(store)).count };
  } finally {
    await store.close();
  }
}

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

interface Measured {
  rate: number;
  /** process CPU time (user + system, every thread: main, libuv pool, SoftHSM) per signature, µs */
  cpuUs: number;
}

/**
 * Rate and CPU per signature. The CPU figure is the one to trust on a shared machine: other
 * processes change the rate, not what a signature costs this process.
 */
async function measure(count: number, f: () => Promise<number>): Promise<Measured> {
  const c0 = process.cpuUsage();
  const rate = await f();
  const c = process.cpuUsage(c0);
  return { rate, cpuUs: (c.user + c.system) / count };
}

async function main(): Promise<number> {
  const child = ensureThreadpool(threadpoolSizeFor(N));
  if (child) return child;
  console.log(
    `signer benchmark: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), N = ${N} sessions, UV_THREADPOOL_SIZE = ${process.env.UV_THREADPOOL_SIZE ?? 4}, node ${process.version}`,
  );
  const hsm = await createSoftHsm({ tokenLabel: 'bench' });
  const dir = await mkdtemp(join(tmpdir(), 'ocsp-bench-signer-'));
  const signers: Pkcs11Signer[] = [];
  try {
    const backends: Backend[] = [];
    for (const [name, count] of [
      ['P-256', QUICK ? 5_000 : 20_000],
      ['RSA-2048', QUICK ? 1_000 : 4_000],
    ] as const) {
      const ca = await createCa({ keyAlg: name });
      await hsm.importKey(`ca-${name}`, ca.keyPem);
      backends.push({ name, ca, label: `ca-${name}`, count });
    }
    const ossl = await opensslSpeed();

    const rows: { backend: string; sessions: number; raw: Measured[]; pipe: Measured[] }[] = [];
    for (const b of backends) {
      for (const sessions of [1, N]) {
        const signer = openPkcs11Signer({ module: hsm.module, tokenLabel: hsm.tokenLabel, keyLabel: b.label, pin: hsm.pin, sessions });
        signers.push(signer);
        await pipeline(signer, { ...b, count: Math.ceil(b.count / 10) }, sessions); // warm-up (JIT, token)
        const row = { backend: b.name, sessions, raw: [] as Measured[], pipe: [] as Measured[] };
        for (let pass = 0; pass < 2; pass++) {
          row.raw.push(await measure(b.count, () => raw(hsm, b, sessions)));
          row.pipe.push(await measure(b.count, () => pipeline(signer, b, sessions)));
        }
        rows.push(row);
        console.log(
          `  ${b.name} ${sessions} session(s): raw ${row.raw.map((m) => fmt(m.rate)).join(' / ')}  pipeline ${row.pipe.map((m) => fmt(m.rate)).join(' / ')} signatures/s`,
        );
        await signer.close();
      }
    }

    console.log(
      '\nsignatures/s, two interleaved runs each; rate ratio = best pipeline / best raw; CPU ratio = raw CPU µs per signature / pipeline CPU µs per signature (best runs)',
    );
    console.log(
      '| key | sessions | raw pkcs11js loop /s | pipeline (plan+encode+sign) /s | rate ratio | CPU µs/sig raw | CPU µs/sig pipeline | CPU ratio | openssl speed /s (1 core, software key) |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|');
    const best = (a: Measured[]) => Math.max(...a.map((m) => m.rate));
    const leastCpu = (a: Measured[]) => Math.min(...a.map((m) => m.cpuUs));
    for (const r of rows) {
      const sw = r.backend === 'P-256' ? ossl.ecdsap256 : ossl.rsa2048;
      console.log(
        `| ${r.backend} | ${r.sessions} | ${r.raw.map((m) => fmt(m.rate)).join(', ')} | ${r.pipe.map((m) => fmt(m.rate)).join(', ')} | ${((100 * best(r.pipe)) / best(r.raw)).toFixed(0)}% | ${r.raw.map((m) => m.cpuUs.toFixed(0)).join(', ')} | ${r.pipe.map((m) => m.cpuUs.toFixed(0)).join(', ')} | ${((100 * leastCpu(r.raw)) / leastCpu(r.pipe)).toFixed(0)}% | ${sw ? fmt(sw) : '?'} |`,
      );
    }

    console.log('\nwith the embedded store (fsynced writes included), N sessions:');
    const p256 = backends[0]!;
    const rsa = backends[1]!;
    const s1 = openPkcs11Signer({ module: hsm.module, tokenLabel: hsm.tokenLabel, keyLabel: p256.label, pin: hsm.pin, sessions: N });
    signers.push(s1);
    const n = QUICK ? 20_000 : 100_000;
    const big = await resign(s1, p256, n, N, dir);
    console.log(
      `  P-256: first signing of ${fmt(n)} certificates ${(big.firstMs / 1000).toFixed(1)} s (${fmt(n / (big.firstMs / 1000))}/s); re-signing all ${fmt(n)} after refreshAge ${(big.resignMs / 1000).toFixed(1)} s (${fmt(n / (big.resignMs / 1000))}/s)${QUICK ? ' [--quick: 20,000, not 100,000]' : ''}`,
    );
    await s1.close();
    const s2 = openPkcs11Signer({ module: hsm.module, tokenLabel: hsm.tokenLabel, keyLabel: rsa.label, pin: hsm.pin, sessions: N });
    signers.push(s2);
    const m = QUICK ? 4_000 : 20_000;
    const small = await resign(s2, rsa, m, N, dir);
    const perSec = m / (small.resignMs / 1000);
    console.log(
      `  RSA-2048: re-signing ${fmt(m)} certificates ${(small.resignMs / 1000).toFixed(1)} s (${fmt(perSec)}/s) -> 100,000 extrapolated: ${(100_000 / perSec).toFixed(0)} s (not measured)`,
    );
    await s2.close();
    return 0;
  } finally {
    for (const s of signers) await s.close();
    await hsm.remove();
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
