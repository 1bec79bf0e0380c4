// The prober against real HAProxy 2.6 and nginx on 127.0.0.1, each serving the current certificate
// with a good, missing, expired or mismatched (previous certificate's) staple. Metrics are read from
// /metrics as Prometheus would; time comes from a ManualClock, so expiry and re-probing are checked
// by moving time, not by sleeping.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointAddress, parseEndpoint } from '../../src/probe/endpoint.js';
import { Prober } from '../../src/probe/prober.js';
import type { ProbeResult } from '../../src/probe/tls-probe.js';
import { ManualClock } from '../../src/base/clock.js';
import { startHealthServer, type HealthServer } from '../../src/runtime/health-server.js';
import { metricValue } from '../support/kube.js';
import { haproxyCommand, startHaproxy, writeSecretVolume } from '../support/tls-servers.js';
import { CASES, HOST, makePki, secretData, signFor, type CaseName, type Pki } from './fixtures.js';
import { KINDS, startCaseServers, type CaseServers, type Kind } from './servers.js';

let pki: Pki;
let servers: CaseServers;
let clock: ManualClock;
let registry: Registry;
let prober: Prober;
let health: HealthServer;
const logs: Array<Record<string, unknown>> = [];
const results: ProbeResult[] = [];
const INTERVAL = 60_000;

beforeAll(async () => {
  pki = await makePki();
  servers = await startCaseServers(pki);
  clock = new ManualClock(Date.now());
  registry = new Registry();
  const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  prober = new Prober({
    endpoints: servers.all.map((s) => parseEndpoint(s.endpoint)),
    clock,
    registry,
    log,
    intervalMs: INTERVAL,
    timeoutMs: 5_000,
    onResult: (r) => results.push(r),
  });
  health = await startHealthServer({ host: '127.0.0.1', port: 0, registry, healthz: [], readyz: [] });
});

afterAll(async () => {
  await prober?.stop();
  await health?.close();
  await servers?.stop();
});

async function scrape(): Promise<string> {
  const r = await fetch(`${health.url}/metrics`);
  expect(r.status).toBe(200);
  return r.text();
}

function labels(kind: Kind, c: CaseName): { endpoint: string; servername: string } {
  return { endpoint: endpointAddress({ host: '127.0.0.1', port: servers.get(kind, c).port }), servername: HOST };
}

interface Expected {
  present: number;
  valid: number;
  /** undefined: the series is absent */
  matches?: number;
  /** expected seconds to expiry (±2), or undefined for absent */
  expiry?: () => number;
  success: boolean;
  reason: string;
}

// What each server serves decides what the prober must report. HAProxy refuses an expired or a
// mismatched .ocsp at load (it checks nextUpdate and the CertID against the certificate), so it
// staples nothing; nginx serves whatever file it is given.
function expected(kind: Kind, c: CaseName): Expected {
  const secondsTo = (d: Date) => () => (d.getTime() - clock.now()) / 1000;
  const none: Expected = { present: 0, valid: 0, success: false, reason: 'NoStaple' };
  if (c === 'good') return { present: 1, valid: 1, matches: 1, expiry: secondsTo(pki.goodNextUpdate), success: true, reason: 'Ok' };
  if (c === 'missing') return none;
  if (kind === 'haproxy') return none;
  if (c === 'expired')
    return { present: 1, valid: 0, matches: 1, expiry: secondsTo(pki.expiredNextUpdate), success: false, reason: 'Expired' };
  return { present: 1, valid: 0, matches: 0, expiry: secondsTo(pki.goodNextUpdate), success: false, reason: 'StapleMismatch' };
}

describe('one round of probes, read from /metrics', () => {
  let text: string;
  let probedAt: number;

  beforeAll(async () => {
    probedAt = clock.now();
    await prober.probeAll();
    text = await scrape();
  });

  const cases = KINDS.flatMap((kind) => CASES.map((c) => [kind, c] as const));
  it.each(cases)('%s with a %s staple', (kind, c) => {
    const e = expected(kind, c);
    const l = labels(kind, c);
    expect(metricValue(text, 'ocsp_probe_tls_up', l)).toBe(1);
    expect(metricValue(text, 'ocsp_probe_staple_present', l)).toBe(e.present);
    expect(metricValue(text, 'ocsp_probe_staple_valid', l)).toBe(e.valid);
    expect(metricValue(text, 'ocsp_probe_staple_matches_certificate', l)).toBe(e.matches);
    const expiry = metricValue(text, 'ocsp_probe_staple_expiry_seconds', l);
    if (e.expiry) expect(Math.abs(expiry! - e.expiry())).toBeLessThan(2);
    else expect(expiry).toBeUndefined();
    expect(metricValue(text, 'ocsp_probe_staple_good', l)).toBe(e.valid ? 1 : undefined);
    expect(metricValue(text, 'ocsp_probe_last_success_timestamp_seconds', l)).toBe(e.success ? probedAt / 1000 : undefined);
    expect(metricValue(text, 'ocsp_probe_result', { ...l, reason: e.reason })).toBe(1);
  });

  it('an expired staple counts down below zero, a good one above', () => {
    const good = metricValue(text, 'ocsp_probe_staple_expiry_seconds', labels('nginx', 'good'))!;
    const expired = metricValue(text, 'ocsp_probe_staple_expiry_seconds', labels('nginx', 'expired'))!;
    expect(good).toBeGreaterThan(47 * 3600);
    expect(expired).toBeLessThan(-23 * 3600);
  });

  it('logs name the endpoint and the reason; the mismatch names both serials', () => {
    const warn = (kind: Kind, c: CaseName) => logs.find((l) => l.level === 40 && l.endpoint === servers.get(kind, c).endpoint);
    const mismatch = warn('nginx', 'mismatched');
    expect(mismatch?.reason).toBe('StapleMismatch');
    expect(mismatch?.msg).toContain(
      `the staple is for serial ${pki.previous.serial.toLowerCase()}, the certificate is ${pki.current.serial.toLowerCase()}`,
    );
    expect(warn('nginx', 'expired')?.reason).toBe('Expired');
    expect(String(warn('nginx', 'expired')?.msg)).toMatch(/nextUpdate .* has passed/);
    expect(warn('haproxy', 'missing')?.reason).toBe('NoStaple');
    expect(warn('nginx', 'good')).toBeUndefined();
    const ok = logs.find((l) => l.level === 30 && l.endpoint === servers.get('haproxy', 'good').endpoint);
    expect(ok?.reason).toBe('Ok');
  });

  it('HAProxy said why it staples nothing for the expired and the mismatched file', async () => {
    expect(await servers.get('haproxy', 'expired').log()).toContain('OCSP single response: no longer valid');
    expect(await servers.get('haproxy', 'mismatched').log()).toContain('Certificate ID does not match certificate and issuer');
  });
});

