// Fuzzing the HTTP surface with fast-check (bounded runs): random methods, paths, headers and
// bodies, mutations of valid requests, oversized bodies, and raw bytes straight onto the socket.
// The responder must keep answering, never with a 5xx, and still serve a valid request after.
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOcspRequest } from '../../src/ocsp/index.js';
import { startResponder, type Responder } from '../../src/responder/index.js';
import { EmbeddedStore } from '../../src/store/index.js';
import { createCa, issueLeaf, type Ca, type Issued } from '../support/pki.js';
import { presign } from './fixtures.js';

const ALLOWED = new Set([200, 304, 400, 404, 405, 408, 413, 414, 431]);

describe('HTTP surface fuzz', { timeout: 120_000 }, () => {
  let dir: string;
  let store: EmbeddedStore;
  let responder: Responder;
  let ca: Ca;
  let leaf: Issued;
  let valid: Buffer;
  let port: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ocsp-fuzz-'));
    ca = await createCa();
    leaf = await issueLeaf(ca);
    store = await EmbeddedStore.open({ path: join(dir, 'r.log') });
    await store.put([await presign(ca, leaf)]);
    responder = await startResponder({
      store,
      issuers: [ca.cert],
      lagPolicy: 'Unauthorized',
      logLevel: 'silent',
      requestTimeoutMs: 3_000,
      headersTimeoutMs: 2_000,
    });
    port = Number(new URL(responder.url).port);
    valid = Buffer.from(buildOcspRequest({ cert: leaf.cert, issuer: ca.cert }).der);
  });
  afterAll(async () => {
    await responder?.close();
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** One request over a fresh connection; resolves with the status, or 0 if the server hung up. */
  function send(method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<number> {
    return new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false, timeout: 5_000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.on('timeout', () => {
        req.destroy();
        resolve(-1);
      });
      req.end(body);
    });
  }

  // Built lazily: the valid request exists only after beforeAll.
  function arbitraries() {
    const mutated = fc.tuple(fc.nat(), fc.nat(255), fc.constantFrom('flip', 'cut', 'insert')).map(([pos, byte, op]) => {
      const b = Buffer.from(valid);
      const i = pos % b.length;
      if (op === 'flip') b[i] = byte;
      if (op === 'cut') return b.subarray(0, i);
      if (op === 'insert') return Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i)]);
      return b;
    });
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)),
      mutated,
      fc.constant(valid),
    );
    const pathPart = fc.oneof(
      fc.string({ maxLength: 200 }).map((s) => encodeURI(s)),
      body.map((b) => b.toString('base64')),
      body.map((b) => encodeURIComponent(b.toString('base64'))),
      body.map((b) => b.toString('base64url')),
      fc.constantFrom('', '/', '//', '%', '%2', '%zz', '..', '/./', '?x=1', '#frag', '%00', 'healthz', 'metrics'),
    );
    const path = fc.array(pathPart, { minLength: 1, maxLength: 3 }).map((parts) => '/' + parts.join(''));
    const method = fc.constantFrom('GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'FOO');
    const headers = fc.dictionary(
      fc.constantFrom('content-type', 'if-none-match', 'x-junk', 'accept', 'range'),
      fc.string({ maxLength: 50 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')),
      { maxKeys: 3 },
    );
    return { method, path, headers, body };
  }

  it('random requests: no crash, no 5xx', async () => {
    const { method, path, headers, body } = arbitraries();
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(method, path, headers, fc.option(body), async (m, p, h, b) => {
        const status = await send(m, p, h, m === 'GET' || m === 'HEAD' ? undefined : (b ?? undefined));
        seen.set(status, (seen.get(status) ?? 0) + 1);
        return ALLOWED.has(status);
      }),
      { numRuns: 600, interruptAfterTimeLimit: 60_000 },
    );
    expect(seen.get(200) ?? 0).toBeGreaterThan(50);
    expect([...seen.keys()].some((s) => s >= 500)).toBe(false);
  });

  it('huge bodies (declared and chunked) and huge paths get 4xx, and the server goes on', async () => {
    expect(await send('POST', '/', { 'content-length': String(50 << 20) }, Buffer.alloc(1 << 20))).toBe(413);
    expect(await send('POST', '/', { 'transfer-encoding': 'chunked' }, Buffer.alloc(1 << 20, 0x41))).toBe(413);
    expect([413, 431, 0]).toContain(await send('GET', '/' + 'A'.repeat(100_000), {}));
    expect([200]).toContain(await send('GET', '/' + 'A'.repeat(6000), {}));
  });

  it('raw bytes on the socket: no crash', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 2000 }),
          fc.string({ maxLength: 300 }).map((s) => Buffer.from(`GET /${s} HTTP/1.1\r\n\r\n`)),
        ),
        async (bytes) => {
          await new Promise<void>((resolve) => {
            const s = connect(port, '127.0.0.1', () => s.end(Buffer.from(bytes)));
            s.setTimeout(3_000, () => s.destroy());
            s.on('data', () => undefined);
            s.on('close', () => resolve());
            s.on('error', () => resolve());
          });
          return true;
        },
      ),
      { numRuns: 200, interruptAfterTimeLimit: 30_000 },
    );
  });

  it('still serves a valid request, and counted no errors', async () => {
    const res = await fetch(responder.url, { method: 'POST', body: valid });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toMatch(/^max-age=/);
    const text = await (await fetch(new URL('/metrics', responder.url))).text();
    expect(text).not.toMatch(/result="error"/);
    expect((await fetch(new URL('/healthz', responder.url))).status).toBe(200);
  });
});
