// The two commands as a user runs them, from dist/ (built by `npx tsc` / `npm run build`):
//   `ocsp-operator probe` — a process with /metrics, and `--once` for scripts;
//   `kubectl-ocsp probe` and `kubectl-ocsp fetch` — exit codes and the lines people read.
// Against HAProxy and nginx serving good, missing, expired and mismatched staples, a small HTTP
// responder that answers whatever body a test sets, and the real `openssl ocsp` responder.
import { spawn, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/devenv/control-plane.js';
import { buildOcspRequest, errorResponse } from '../../src/ocsp/index.js';
import { endpointAddress } from '../../src/probe/endpoint.js';
import { metricValue, waitFor } from '../support/kube.js';
import { freePort, startOpensslResponder, type ResponderHandle } from '../support/openssl.js';
import { issueLeaf, type Issued } from '../support/pki.js';
import { CASES, HOST, makePki, type CaseName, type Pki } from './fixtures.js';
import { KINDS, startCaseServers, type CaseServers, type Kind } from './servers.js';

const CLI = join(repoRoot(), 'dist', 'src', 'cli.js');
const PLUGIN = join(repoRoot(), 'bin', 'kubectl-ocsp');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, env: { ...process.env, LOG_LEVEL: 'info' } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const plugin = (args: string[]) => run(PLUGIN, args);

/** The value printed after `key:` (whatever the padding), first occurrence; undefined when there is no such line. */
function field(out: string, key: string): string | undefined {
  const esc = key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^\\s*${esc}:\\s+(.*)$`, 'm').exec(out)?.[1];
}

let pki: Pki;
let servers: CaseServers;
let tmp: string;
let files: { current: string; currentChain: string; previousChain: string; ca: string; other: string };

beforeAll(async () => {
  for (const f of [CLI, join(repoRoot(), 'dist', 'src', 'kubectl-plugin', 'main.js')]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: build first (npx tsc -p tsconfig.json)`);
  }
  pki = await makePki();
  servers = await startCaseServers(pki);
  tmp = await mkdtemp(join(tmpdir(), 'ocsp-commands-'));
  files = {
    current: join(tmp, 'leaf.pem'),
    currentChain: join(tmp, 'chain.pem'),
    previousChain: join(tmp, 'previous.pem'),
    ca: join(tmp, 'ca.pem'),
    other: join(tmp, 'other.pem'),
  };
  await writeFile(files.current, pki.current.certPem);
  await writeFile(files.currentChain, pki.current.chainPem);
  await writeFile(files.previousChain, pki.previous.chainPem);
  await writeFile(files.ca, pki.ca.certPem);
  await writeFile(files.other, pki.previous.certPem); // not an issuer of anything
});

