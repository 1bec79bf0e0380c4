// An embedded responder pool on one machine, as its pod runs it: `ocsp-operator signer` writing
// the store, `ocsp-operator responder` following it, real `openssl ocsp -url` as the client. A new
// certificate is served within seconds of appearing in the CA database, and a revocation too.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/devenv/control-plane.js';
import { indexLine, createCa, issueLeaf, type Ca, type Issued } from '../support/pki.js';
import { runOpenssl } from '../support/openssl.js';

const CLI = resolve(import.meta.dirname, '..', '..', 'dist', 'src', 'cli.js');
let dir: string;
let ca: Ca;
let leaves: Issued[];
let url: string;
const procs: ChildProcess[] = [];
const output: string[] = [];

function start(args: string[]): ChildProcess {
  const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  p.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  p.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  procs.push(p);
  return p;
}

/** Asks the responder about a certificate with `openssl ocsp -url` and lets openssl verify the answer. */
async function ask(leaf: Issued): Promise<{ verified: boolean; status?: string; output: string }> {
  await writeFile(join(dir, 'leaf.pem'), leaf.certPem);
  const r = await runOpenssl(
    ['ocsp', '-issuer', 'ca.pem', '-cert', 'leaf.pem', '-url', url, '-CAfile', 'ca.pem', '-no_nonce', '-timeout', '5'],
    { cwd: dir },
  );
  const out = r.stdout + r.stderr;
  return { verified: /Response verify OK/.test(out), status: /leaf\.pem: (\w+)/.exec(out)?.[1], output: out };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  for (;;) {
    const v = await probe();
    if (v !== undefined) return { value: v, ms: Date.now() - started };
    if (Date.now() - started > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${output.join('').slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
  dir = await mkdtemp(join(tmpdir(), 'ocsp-pool-'));
  ca = await createCa({ keyAlg: 'P-256', name: 'CN=Pool Test CA' });
  leaves = [];
  for (let i = 0; i < 22; i++) leaves.push(await issueLeaf(ca, { dnsNames: [`pool${i}.test`] }));
  await writeFile(join(dir, 'ca.pem'), ca.certPem);
  await writeFile(join(dir, 'ca.key'), ca.keyPem);
  await writeFile(
    join(dir, 'index.txt'),
    leaves
      .slice(0, 20)
      .map((l) => indexLine({ cert: l.cert, status: 'V' }))
      .join('\n') + '\n',
  );
  const port = await freePort();
  url = `http://127.0.0.1:${port}/`;
  start([
    'signer',
    '--index',
    join(dir, 'index.txt'),
    '--ca-cert',
    join(dir, 'ca.pem'),
    '--key-file',
    join(dir, 'ca.key'),
    '--store-dir',
    join(dir, 'store'),
    '--interval',
    '500ms',
    '--sessions',
    '2',
  ]);
  // the responder starts once the signer has created the store
  await until('the store', async () => (existsSync(join(dir, 'store', 'responses.log')) ? true : undefined), 20_000);
  start([
    'responder',
    '--ca-cert',
    join(dir, 'ca.pem'),
    '--store-dir',
    join(dir, 'store'),
    '--lag-policy',
    'Unauthorized',
    '--listen',
    `127.0.0.1:${port}`,
  ]);
}, 60_000);

afterAll(async () => {
  for (const p of procs) p.kill('SIGTERM');
  await Promise.all(procs.map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : Promise.resolve())));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('signer and responder processes sharing an embedded store', () => {
  it('answers for every certificate of the CA database, verified by openssl', async () => {
    const first = await until(
      'the first answer',
      async () => {
        const r = await ask(leaves[0]!).catch(() => undefined);
        return r?.status === 'good' ? r : undefined;
      },
      30_000,
    );
    expect(first.value.verified).toBe(true);
    for (const l of leaves.slice(1, 20)) {
      const r = await ask(l);
      expect(r.status, r.output).toBe('good');
      expect(r.verified).toBe(true);
    }
  });

  it('never says good for a serial the CA did not issue', async () => {
    const r = await ask(leaves[21]!);
    expect(r.output).toMatch(/unauthorized/i);
    expect(r.status).toBeUndefined();
  });

  it('a newly issued certificate is served within seconds', async () => {
    await appendFile(join(dir, 'index.txt'), indexLine({ cert: leaves[20]!.cert, status: 'V' }) + '\n');
    const served = await until('the new certificate', async () => ((await ask(leaves[20]!)).status === 'good' ? true : undefined), 15_000);
    process.stderr.write(`new certificate served ${served.ms} ms after it entered index.txt\n`);
    expect(served.ms).toBeLessThan(10_000);
  });

  it('a revocation is served within seconds, with its reason', async () => {
    const index = await readFile(join(dir, 'index.txt'), 'utf8');
    const revokedLine = indexLine({
      cert: leaves[5]!.cert,
      status: 'R',
      revokedAt: new Date(Date.now() - 60_000),
      reason: 'keyCompromise',
    });
    const original = indexLine({ cert: leaves[5]!.cert, status: 'V' });
    expect(index).toContain(original);
    await writeFile(join(dir, 'index.txt'), index.replace(original, revokedLine));
    const revoked = await until(
      'the revocation',
      async () => {
        const r = await ask(leaves[5]!);
        return r.status === 'revoked' ? r : undefined;
      },
      15_000,
    );
    process.stderr.write(`revocation served ${revoked.ms} ms after index.txt changed\n`);
    expect(revoked.value.output).toMatch(/Reason: keyCompromise/);
    expect(revoked.value.verified).toBe(true);
    expect(revoked.ms).toBeLessThan(10_000);
  });
});
