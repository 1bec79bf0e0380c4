import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOcspRequest, type HashAlgorithm } from '../../src/ocsp/index.js';
import { startResponder, type Responder } from '../../src/responder/index.js';
import { EmbeddedStore } from '../../src/store/index.js';
import { createCa, issueLeaf, type Ca, type Issued } from '../support/pki.js';
import { opensslVerifyResponse, runOpenssl, tempFiles } from '../support/openssl.js';
import { curl } from './curl.js';
import { presign } from './fixtures.js';

describe('responder over an embedded store', { timeout: 60_000 }, () => {
  let dir: string;
  let ca: Ca;
  let otherCa: Ca;
  let good: Issued;
  let revoked: Issued;
  let unknown: Issued;
  let foreign: Issued;
  let expired: Issued;
  let leaves: Issued[];
  let store: EmbeddedStore;
  let responder: Responder;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ocsp-responder-'));
    ca = await createCa({ keyAlg: 'P-256' });
    otherCa = await createCa({ keyAlg: 'P-256' });
    [good, revoked, unknown, expired] = await Promise.all([issueLeaf(ca), issueLeaf(ca), issueLeaf(ca), issueLeaf(ca)]);
    foreign = await issueLeaf(otherCa);
    leaves = await Promise.all(Array.from({ length: 24 }, () => issueLeaf(ca)));
    store = await EmbeddedStore.open({ path: join(dir, 'responses.log') });
    const sameWindow = { thisUpdate: new Date(Date.now() - 60_000), nextUpdate: new Date(Date.now() + 2 * 86_400_000) };
    await store.put([
      await presign(ca, good),
      await presign(ca, revoked, {
        status: { kind: 'revoked', revocationTime: new Date(Date.now() - 3_600_000), reason: 'keyCompromise' },
      }),
      await presign(ca, expired, { thisUpdate: new Date(Date.now() - 4 * 86_400_000), nextUpdate: new Date(Date.now() - 60_000) }),
      ...(await Promise.all(leaves.map((l) => presign(ca, l, sameWindow)))),
    ]);
    responder = await startResponder({ store, issuers: [ca.cert], lagPolicy: 'Unauthorized', logLevel: 'silent' });
  });

  afterAll(async () => {
    await responder?.close();
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  function b64Request(leaf: Issued, alg: HashAlgorithm = 'SHA-1'): string {
    return Buffer.from(buildOcspRequest({ cert: leaf.cert, issuer: ca.cert, hashAlgorithm: alg }).der).toString('base64');
  }

  async function verify(body: Buffer, leaf: Issued) {
    return opensslVerifyResponse({ response: body, issuerPem: ca.certPem, caPem: ca.certPem, certPem: leaf.certPem });
  }

  it('answers `openssl ocsp -url` (POST) with a response openssl verifies', async () => {
    const tmp = await tempFiles({ 'ca.pem': ca.certPem, 'good.pem': good.certPem, 'revoked.pem': revoked.certPem });
    try {
      const r = await runOpenssl(
        ['ocsp', '-issuer', 'ca.pem', '-CAfile', 'ca.pem', '-no_nonce', '-cert', 'good.pem', '-cert', 'revoked.pem', '-url', responder.url],
        { cwd: tmp.dir },
      );
      // Two certificates in one request is not what RFC 5019 clients send: malformedRequest.
      expect(r.stdout + r.stderr).toMatch(/malformedrequest/i);
      const g = await runOpenssl(
        ['ocsp', '-issuer', 'ca.pem', '-CAfile', 'ca.pem', '-no_nonce', '-cert', 'good.pem', '-url', responder.url, '-resp_text'],
        { cwd: tmp.dir },
      );
      expect(g.stdout + g.stderr).toMatch(/Response verify OK/);
      expect(g.stdout).toMatch(/good\.pem: good/);
      const v = await runOpenssl(
        ['ocsp', '-issuer', 'ca.pem', '-CAfile', 'ca.pem', '-no_nonce', '-cert', 'revoked.pem', '-url', responder.url],
        { cwd: tmp.dir },
      );
      expect(v.stdout + v.stderr).toMatch(/Response verify OK/);
      expect(v.stdout).toMatch(/revoked\.pem: revoked/);
      // openssl sends a nonce by default; a pre-signed response cannot echo it, openssl warns but verifies.
      const n = await runOpenssl(['ocsp', '-issuer', 'ca.pem', '-CAfile', 'ca.pem', '-cert', 'good.pem', '-url', responder.url], {
        cwd: tmp.dir,
      });
      expect(n.stdout + n.stderr).toMatch(/Response verify OK/);
      expect(n.stdout).toMatch(/good\.pem: good/);
    } finally {
      await tmp.remove();
    }
  });

  it('answers a curl GET with RFC 5019 headers; openssl -respin verifies the body', async () => {
    const rec = await presign(ca, good); // same key, to know the window stored for `good`
    const stored = store.get(rec.issuerId, rec.serial)!;
    const r = await curl(responder.url + encodeURIComponent(b64Request(good)));
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/ocsp-response');
    const m = /^max-age=(\d+), public, no-transform, must-revalidate$/.exec(r.headers['cache-control'] ?? '');
    expect(m).not.toBeNull();
    const maxAge = Number(m![1]);
    expect(maxAge).toBeGreaterThan(0);
    expect(Date.now() + maxAge * 1000).toBeLessThanOrEqual(stored.nextUpdate + 1000);
    expect(r.headers['etag']).toBe(stored.etag);
    expect(r.headers['last-modified']).toBe(new Date(stored.thisUpdate).toUTCString());
    expect(r.headers['expires']).toBe(new Date(stored.nextUpdate).toUTCString());
    expect(Buffer.compare(r.body, Buffer.from(stored.der))).toBe(0);
    const verdict = await verify(r.body, good);
    expect(verdict.verified).toBe(true);
    expect(verdict.status).toBe('good');
    expect(verdict.timesValid).toBe(true);
  });

  it('answers the //MFMw... form, and base64 with / and + both raw and URL-encoded', async () => {
    const slashy = await curl(responder.url + '/' + b64Request(good));
    expect(slashy.status).toBe(200);
    expect((await verify(slashy.body, good)).status).toBe('good');
    expect(responder.url.endsWith('/')).toBe(true);
    expect(new URL(responder.url).pathname + '/' + b64Request(good)).toMatch(/^\/\/MF/);

    // Find a request whose base64 has both '/' and '+' (and usually '=').
    let pick: { leaf: Issued; b64: string } | undefined;
    for (const leaf of leaves) {
      for (const alg of ['SHA-1', 'SHA-256'] as const) {
        const b64 = b64Request(leaf, alg);
        if (b64.includes('/') && b64.includes('+')) pick ??= { leaf, b64 };
      }
    }
    expect(pick).toBeDefined();
    const { leaf, b64 } = pick!;
    for (const path of [
      b64,
      encodeURIComponent(b64),
      b64.replace(/=+$/, ''),
      b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''),
    ]) {
      const r = await curl(responder.url + path);
      expect(r.status, path).toBe(200);
      const v = await verify(r.body, leaf);
      expect(v.verified, path).toBe(true);
      expect(v.status, path).toBe('good');
    }
  });

  it('maps SHA-1, SHA-256, SHA-384 and SHA-512 CertIDs to the same response', async () => {
    const bodies: Buffer[] = [];
    for (const alg of ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'] as const) {
      const der = buildOcspRequest({ cert: good.cert, issuer: ca.cert, hashAlgorithm: alg }).der;
      const res = await fetch(responder.url, { method: 'POST', body: der, headers: { 'content-type': 'application/ocsp-request' } });
      expect(res.status).toBe(200);
      bodies.push(Buffer.from(await res.arrayBuffer()));
    }
    for (const b of bodies) expect(Buffer.compare(b, bodies[0]!)).toBe(0);
    expect((await verify(bodies[0]!, good)).status).toBe('good');
  });

  it('never says good for a serial it does not have: unauthorized, uncached; same for another CA', async () => {
    for (const [leaf, issuer] of [
      [unknown, ca],
      [foreign, otherCa],
    ] as const) {
      const b64 = Buffer.from(buildOcspRequest({ cert: leaf.cert, issuer: issuer.cert }).der).toString('base64');
      const r = await curl(responder.url + encodeURIComponent(b64));
      expect(r.status).toBe(200);
      expect(r.headers['cache-control']).toBe('no-store');
      expect(r.headers['etag']).toBeUndefined();
      const v = await opensslVerifyResponse({ response: r.body, issuerPem: issuer.certPem, caPem: issuer.certPem, certPem: leaf.certPem });
      expect(v.responseStatus).toBe('unauthorized');
      expect(v.status).toBeUndefined();
    }
  });

  it('answers malformed input with malformedRequest, uncached', async () => {
    for (const path of ['not-base64!!', 'MFMw', encodeURIComponent(Buffer.from('hello').toString('base64')), '%zz']) {
      const r = await curl(responder.url + path);
      expect(r.status, path).toBe(200);
      expect(r.headers['cache-control']).toBe('no-store');
      expect(r.body.toString('hex'), path).toBe('30030a0101');
    }
    const post = await fetch(responder.url, { method: 'POST', body: Buffer.from('30 03 garbage') });
    expect(post.status).toBe(200);
    expect(Buffer.from(await post.arrayBuffer()).toString('hex')).toBe('30030a0101');
  });

  it('answers If-None-Match with 304 and the cache headers', async () => {
    const url = responder.url + encodeURIComponent(b64Request(good));
    const first = await curl(url);
    const etag = first.headers['etag']!;
    const second = await curl(url, ['-H', `If-None-Match: ${etag}`]);
    expect(second.status).toBe(304);
    expect(second.body.length).toBe(0);
    expect(second.headers['etag']).toBe(etag);
    expect(second.headers['cache-control']).toMatch(/^max-age=\d+, public/);
    const stale = await curl(url, ['-H', 'If-None-Match: "something-else"']);
    expect(stale.status).toBe(200);
  });

  it('spreads max-age across responses with the same nextUpdate, never past nextUpdate', async () => {
    const ages = new Set<number>();
    for (const leaf of leaves.slice(0, 12)) {
      const r = await curl(responder.url + encodeURIComponent(b64Request(leaf)));
      const age = Number(/max-age=(\d+)/.exec(r.headers['cache-control'] ?? '')?.[1]);
      const expires = Date.parse(r.headers['expires']!);
      expect(Date.now() + age * 1000).toBeLessThanOrEqual(expires + 1000);
      // With spread 0.1 on ~2 days, max-age lands between 90% and 100% of the remaining time.
      expect(age * 1000).toBeGreaterThan(0.89 * (expires - Date.now()));
      ages.add(Math.floor(age / 600));
    }
    expect(ages.size).toBeGreaterThan(3);
  });

  it('does not serve a response past its nextUpdate: tryLater, uncached', async () => {
    const r = await curl(responder.url + encodeURIComponent(b64Request(expired)));
    expect(r.status).toBe(200);
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.body.toString('hex')).toBe('30030a0103');
  });

  it('refuses oversized bodies and other methods without a 5xx', async () => {
    const big = await fetch(responder.url, { method: 'POST', body: Buffer.alloc(100_000, 0x30) });
    expect(big.status).toBe(413);
    const put = await fetch(responder.url, { method: 'PUT', body: 'x' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, HEAD, POST');
    const head = await curl(responder.url + encodeURIComponent(b64Request(good)), ['-I']);
    expect(head.status).toBe(200);
  });

  it('serves /healthz, /readyz and /metrics with the request counts', async () => {
    expect((await fetch(new URL('/healthz', responder.url))).status).toBe(200);
    const ready = await fetch(new URL('/readyz', responder.url));
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, lagMs: 0, detached: false });
    const text = await (await fetch(new URL('/metrics', responder.url))).text();
    expect(text).toMatch(/ocsp_responder_requests_total\{method="GET",result="ok"\} [1-9]/);
    expect(text).toMatch(/ocsp_responder_requests_total\{method="POST",result="ok"\} [1-9]/);
    expect(text).toMatch(/ocsp_responder_requests_total\{method="GET",result="unauthorized"\} [1-9]/);
    expect(text).toMatch(/ocsp_responder_requests_total\{method="GET",result="malformed"\} [1-9]/);
    expect(text).toMatch(/ocsp_responder_unknown_serial_total [1-9]/);
    expect(text).toMatch(/ocsp_responder_max_age_seconds_count [1-9]/);
    expect(text).toMatch(/ocsp_responder_request_duration_seconds_bucket/);
    expect(text).toMatch(/ocsp_responder_store_lag_seconds 0/);
  });
});
