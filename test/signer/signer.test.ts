// The signing loop end to end: an index.txt of 2,000 certificates, the CA key on SoftHSM, the
// embedded store. Every stored response verifies; the event loop stays responsive while signing;
// revocations, refresh age and signer rotation drive later rounds; metrics and logs say what happened.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateOcspResponse, softwareSigner } from '../../src/ocsp/index.js';
import { ManualClock } from '../../src/base/clock.js';
import { ResponderRotator } from '../../src/signer/delegated-responder.js';
import { openPkcs11Signer, type Pkcs11Signer } from '../../src/signer/pkcs11-signer.js';
import { acquireModule } from '../../src/signer/pkcs11-module.js';
import pkcs11js from 'pkcs11js';
import { ResponseSigner } from '../../src/signer/signer.js';
import { readIndexTxt } from '../../src/ca-db/index-txt.js';
import { EmbeddedStore } from '../../src/store/index.js';
import { opensslVerifyResponse } from '../support/openssl.js';
import { createCa, indexTxt, issueLeaf, type Ca, type IndexEntry, type Issued } from '../support/pki.js';
import { createSoftHsm, type SoftHsm } from '../support/softhsm.js';
import { storeStats } from '../support/store-stats.js';

const H = 3_600_000;
const N = 2000;
let hsm: SoftHsm;
let ca: Ca;
let leaves: Issued[];
let dir: string;
let hsmSigner: Pkcs11Signer;