describe('HAProxy runtime API: it refuses the wrong staples there too, and the prober still sees the good one', () => {
  const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

  it.each([
    ["the previous certificate's response", () => pki.previousGood, /Certificate ID does not match any certificate or issuer/],
    ['an expired response', () => pki.expired, /OCSP single response: no longer valid/],
  ] as const)('%s is refused', async (_what, staple, message) => {
    const s = servers.get('haproxy', 'good');
    if (!s.socket) throw new Error('HAProxy has no stats socket');
    const answer = await haproxyCommand(s.socket, `set ssl ocsp-response ${b64(staple())}`);
    expect(answer).toMatch(message);
    const r = await prober.probe(parseEndpoint(s.endpoint));
    expect(r.ok && r.check.staple.valid && r.check.staple.matchesCertificate).toBe(true);
  });
});

describe('on an interval, by the clock', () => {
  it('metrics move with the clock between probes; timers probe again; a staple past nextUpdate turns Expired', async () => {
    const goodNginx = labels('nginx', 'good');
    const before = metricValue(await scrape(), 'ocsp_probe_staple_expiry_seconds', goodNginx)!;
    clock.advance(3_600_000); // no timer is set yet: nothing probes, the expiry still counts down
    const after = metricValue(await scrape(), 'ocsp_probe_staple_expiry_seconds', goodNginx)!;
    expect(before - after).toBeCloseTo(3600, 3);

    const n = servers.all.length;
    results.length = 0;
    prober.start(); // probes every endpoint now
    await waitUntil(() => results.length >= n);
    const firstRound = clock.now();
    clock.advance(INTERVAL);
    await waitUntil(() => results.length >= 2 * n);
    expect(results.slice(n).every((r) => r.at.getTime() === firstRound + INTERVAL)).toBe(true);

    // two days later the good staple's nextUpdate has passed, by the prober's clock
    clock.advance(pki.goodNextUpdate.getTime() - clock.now() + 1_000);
    await waitUntil(() => results.length >= 3 * n);
    const text = await scrape();
    for (const kind of KINDS) {
      const l = labels(kind, 'good');
      expect(metricValue(text, 'ocsp_probe_staple_present', l)).toBe(1);
      expect(metricValue(text, 'ocsp_probe_staple_matches_certificate', l)).toBe(1);
      expect(metricValue(text, 'ocsp_probe_staple_valid', l)).toBe(0);
      expect(metricValue(text, 'ocsp_probe_result', { ...l, reason: 'Expired' })).toBe(1);
      expect(metricValue(text, 'ocsp_probe_staple_expiry_seconds', l)).toBeCloseTo(-1, 0);
      // the last success stays the last good probe
      expect(metricValue(text, 'ocsp_probe_last_success_timestamp_seconds', l)).toBe((firstRound + INTERVAL) / 1000);
    }
    await prober.stop();
    const count = results.length;
    clock.advance(INTERVAL * 3);
    await new Promise((r) => setTimeout(r, 200));
    expect(results.length).toBe(count);
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('HAProxy and a staple within 5 minutes of its nextUpdate (recorded)', () => {
  it('HAProxy loads it but staples nothing (it treats nextUpdate minus 300 s as the end), and the prober reports NoStaple', async () => {
    const soon = await signFor(pki, Date.now() + 120_000);
    const dir = await mkdtemp(join(tmpdir(), 'ocsp-probe-soon-'));
    await writeSecretVolume(dir, { ...secretData(pki, 'good'), 'haproxy.pem.ocsp': Buffer.from(soon).toString('base64') });
    const h = await startHaproxy({ secretDir: dir }).catch(async (e: unknown) => {
      await rm(dir, { recursive: true, force: true });
      throw e;
    });
    try {
      const r = await prober.probe(parseEndpoint(`127.0.0.1:${h.port}@${HOST}`));
      expect(r.ok && r.check.staple.present).toBe(false);
      expect(r.problem?.reason).toBe('NoStaple');
      expect(await h.log()).not.toContain('no longer valid');
    } finally {
      await h.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
