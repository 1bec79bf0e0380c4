// Incident replay 2: "GET requests failed after a deploy". Base64 contains '/', clients append the
// request to a URL ending in '/' (so the path starts '//'), proxies merge slashes and decode
// percent-escapes; the 400s were uncacheable and a CDN stampeded the origin, and responses signed
// in one batch all expired from caches in the same second.
//
// Replayed with real nginx in front of our responder (startResponder over an EmbeddedStore filled
// with signed responses): one nginx with `merge_slashes on`, one with `merge_slashes off`, both
// forwarding the normalised path ($uri, percent-decoded) as a path-rewriting proxy does. Asserted:
// every well-formed GET (raw '/', '+', '%2F', '%2B', a leading '//', base64url) through either
// proxy is answered with the exact stored response; a request the merging proxy mangled is refused
// as malformedRequest, never answered for another certificate; a burst of malformed requests is
// answered with uncacheable errors while good requests keep being answered; max-age values of a
// batch of responses are spread.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOcspRequest, validateOcspResponse, type HashAlgorithm } from '../../src/ocsp/index.js';
import { startResponder, type Responder } from '../../src/responder/index.js';
import { EmbeddedStore, type ResponseRecord } from '../../src/store/index.js';
import { freePort } from '../../src/devenv/control-plane.js';
import { createCa, issueLeaf, type Ca, type Issued } from '../support/pki.js';
import { NGINX } from '../support/tls-servers.js';
import { metricValue } from '../support/kube.js';
import { Timeline } from '../support/timeline.js';
import { curl, type CurlResult } from '../responder/curl.js';
import { presign } from '../responder/fixtures.js';
import { stopProcessGroup } from '../../src/devenv/process-group.js';

const N = 40;
const MALFORMED_HEX = '30030a0101';
const UNAUTHORIZED_HEX = '30030a0106';

function reqB64(l: Issued, alg: HashAlgorithm, issuer: Ca): string {
  return Buffer.from(buildOcspRequest({ cert: l.cert, issuer: issuer.cert, hashAlgorithm: alg }).der).toString('base64');
}

interface Proxy {
  name: string;
  url: string;
  stop(): Promise<void>;
}

/** nginx in the foreground from a temp dir, proxying every path to `upstreamPort` as $uri (normalised). */
async function startNginxProxy(name: string, mergeSlashes: boolean, upstreamPort: number): Promise<Proxy> {
  const dir = await mkdtemp(join(tmpdir(), `incident-nginx-${name}-`));
  const port = await freePort();
  const p = (f: string) => join(dir, f);
  const conf = [
    'daemon off;',
    'master_process off;',
    `pid ${p('nginx.pid')};`,
    `error_log ${p('error.log')} warn;`,
    'events { worker_connections 256; }',
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${p(t)};`),
    '  server {',
    `    listen 127.0.0.1:${port};`,
    `    merge_slashes ${mergeSlashes ? 'on' : 'off'};`,
    // $uri: the path as nginx normalised it (percent-decoded; slashes merged when merge_slashes is on)
    `    location / { proxy_pass http://127.0.0.1:${upstreamPort}$uri; }`,
    '  }',
    '}',
    '',
  ].join('\n');
  await writeFile(p('nginx.conf'), conf);
  const child: ChildProcess = spawn(NGINX, ['-p', dir, '-e', p('error.log'), '-c', p('nginx.conf')], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const stop = async () => {
    await stopProcessGroup(child, 3000);
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      const log = await readFile(p('error.log'), 'utf8').catch(() => '');
      await stop();
      throw new Error(`nginx (${name}) exited: ${stderr}${log}`);
    }
    const up = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port });
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`nginx (${name}) did not listen on ${port}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { name, url: `http://127.0.0.1:${port}/`, stop };
}