beforeAll(async () => {
  hsm = await createSoftHsm();
  ca = await createCa({ keyAlg: 'P-256' });
  await hsm.importKey('ca', ca.keyPem);
  hsmSigner = openPkcs11Signer({ module: hsm.module, tokenLabel: hsm.tokenLabel, keyLabel: 'ca', pin: hsm.pin, sessions: 4 });
  leaves = [];
  for (let i = 0; i < N; i++) leaves.push(await issueLeaf(ca));
  dir = await mkdtemp(join(tmpdir(), 'ocsp-signer-'));
}, 120_000);
afterAll(async () => {
  await hsmSigner?.close();
  await hsm?.remove();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function logSink(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

async function writeIndex(path: string, entries: IndexEntry[]): Promise<void> {
  await writeFile(path, indexTxt(entries));
}

describe('ResponseSigner over SoftHSM and the embedded store', () => {
  it(`signs ${N} certificates from index.txt; every response verifies; the event loop is not blocked`, async () => {
    const indexPath = join(dir, 'index.txt');
    const revoked = new Set([leaves[7]!.serial, leaves[1500]!.serial]);
    await writeIndex(
      indexPath,
      leaves.map((l) =>
        revoked.has(l.serial)
          ? { cert: l.cert, status: 'R' as const, revokedAt: new Date(Date.now() - H), reason: 'keyCompromise' }
          : { cert: l.cert, status: 'V' as const },
      ),
    );
    const store = await EmbeddedStore.open({ path: join(dir, 'a', 'responses.log') });
    const registry = new Registry();
    const { logger, lines } = logSink();
    const signer = new ResponseSigner({
      issuer: ca.cert,
      identity: { signer: hsmSigner },
      certificates: async () => (await readIndexTxt(indexPath)).certificates,
      store,
      responseValidityMs: 168 * H,
      refreshAgeMs: 72 * H,
      concurrency: 4,
      registry,
      logger,
    });
    const lag = monitorEventLoopDelay({ resolution: 5 });
    lag.enable();
    const r = await signer.runOnce();
    lag.disable();
    const p99 = lag.percentile(99) / 1e6;
    const max = lag.max / 1e6;
    console.log(
      `signed ${r.signed} in ${Math.round(r.durationMs)} ms (${Math.round(r.rate)}/s); event-loop delay p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms`,
    );
    expect(r).toMatchObject({ planned: N, signed: N, failed: 0, byReason: { status: 2, new: N - 2, refresh: 0, signer: 0 } });
    expect(r.after.due).toBe(0);
    // Signing runs off the main thread: timers keep firing while thousands of signatures run. A
    // signer that blocked would show a delay near the whole round. The bound is loose because this
    // 2-core machine is shared (4 SoftHSM threads, V8's GC helpers, the other test worker, other
    // processes): p99 here is 15-60 ms when the machine is quiet, ~100 ms under a load average of
    // 12, and the OS scheduler, not this code, makes that tail.
    expect(p99).toBeLessThan(250);

    // Every stored response verifies for its certificate, with the right status.
    expect((await storeStats(store)).count).toBe(N);
    const now = new Date();
    for (const l of leaves) {
      const got = store.get(signer.issuerId, l.serial.toLowerCase().replace(/^0+/, ''));
      expect(got, l.serial).toBeDefined();
      const v = validateOcspResponse(got!.der, { cert: l.cert, issuer: ca.cert, now });
      expect(v.ok, l.serial).toBe(true);
      if (v.ok) expect(v.response.certStatus).toBe(revoked.has(l.serial) ? 'revoked' : 'good');
      expect(got!.nextUpdate - got!.thisUpdate).toBe(168 * H);
    }
    // and openssl agrees on a sample, including a revoked one
    for (const l of [leaves[0]!, leaves[7]!, leaves[N - 1]!]) {
      const der = store.get(signer.issuerId, l.serial.toLowerCase().replace(/^0+/, ''))!.der;
      const o = await opensslVerifyResponse({ response: der, issuerPem: ca.certPem, certPem: l.certPem, caPem: ca.certPem });
      expect(o.output).toContain('Response verify OK');
      expect(o.status).toBe(revoked.has(l.serial) ? 'revoked' : 'good');
    }

    // Metrics and logs
    const metrics = await registry.getMetricsAsJSON();
    const value = (name: string, labels: Record<string, string> = {}) =>
      metrics.find((m) => m.name === name)?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value;
    expect(value('ocsp_signer_signatures_total', { reason: 'new' })).toBe(N - 2);
    expect(value('ocsp_signer_signatures_total', { reason: 'status' })).toBe(2);
    expect(value('ocsp_signer_backlog', { kind: 'due' })).toBe(0);
    expect(value('ocsp_signer_signing_rate')).toBeGreaterThan(100);
    expect(
      lines
        .filter((l) => l.msg === 'signed status change')
        .map((l) => l.serial)
        .sort(),
    ).toEqual([...revoked].map((s) => s.toLowerCase().replace(/^0+/, '')).sort());

    // A second round has nothing to do; a new revocation in index.txt is signed alone, first.
    expect((await signer.runOnce()).planned).toBe(0);
    const target = leaves[42]!;
    await writeIndex(
      indexPath,
      leaves.map((l) =>
        revoked.has(l.serial) || l === target
          ? {
              cert: l.cert,
              status: 'R' as const,
              revokedAt: new Date(Date.now() - H),
              reason: l === target ? 'superseded' : 'keyCompromise',
            }
          : { cert: l.cert, status: 'V' as const },
      ),
    );
    const t0 = performance.now();
    const r3 = await signer.runOnce();
    expect(r3).toMatchObject({ planned: 1, signed: 1, byReason: { status: 1 } });
    expect(performance.now() - t0).toBeLessThan(2_000);
    const v = validateOcspResponse(store.get(signer.issuerId, target.serial.toLowerCase().replace(/^0+/, ''))!.der, {
      cert: target.cert,
      issuer: ca.cert,
      now: new Date(),
    });
    expect(v).toMatchObject({ ok: true, response: { certStatus: 'revoked', revocationReason: 'superseded' } });

    // A restarted signer reads the store back and finds nothing due.
    await store.close();
    const reopened = await EmbeddedStore.open({ path: join(dir, 'a', 'responses.log') });
    const again = new ResponseSigner({
      issuer: ca.cert,
      identity: { signer: hsmSigner },
      certificates: async () => (await readIndexTxt(indexPath)).certificates,
      store: reopened,
      responseValidityMs: 168 * H,
      refreshAgeMs: 72 * H,
    });
    expect((await again.runOnce()).planned).toBe(0);
    await reopened.close();
  });

  it('RSA-2048: a second of HSM work keeps the event loop turning, where the same signatures made synchronously stall it', async () => {
    const rsaCa = await createCa({ keyAlg: 'RSA-2048' });
    await hsm.importKey('rsa-ca', rsaCa.keyPem);
    const rsa = openPkcs11Signer({ module: hsm.module, tokenLabel: hsm.tokenLabel, keyLabel: 'rsa-ca', pin: hsm.pin, sessions: 4 });
    const store = await EmbeddedStore.open({ path: join(dir, 'rsa', 'responses.log') });
    try {
      const certs = Array.from({ length: 1000 }, (_, i) => ({ serial: (0x5000 + i).toString(16), notAfter: Date.now() + 24 * H }));
      const signer = new ResponseSigner({
        issuer: rsaCa.cert,
        identity: { signer: rsa },
        certificates: () => certs,
        store,
        responseValidityMs: 168 * H,
        refreshAgeMs: 72 * H,
        concurrency: 4,
      });
      const lag = monitorEventLoopDelay({ resolution: 5 });
      lag.enable();
      const r = await signer.runOnce();
      lag.disable();
      expect(r.signed).toBe(1000);

      // The serial alternative: pkcs11js's synchronous C_Sign, one after another on the main thread.
      const mod = acquireModule(hsm.module);
      const lib = mod.lib;
      const slot = lib.C_GetSlotList(true).find((x) => lib.C_GetTokenInfo(x).label.trim() === hsm.tokenLabel)!;
      const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
      lib.C_FindObjectsInit(session, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
        { type: pkcs11js.CKA_LABEL, value: 'rsa-ca' },
      ]);
      const [key] = lib.C_FindObjects(session, 1);
      lib.C_FindObjectsFinal(session);
      const blocked = monitorEventLoopDelay({ resolution: 5 });
      blocked.enable();
      const t0 = performance.now();
      await new Promise((res) => setTimeout(res, 20)); // let the monitor take a first sample
      for (let i = 0; i < 150; i++) {
        lib.C_SignInit(session, { mechanism: pkcs11js.CKM_SHA256_RSA_PKCS }, key!);
        lib.C_Sign(session, Buffer.from(`tbs ${i}`), Buffer.alloc(256));
      }
      const syncMs = performance.now() - t0 - 20;
      await new Promise((res) => setTimeout(res, 20));
      blocked.disable();
      lib.C_CloseSession(session);
      mod.release();
      console.log(
        `RSA-2048: pipeline ${r.signed} in ${Math.round(r.durationMs)} ms, event-loop delay p99 ${(lag.percentile(99) / 1e6).toFixed(1)} ms; ` +
          `150 synchronous C_Sign ${Math.round(syncMs)} ms, delay max ${(blocked.max / 1e6).toFixed(1)} ms`,
      );
      expect(lag.percentile(99) / 1e6).toBeLessThan(250);
      // the probe does see a stall when there is one: the whole synchronous stretch
      expect(blocked.max / 1e6).toBeGreaterThan(syncMs * 0.8);
    } finally {
      await store.close();
      await rsa.close();
    }
  });

  it('with a moved clock: refresh at refreshAge, and delegated responder rotation re-signs everything before the old signer expires', async () => {
    const certs = leaves.slice(0, 200);
    const clock = new ManualClock(Date.now());
    const store = await EmbeddedStore.open({ path: join(dir, 'b', 'responses.log') });
    const rotations: string[] = [];
    // responder certificates valid 10 days, renewed 7 days ahead; responses valid 7 days, refreshed at 3
    const rotator = new ResponderRotator({ issuer: ca.cert, issuerSigner: hsmSigner, validityMs: 240 * H, renewBeforeMs: 168 * H }, (c) =>
      rotations.push(c.serialNumber),
    );
    const signer = new ResponseSigner({
      issuer: ca.cert,
      identity: (now) => rotator.current(now),
      certificates: () => certs.map((l) => ({ serial: l.serial.toLowerCase().replace(/^0+/, ''), notAfter: l.cert.notAfter.getTime() })),
      store,
      responseValidityMs: 168 * H,
      refreshAgeMs: 72 * H,
      concurrency: 4,
      clock,
    });
    const first = await signer.runOnce();
    expect(first.byReason.new).toBe(200);
    clock.advance(71 * H);
    expect((await signer.runOnce()).planned).toBe(0);
    clock.advance(1 * H); // 72h: everything due for refresh (still the first responder: 7 days left... exactly)
    const second = await signer.runOnce();
    expect(rotations).toHaveLength(2); // at 72h the first responder has 168h left: renewed
    // rotation and refresh coincide here: refresh (the stronger reason) wins
    expect(second).toMatchObject({ signed: 200, byReason: { refresh: 200 } });
    clock.advance(24 * H);
    expect((await signer.runOnce()).planned).toBe(0);
    // Every response now carries the new signer and verifies at a time past the old signer's expiry.
    const late = new Date(clock.now() + 80 * H);
    for (const l of certs.slice(0, 20)) {
      const got = store.get(signer.issuerId, l.serial.toLowerCase().replace(/^0+/, ''))!;
      const v = validateOcspResponse(got.der, { cert: l.cert, issuer: ca.cert, now: late });
      expect(v.ok ? v.response.signer.serial.toUpperCase().replace(/^0+/, '') : v).toBe(rotations[1]!.toUpperCase().replace(/^0+/, ''));
    }
    await store.close();
  });

  it('a rotation between refreshes moves responses to the new signer (reason "signer"); nextUpdate never passes the signer\'s notAfter', async () => {
    const certs = leaves.slice(0, 50);
    const clock = new ManualClock(Date.now());
    const store = await EmbeddedStore.open({ path: join(dir, 'c', 'responses.log') });
    // 9-day responder, renewed 7 days ahead: rotation at day 2, between the refreshes at 0 and 3
    const rotator = new ResponderRotator({
      issuer: ca.cert,
      issuerSigner: softwareSigner(ca.keyObject),
      validityMs: 216 * H,
      renewBeforeMs: 168 * H,
    });
    const signer = new ResponseSigner({
      issuer: ca.cert,
      identity: (now) => rotator.current(now),
      certificates: () => certs.map((l) => ({ serial: l.serial.toLowerCase().replace(/^0+/, ''), notAfter: l.cert.notAfter.getTime() })),
      store,
      responseValidityMs: 168 * H,
      refreshAgeMs: 72 * H,
      clock,
    });
    await signer.runOnce();
    clock.advance(48 * H + 1000);
    const r = await signer.runOnce();
    expect(r).toMatchObject({ signed: 50, byReason: { signer: 50 } });
    for (const l of certs.slice(0, 5)) {
      const got = store.get(signer.issuerId, l.serial.toLowerCase().replace(/^0+/, ''))!;
      const v = validateOcspResponse(got.der, { cert: l.cert, issuer: ca.cert, now: new Date(clock.now()) });
      expect(v.ok).toBe(true);
      if (v.ok) expect(got.nextUpdate).toBeLessThanOrEqual(v.response.signer.notAfter.getTime());
    }
    await store.close();
  });

  it('run() loops on the injected clock until aborted; a failing signer is logged, backed off and retried, not fatal', async () => {
    const clock = new ManualClock(Date.now());
    const store = await EmbeddedStore.open({ path: join(dir, 'd', 'responses.log') });
    let fail = true;
    const base = softwareSigner(ca.keyObject);
    const flaky = {
      algorithm: base.algorithm,
      sign: (d: Uint8Array) => (fail ? Promise.reject(new Error('HSM unavailable')) : base.sign(d)),
    };
    const { logger, lines } = logSink();
    const certs = leaves
      .slice(0, 10)
      .map((l) => ({ serial: l.serial.toLowerCase().replace(/^0+/, ''), notAfter: l.cert.notAfter.getTime() }));
    const signer = new ResponseSigner({
      issuer: ca.cert,
      identity: { signer: flaky },
      certificates: () => certs,
      store,
      responseValidityMs: 168 * H,
      refreshAgeMs: 72 * H,
      clock,
      logger,
    });
    const ac = new AbortController();
    const rounds: { signed: number; failed: number }[] = [];
    let notify: () => void = () => {};
    const loop = signer.run({
      intervalMs: 10_000,
      errorBackoffMs: 30_000,
      signal: ac.signal,
      onRound: (r) => (rounds.push(r instanceof Error ? { signed: -1, failed: -1 } : { signed: r.signed, failed: r.failed }), notify()),
    });
    const nextRound = () => new Promise<void>((r) => (notify = r));
    while (rounds.length < 1) await nextRound();
    expect(rounds[0]).toEqual({ signed: 0, failed: 10 });
    expect(
      lines.some(
        (l) =>
          l.msg === 'signing failed' &&
          typeof l.serial === 'string' &&
          String((l.err as { message?: string })?.message).includes('HSM unavailable'),
      ),
    ).toBe(true);
    fail = false;
    const p = nextRound();
    // a round that signed nothing and failed backs off: no round after the normal interval ...
    clock.advance(10_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(rounds).toHaveLength(1);
    // ... but after errorBackoffMs
    clock.advance(20_000);
    await p;
    expect(rounds[1]).toEqual({ signed: 10, failed: 0 });
    expect(signer.backlog().due).toBe(0);
    ac.abort();
    await loop;
    await store.close();
  });
  it('run() aborted mid-round (SIGTERM): what is in flight is stored, nothing more is signed, and run() returns', async () => {
    const store = await EmbeddedStore.open({ path: join(dir, 'stop', 'responses.log') });
    const base = softwareSigner(ca.keyObject);
    const ac = new AbortController();
    let signatures = 0;
    // The abort arrives while the round is under way, from inside the signing (as a signal would).
    const counting = { algorithm: base.algorithm, sign: async (d: Uint8Array) => (++signatures === 100 && ac.abort(), base.sign(d)) };
    const certs = leaves
      .slice(0, 1000)
      .map((l) => ({ serial: l.serial.toLowerCase().replace(/^0+/, ''), notAfter: l.cert.notAfter.getTime() }));
    const signer = new ResponseSigner({
      issuer: ca.cert,
      identity: { signer: counting },
      certificates: () => certs,
      store,
      responseValidityMs: 168 * H,
      refreshAgeMs: 72 * H,
      concurrency: 4,
      batchSize: 16,
    });
    const rounds: number[] = [];
    await signer.run({ intervalMs: 10_000, signal: ac.signal, onRound: (r) => rounds.push(r instanceof Error ? -1 : r.signed) });
    // At most the workers' signatures in flight past the 100th (2 per session).
    expect(signatures).toBeGreaterThanOrEqual(100);
    expect(signatures).toBeLessThanOrEqual(100 + 8);
    expect(rounds).toEqual([signatures]);
    expect((await storeStats(store)).count).toBe(signatures);
    await store.close();
  });
});