afterAll(async () => {
  await servers?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const cur = () => pki.current.serial.toLowerCase();
const prev = () => pki.previous.serial.toLowerCase();

describe('kubectl-ocsp probe HOST:PORT@SNI', () => {
  // what HAProxy serves for each file: nothing for the expired and the mismatched one (it refuses them at load)
  type E = { code: number; present: string; valid?: RegExp; lockstep: RegExp; verdict: RegExp };
  const ok: E = {
    code: 0,
    present: 'yes',
    valid: /^yes$/,
    lockstep: /^yes: the staple is for serial CUR from CN=Probe Test CA/,
    verdict: /^OK$/,
  };
  const none: E = { code: 1, present: 'no', lockstep: /^no staple/, verdict: /^PROBLEM: NoStaple: no OCSP staple for certificate CUR$/ };
  const expectations: Record<Kind, Record<CaseName, E>> = {
    haproxy: { good: ok, missing: none, expired: none, mismatched: none },
    nginx: {
      good: ok,
      missing: none,
      expired: {
        code: 1,
        present: 'yes',
        valid: /^no: Expired: nextUpdate \S+ has passed/,
        lockstep: /^yes: the staple is for serial CUR/,
        verdict: /^PROBLEM: Expired: /,
      },
      mismatched: {
        code: 1,
        present: 'yes',
        valid: /^no: CertIdMismatch: /,
        lockstep: /^NO: the staple is for serial PREV, the certificate is CUR$/,
        verdict: /^PROBLEM: StapleMismatch: not in lockstep/,
      },
    },
  };
  const re = (r: RegExp) => new RegExp(r.source.replace('CUR', cur()).replace('PREV', prev()));
  const cases = KINDS.flatMap((kind) => CASES.map((c) => [kind, c] as const));

  it.each(cases)('%s with a %s staple', async (kind, c) => {
    const r = await plugin(['probe', servers.get(kind, c).endpoint]);
    const e = expectations[kind][c];
    expect(r.stderr).toBe('');
    expect(r.code, r.stdout).toBe(e.code);
    expect(field(r.stdout, 'serial')).toBe(cur());
    expect(field(r.stdout, 'present')).toMatch(new RegExp(`^${e.present}`));
    if (e.valid) expect(field(r.stdout, 'valid')).toMatch(re(e.valid));
    else expect(field(r.stdout, 'valid')).toBeUndefined();
    expect(field(r.stdout, 'Lockstep')).toMatch(re(e.lockstep));
    expect(field(r.stdout, 'Verdict')).toMatch(re(e.verdict));
  });

  it('the mismatch names both serials, in text and in JSON', async () => {
    const endpoint = servers.get('nginx', 'mismatched').endpoint;
    const text = await plugin(['probe', endpoint]);
    expect(field(text.stdout, 'Lockstep')).toBe(`NO: the staple is for serial ${prev()}, the certificate is ${cur()}`);
    const json = await plugin(['probe', endpoint, '-o', 'json']);
    expect(json.code).toBe(1);
    const j = JSON.parse(json.stdout) as {
      lockstep: boolean;
      staple: { present: boolean; valid: boolean; matchesCertificate: boolean; failure: { reason: string } };
      problems: Array<{ reason: string }>;
    };
    expect(j.lockstep).toBe(false);
    expect(j.staple).toMatchObject({ present: true, valid: false, matchesCertificate: false, failure: { reason: 'CertIdMismatch' } });
    expect(j.problems.map((p) => p.reason)).toEqual(['StapleMismatch']);
  });

  it('a port nothing listens on is a problem found (1); a malformed endpoint is a usage error (2)', async () => {
    const port = await freePort();
    const down = await plugin(['probe', `127.0.0.1:${port}`, '--timeout', '3']);
    expect(down.code).toBe(1);
    expect(field(down.stdout, 'Verdict')).toMatch(/^PROBLEM: HandshakeFailed: TLS handshake with .* failed: connect ECONNREFUSED/);
    const bad = await plugin(['probe', 'no-port-here']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('is not HOST:PORT[@SERVERNAME]');
  });
});

describe('ocsp-operator probe', () => {
  it('--once exits 0 when every endpoint staples a good response, 1 otherwise, logging endpoint and reason', async () => {
    const good = await run(process.execPath, [
      CLI,
      'probe',
      '--once',
      '--endpoint',
      servers.get('haproxy', 'good').endpoint,
      '--endpoint',
      servers.get('nginx', 'good').endpoint,
    ]);
    expect(good.code, good.stdout + good.stderr).toBe(0);
    const mixed = await run(process.execPath, [
      CLI,
      'probe',
      '--once',
      '--endpoint',
      servers.get('nginx', 'good').endpoint,
      '--endpoint',
      servers.get('nginx', 'mismatched').endpoint,
    ]);
    expect(mixed.code).toBe(1);
    const lines = mixed.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const warn = lines.find((l) => l.level === 'warn');
    expect(warn).toMatchObject({
      endpoint: servers.get('nginx', 'mismatched').endpoint,
      reason: 'StapleMismatch',
      certificateSerial: cur(),
      stapleFor: [prev()],
    });
  });

  it('serves the metrics of every endpoint on /metrics, is ready once all were probed, and stops on SIGTERM', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ocsp-probe-file-'));
    const file = join(dir, 'endpoints.yaml');
    // the file form: objects and the short string form
    await writeFile(
      file,
      [
        'endpoints:',
        ...servers.all.filter((s) => s.kind === 'nginx').map((s) => `  - address: 127.0.0.1:${s.port}\n    servername: ${HOST}`),
        `  - "${servers.get('haproxy', 'good').endpoint}"`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    const proc = spawn(
      process.execPath,
      [CLI, 'probe', '--endpoints-file', file, '--interval', '1s', '--health-addr', `127.0.0.1:${port}`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitFor('the prober to be ready', async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200, 15_000);
      const text = await (await fetch(`${url}/metrics`)).text();
      const l = (kind: Kind, c: CaseName) => ({
        endpoint: endpointAddress({ host: '127.0.0.1', port: servers.get(kind, c).port }),
        servername: HOST,
      });
      expect(metricValue(text, 'ocsp_probe_staple_valid', l('nginx', 'good'))).toBe(1);
      expect(metricValue(text, 'ocsp_probe_staple_valid', l('haproxy', 'good'))).toBe(1);
      expect(metricValue(text, 'ocsp_probe_staple_present', l('nginx', 'missing'))).toBe(0);
      expect(metricValue(text, 'ocsp_probe_staple_matches_certificate', l('nginx', 'mismatched'))).toBe(0);
      expect(metricValue(text, 'ocsp_probe_staple_expiry_seconds', l('nginx', 'expired'))).toBeLessThan(-86_000);
      expect(metricValue(text, 'ocsp_probe_result', { ...l('nginx', 'expired'), reason: 'Expired' })).toBe(1);
      expect(metricValue(text, 'ocsp_probe_last_success_timestamp_seconds', l('nginx', 'good'))).toBeGreaterThan(Date.now() / 1000 - 60);
      // probed again every second
      const total = () =>
        fetch(`${url}/metrics`).then(
          async (r) => metricValue(await r.text(), 'ocsp_probe_total', { ...l('nginx', 'good'), result: 'ok' }) ?? 0,
        );
      const first = await total();
      await waitFor('a second round of probes', async () => (await total()) > first, 10_000);
      proc.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(out).toContain('"msg":"prober running"');
    } finally {
      if (proc.exitCode === null) proc.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start without endpoints or with a bad endpoints file', async () => {
    const none = await run(process.execPath, [CLI, 'probe', '--once']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('nothing to probe');
    const dir = await mkdtemp(join(tmpdir(), 'ocsp-probe-bad-'));
    try {
      await writeFile(join(dir, 'e.yaml'), 'endpoints:\n  - address: 127.0.0.1\n');
      const bad = await run(process.execPath, [CLI, 'probe', '--once', '--endpoints-file', join(dir, 'e.yaml')]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain(`endpoints file ${join(dir, 'e.yaml')}, entry #1: endpoint "127.0.0.1" is not HOST:PORT[@SERVERNAME]`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('kubectl-ocsp fetch CERT.pem', () => {
  let http: Server;
  let httpUrl: string;
  let body: Uint8Array = new Uint8Array();
  let contentType = 'application/ocsp-response';
  const seen: Array<{ method: string; url: string }> = [];
  let responder: ResponderHandle;
  let aiaLeaf: Issued; // a leaf whose AIA URL is the small responder
  let aiaFile: string;

  beforeAll(async () => {
    http = createServer((req, res) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '' });
      req.resume();
      req.on('end', () => res.writeHead(200, { 'Content-Type': contentType }).end(body));
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    httpUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/`;
    aiaLeaf = await issueLeaf(pki.ca, { ocspUrl: httpUrl, dnsNames: [HOST] });
    aiaFile = join(tmp, 'aia.pem');
    await writeFile(aiaFile, aiaLeaf.chainPem);
    responder = await startOpensslResponder({
      ca: pki.ca,
      indexEntries: [
        { cert: pki.current.cert, status: 'V' },
        { cert: pki.previous.cert, status: 'R', revokedAt: new Date(Date.now() - 3_600_000), reason: 'keyCompromise' },
      ],
      nmin: 60,
      probeRequest: buildOcspRequest({ cert: pki.current.cert, issuer: pki.ca.cert }).der,
    });
  });

  afterAll(async () => {
    await responder?.stop();
    await new Promise<void>((r) => (http ? http.close(() => r()) : r()));
  });

  it('the real openssl responder, POST and GET: good, exit 0, the full verdict', async () => {
    for (const method of ['POST', 'GET']) {
      const r = await plugin(['fetch', files.currentChain, '--url', responder.url, '--method', method]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(field(r.stdout, 'responder')).toBe(responder.url);
      expect(field(r.stdout, 'method')).toBe(method);
      expect(field(r.stdout, 'valid')).toBe('yes');
      expect(field(r.stdout, 'status')).toBe('good');
      expect(field(r.stdout, 'signer')).toBe('CN=Probe Test CA, O=ocsp-operator tests (the issuer itself)');
      expect(field(r.stdout, 'next update')).toMatch(/^\S+Z \(in (59m|1h)\)$/);
      expect(field(r.stdout, 'Verdict')).toBe('OK');
    }
  });

  it('a revoked certificate is a problem found (1), with time and reason', async () => {
    const r = await plugin(['fetch', files.previousChain, '--url', responder.url, '-o', 'json']);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as {
      verdict: { ok: boolean; response: { certStatus: string; revocationReason: string } };
      problems: Array<{ reason: string; message: string }>;
    };
    expect(j.verdict.ok).toBe(true);
    expect(j.verdict.response).toMatchObject({ certStatus: 'revoked', revocationReason: 'keyCompromise' });
    expect(j.problems[0]?.reason).toBe('Revoked');
    expect(j.problems[0]?.message).toContain(`certificate ${prev()} is revoked since`);
  });

  it('the leaf alone needs --issuer (2 without it); with it the AIA responder is asked', async () => {
    body = pki.good;
    const alone = await plugin(['fetch', files.current, '--url', httpUrl]);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toContain('pass --issuer ISSUER.pem');
    const wrong = await plugin(['fetch', files.current, '--url', httpUrl, '--issuer', files.other]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(`no certificate in ${files.other} issued ${cur()}`);
    const ok = await plugin(['fetch', files.current, '--issuer', files.ca, '--url', httpUrl]);
    expect(ok.code, ok.stdout).toBe(0);
  });

  it("uses the certificate's AIA URL; GET puts the request in the path", async () => {
    // the small responder answers the current certificate's response, which is not for aiaLeaf
    body = pki.good;
    seen.length = 0;
    const r = await plugin(['fetch', aiaFile, '--method', 'GET']);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.method).toBe('GET');
    expect(seen[0]?.url.length).toBeGreaterThan(20);
    expect(r.code).toBe(1);
    expect(field(r.stdout, 'responder')).toBe(httpUrl);
    expect(field(r.stdout, 'valid')).toBe('no: CertIdMismatch');
    expect(field(r.stdout, 'for')).toBe(`serial ${cur()} (SHA-1) good`);
  });

  it.each([
    ['an expired response', () => pki.expired, 'application/ocsp-response', 'no: Expired', ['why', /^nextUpdate \S+ has passed/]],
    [
      "the previous certificate's response",
      () => pki.previousGood,
      'application/ocsp-response',
      'no: CertIdMismatch',
      ['why', /^response is for PREV, expected serial CUR/],
    ],
    ['tryLater', () => errorResponse('tryLater'), 'application/ocsp-response', 'no: TryLater', ['why', /^responder answered tryLater/]],
    [
      'a captive portal page',
      () => new TextEncoder().encode('<html><body>Sign in to the Wi-Fi</body></html>'),
      'text/html',
      'no: NotOcsp',
      ['body', /^looks like HTML/],
    ],
  ] as const)('%s is a problem found (1), named', async (_what, make, type, valid, [key, detail]) => {
    body = make();
    contentType = type;
    try {
      const r = await plugin(['fetch', files.currentChain, '--url', httpUrl]);
      expect(r.code).toBe(1);
      expect(field(r.stdout, 'valid')).toBe(valid);
      expect(field(r.stdout, key)).toMatch(new RegExp(detail.source.replace('PREV', prev()).replace('CUR', cur())));
      expect(field(r.stdout, 'Verdict')).toMatch(/^PROBLEM: /);
    } finally {
      contentType = 'application/ocsp-response';
    }
  });

  it('--save writes the DER response; an unreachable responder is a problem found (1); no OCSP URL is a usage error (2)', async () => {
    body = pki.good;
    const saved = join(tmp, 'resp.der');
    const r = await plugin(['fetch', files.currentChain, '--url', httpUrl, '--save', saved]);
    expect(r.code).toBe(0);
    expect(new Uint8Array(await readFile(saved))).toEqual(pki.good);

    const port = await freePort();
    const down = await plugin(['fetch', files.currentChain, '--url', `http://127.0.0.1:${port}/`, '--timeout', '3']);
    expect(down.code).toBe(1);
    expect(field(down.stdout, 'Verdict')).toMatch(/^PROBLEM: ResponderUnreachable: responder http:\/\/127.0.0.1:\d+\/ unreachable/);

    const noAia = await issueLeaf(pki.ca, { ocspUrl: null });
    const f = join(tmp, 'no-aia.pem');
    await writeFile(f, noAia.chainPem);
    const none = await plugin(['fetch', f]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('names no OCSP responder (no AIA OCSP URL): pass --url');
  });

  it('usage errors exit 2', async () => {
    const cases: Array<[string[], number, string]> = [
      [[], 2, 'kubectl-ocsp: no command'],
      [['fetch'], 2, 'usage: kubectl ocsp fetch CERT.pem'],
      [['fetch', files.currentChain, '--method', 'PUT'], 2, '--method must be one of GET, POST, got "PUT"'],
      [['fetch', files.currentChain, '--bogus'], 2, "Unknown option '--bogus'"],
      [['frobnicate'], 2, 'unknown command "frobnicate"'],
      [['--help'], 0, ''],
    ];
    for (const [args, code, stderr] of cases) {
      const r = await plugin(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(code);
      if (stderr) expect(r.stderr).toContain(stderr);
      else expect(r.stdout).toContain('usage: kubectl ocsp <command> [flags]');
    }
  });
});