describe('incident: slash merging and uncached errors', { timeout: 80_000 }, () => {
  const tl = new Timeline('slash-merging (GET through proxies that merge slashes, malformed burst, cache expiry)');
  let dir: string;
  let ca: Ca;
  let leaves: Issued[];
  let records: Map<Issued, ResponseRecord>;
  let store: EmbeddedStore;
  let responder: Responder;
  let merging: Proxy;
  let plain: Proxy;
  const t0 = Date.now();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'incident-slash-'));
    // A CA whose own CertID parts (issuer name and key hashes) hold no '//', so that only a
    // serial can put one in a request: then which requests a merging proxy breaks is decided here.
    for (let i = 0; ; i++) {
      ca = await createCa({ keyAlg: 'P-256', name: 'CN=Slash Incident CA' });
      const zero = await issueLeaf(ca, { serial: `10${'00'.repeat(15)}` });
      if ((['SHA-1', 'SHA-256'] as const).every((alg) => !reqB64(zero, alg, ca).includes('//'))) break;
      if (i > 50) throw new Error('no CA without // in its CertID hashes');
    }
    leaves = await Promise.all(Array.from({ length: N - 1 }, (_, i) => issueLeaf(ca, { dnsNames: [`s${i}.test`] })));
    // 0xFFFFFF in the serial: 24 one-bits are '///' (or more) in base64 whatever the alignment.
    leaves.push(await issueLeaf(ca, { dnsNames: ['slashes.test'], serial: `10ffffff${randomBytes(12).toString('hex')}` }));
    // One signing batch: every response has the same thisUpdate and nextUpdate.
    const window = { thisUpdate: new Date(t0 - 60_000), nextUpdate: new Date(t0 + 3 * 86_400_000) };
    records = new Map();
    for (const l of leaves) records.set(l, await presign(ca, l, window));
    store = await EmbeddedStore.open({ path: join(dir, 'responses.log') });
    await store.put([...records.values()]);
    responder = await startResponder({ store, issuers: [ca.cert], lagPolicy: 'Unauthorized', logLevel: 'silent' });
    const port = Number(new URL(responder.url).port);
    merging = await startNginxProxy('merge-on', true, port);
    plain = await startNginxProxy('merge-off', false, port);
  });

  afterAll(async () => {
    await merging?.stop();
    await plain?.stop();
    await responder?.close();
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    tl.print();
  });

  const b64 = (l: Issued, alg: HashAlgorithm = 'SHA-1', issuer: Ca = ca) => reqB64(l, alg, issuer);

  /** The request encodings a client may legitimately send for base64 `s`. */
  function encodings(s: string): Array<[string, string]> {
    return [
      ['raw', s],
      ['leading //', `/${s}`],
      ['%2F and %2B', s.replace(/\//g, '%2F').replace(/\+/g, '%2B').replace(/=/g, '%3D')],
      ['leading // with %2F', `/${s.replace(/\//g, '%2F')}`],
      ['no padding', s.replace(/=+$/, '')],
      ['base64url', s.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')],
    ];
  }

  /** The answer is exactly the stored response for `leaf`, and it validates for `leaf`. */
  function answeredFor(r: CurlResult, leaf: Issued): string | undefined {
    if (r.status !== 200) return `HTTP ${r.status}`;
    const rec = records.get(leaf)!;
    if (Buffer.compare(r.body, Buffer.from(rec.der)) !== 0)
      return `body ${r.body.subarray(0, 8).toString('hex')}… is not the stored response`;
    const v = validateOcspResponse(new Uint8Array(r.body), { cert: leaf.cert, issuer: ca.cert, now: new Date() });
    if (!v.ok) return `${v.reason}: ${v.message}`;
    if (!/^max-age=\d+, public, no-transform, must-revalidate$/.test(r.headers['cache-control'] ?? ''))
      return `cache-control ${r.headers['cache-control']}`;
    return undefined;
  }

  // Requests whose base64 has a single '/' and a '+' but no '//', and ones that have '//' inside.
  function pick(pred: (s: string) => boolean, count: number): Array<{ leaf: Issued; alg: HashAlgorithm; s: string }> {
    const out: Array<{ leaf: Issued; alg: HashAlgorithm; s: string }> = [];
    for (const leaf of leaves) {
      for (const alg of ['SHA-1', 'SHA-256', 'SHA-384'] as const) {
        const s = b64(leaf, alg);
        if (pred(s) && out.length < count && !out.some((o) => o.leaf === leaf)) out.push({ leaf, alg, s });
      }
    }
    return out;
  }

  it('every well-formed GET through both proxies (and direct) is answered with its own response', async () => {
    const single = pick((s) => s.includes('/') && s.includes('+') && !s.includes('//'), 4);
    const doubled = pick((s) => s.includes('//'), 2);
    expect(single.length).toBeGreaterThanOrEqual(2);
    tl.inject(
      `GET ${single.length} requests with '/' and '+' in their base64, 6 encodings each, direct and through nginx merge_slashes on/off`,
    );
    const failures: string[] = [];
    let answered = 0;
    for (const target of [{ name: 'direct', url: responder.url }, plain, merging]) {
      for (const { leaf, s } of single) {
        for (const [label, path] of encodings(s)) {
          const r = await curl(target.url + path);
          const why = answeredFor(r, leaf);
          if (why) failures.push(`${target.name} ${label} ${path}: ${why}`);
          else answered++;
        }
      }
    }
    // Base64 with '//' inside: whole only where nothing merges it.
    if (doubled.length) {
      tl.inject(`GET ${doubled.length} requests whose base64 holds '//' (raw and %2F%2F)`);
      for (const target of [{ name: 'direct', url: responder.url }, plain]) {
        for (const { leaf, s } of doubled) {
          for (const [label, path] of encodings(s)) {
            const why = answeredFor(await curl(target.url + path), leaf);
            if (why) failures.push(`${target.name} ${label} ${path}: ${why}`);
            else answered++;
          }
        }
      }
    }
    expect(failures).toEqual([]);
    tl.detect(`${answered} GETs answered with the exact stored response for their certificate, none refused`, {
      metric: 'ocsp_responder_requests_total{method="GET",result="ok"}',
    });
  });

  it("a request the merging proxy corrupted ('//' inside the base64) is refused as malformedRequest, uncached; POST still works", async () => {
    // Make sure there is one: try CertID hashes until a base64 holds '//'.
    let found: { leaf: Issued; s: string } | undefined;
    for (const leaf of leaves) {
      for (const alg of ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'] as const) {
        const s = b64(leaf, alg);
        if (!found && s.includes('//')) found = { leaf, s };
      }
    }
    // (one certificate has 0xFFFFFF in its serial)
    expect(found, "a request whose base64 holds '//'").toBeDefined();
    const { leaf, s } = found!;
    tl.inject(`GET a request whose base64 holds '//' through nginx merge_slashes on (raw and %2F%2F)`);
    for (const path of [s, s.replace(/\//g, '%2F')]) {
      const r = await curl(merging.url + path);
      expect(r.status).toBe(200);
      expect(r.body.toString('hex'), path).toBe(MALFORMED_HEX);
      expect(r.headers['cache-control']).toBe('no-store');
    }
    tl.detect("the mangled request is answered malformedRequest with Cache-Control: no-store (never another certificate's response)", {
      metric: 'ocsp_responder_requests_total{method="GET",result="malformed"}',
    });
    const post = await fetch(merging.url, {
      method: 'POST',
      body: Buffer.from(s, 'base64'),
      headers: { 'content-type': 'application/ocsp-request' },
    });
    expect(post.status).toBe(200);
    expect(Buffer.compare(Buffer.from(await post.arrayBuffer()), Buffer.from(records.get(leaf)!.der))).toBe(0);
    tl.note('the same request as POST through the same proxy is answered correctly');
  });

  it('a burst of malformed requests: errors carry no-store, good requests in the burst are still answered', async () => {
    const before = await responder.metrics.registry.metrics();
    const malformedBefore = metricValue(before, 'ocsp_responder_requests_total', { method: 'GET', result: 'malformed' }) ?? 0;
    // good requests that survive slash merging (no '//' in their base64)
    const good = leaves.filter((l) => !b64(l).includes('//')).slice(0, 10);
    const real = b64(leaves[0]!);
    const junk: string[] = [
      'not-base64!!',
      'MFMw',
      real.slice(0, 20),
      real.slice(0, -6),
      Buffer.from('hello, world').toString('base64'),
      Buffer.from(Array.from({ length: 60 }, (_, i) => (i * 37) % 256)).toString('base64'),
      'MA==',
      '%25',
    ];
    // a request for a serial the store does not have (whose base64 survives merging)
    let unknown = '';
    while (!unknown || unknown.includes('//')) unknown = b64(await issueLeaf(ca));
    const burst: Array<Promise<{ kind: 'junk' | 'unknown' | 'good'; path: string; leaf?: Issued; r: CurlResult; via: string }>> = [];
    tl.inject(
      `burst: ${junk.length * 6} malformed and 12 unknown-serial GETs, with ${good.length * 2} well-formed GETs among them, through both proxies`,
    );
    for (const via of [plain, merging]) {
      for (let i = 0; i < 3; i++)
        for (const j of junk) burst.push(curl(via.url + j).then((r) => ({ kind: 'junk' as const, path: j, r, via: via.name })));
      for (let i = 0; i < 6; i++)
        burst.push(
          curl(via.url + encodeURIComponent(unknown)).then((r) => ({ kind: 'unknown' as const, path: 'unknown', r, via: via.name })),
        );
      for (const l of good)
        burst.push(
          curl(via.url + encodeURIComponent(b64(l))).then((r) => ({ kind: 'good' as const, path: 'good', leaf: l, r, via: via.name })),
        );
    }
    const results = await Promise.all(burst);
    const problems: string[] = [];
    for (const x of results) {
      if (x.kind === 'good') {
        const why = answeredFor(x.r, x.leaf!);
        if (why) problems.push(`${x.via} good: ${why}`);
        continue;
      }
      const want = x.kind === 'junk' ? MALFORMED_HEX : UNAUTHORIZED_HEX;
      if (x.r.status !== 200 || x.r.body.toString('hex') !== want)
        problems.push(`${x.via} ${x.path}: HTTP ${x.r.status} ${x.r.body.toString('hex')}`);
      const cc = x.r.headers['cache-control'] ?? '';
      const maxAge = /max-age=(\d+)/.exec(cc)?.[1];
      if (!(cc === 'no-store' || (maxAge !== undefined && Number(maxAge) <= 60)))
        problems.push(`${x.via} ${x.path}: error cached with "${cc}"`);
      if (x.r.headers['etag'] !== undefined) problems.push(`${x.via} ${x.path}: error with an ETag`);
    }
    expect(problems).toEqual([]);
    const after = await responder.metrics.registry.metrics();
    const malformed = (metricValue(after, 'ocsp_responder_requests_total', { method: 'GET', result: 'malformed' }) ?? 0) - malformedBefore;
    expect(malformed).toBe(junk.length * 6);
    expect(metricValue(after, 'ocsp_responder_unknown_serial_total')).toBeGreaterThanOrEqual(12);
    tl.detect(
      `all ${results.length} answered: ${malformed} malformedRequest + 12 unauthorized with Cache-Control: no-store, ${good.length * 2} good requests answered with their responses`,
      {
        metric: `ocsp_responder_requests_total{method="GET",result="malformed"} +${malformed}, ocsp_responder_unknown_serial_total`,
      },
    );
  });

  it('responses signed in one batch get max-age values spread in time, none past nextUpdate', async () => {
    tl.inject(`GET all ${N} responses of one signing batch (same thisUpdate and nextUpdate) through nginx merge_slashes off`);
    const ages: number[] = [];
    const nextUpdate = records.get(leaves[0]!)!.nextUpdate;
    for (const l of leaves) {
      const r = await curl(plain.url + encodeURIComponent(b64(l)));
      expect(answeredFor(r, l)).toBeUndefined();
      const age = Number(/max-age=(\d+)/.exec(r.headers['cache-control'] ?? '')?.[1]);
      expect(Date.now() + age * 1000).toBeLessThanOrEqual(nextUpdate + 1000);
      expect(Date.parse(r.headers['expires'] ?? '')).toBe(nextUpdate);
      ages.push(age);
    }
    const distinct = new Set(ages).size;
    const spreadS = Math.max(...ages) - Math.min(...ages);
    // Equal expiry would put every cached copy back on the origin in the same second.
    expect(distinct).toBeGreaterThan(N * 0.8);
    expect(spreadS).toBeGreaterThan(3600);
    // and never shorter than 90% of the remaining time (spread 0.1)
    expect(Math.min(...ages) * 1000).toBeGreaterThan(0.89 * (nextUpdate - Date.now()));
    const text = await responder.metrics.registry.metrics();
    expect(metricValue(text, 'ocsp_responder_max_age_seconds_count')).toBeGreaterThanOrEqual(N);
    tl.detect(
      `${distinct} distinct max-age values over ${N} responses, spread over ${(spreadS / 3600).toFixed(1)} h (min ${Math.min(...ages)} s, max ${Math.max(...ages)} s)`,
      { metric: 'ocsp_responder_max_age_seconds' },
    );
  });
});
