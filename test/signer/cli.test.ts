// `ocsp-operator signer` as a user runs it (the built dist/src/cli.js): --once over an index.txt
// with the key on SoftHSM, UV_THREADPOOL_SIZE raised from --sessions by re-executing, responses in
// the embedded store that verify, a delegated responder issued from the HSM key, and a wrong PIN.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateOcspResponse } from '../../src/ocsp/index.js';
import { EmbeddedStore, RedisReader, canonicalSerial } from '../../src/store/index.js';
import { opensslVerifyResponse } from '../support/openssl.js';
import { createCa, indexTxt, issueLeaf, issueResponderCert, type Ca, type Issued } from '../support/pki.js';
import { startRedisCluster } from '../support/redis.js';
import { createSoftHsm, type SoftHsm } from '../support/softhsm.js';
import { storeStats } from '../support/store-stats.js';

const CLI = resolve(import.meta.dirname, '..', '..', 'dist', 'src', 'cli.js');
let hsm: SoftHsm;
let ca: Ca;
let leaves: Issued[];
let dir: string;

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
  hsm = await createSoftHsm();
  ca = await createCa({ keyAlg: 'P-256' });
  await hsm.importKey('ca-key', ca.keyPem);
  leaves = [];
  for (let i = 0; i < 50; i++) leaves.push(await issueLeaf(ca));
  dir = await mkdtemp(join(tmpdir(), 'ocsp-signer-cli-'));
  await writeFile(join(dir, 'ca.pem'), ca.certPem);
  await writeFile(
    join(dir, 'index.txt'),
    indexTxt(
      leaves.map((l, i) =>
        i === 3
          ? { cert: l.cert, status: 'R', revokedAt: new Date(Date.now() - 60_000), reason: 'keyCompromise' }
          : { cert: l.cert, status: 'V' },
      ),
    ),
  );
});
afterAll(async () => {
  await hsm?.remove();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const e: NodeJS.ProcessEnv = { ...process.env, SOFTHSM2_CONF: hsm.conf, ...env };
    delete e.UV_THREADPOOL_SIZE;
    execFile(process.execPath, [CLI, 'signer', ...args], { env: e, timeout: 60_000 }, (err, stdout, stderr) => {
      done({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const base = () => [
  '--index',
  join(dir, 'index.txt'),
  '--ca-cert',
  join(dir, 'ca.pem'),
  '--token-label',
  hsm.tokenLabel,
  '--key-label',
  'ca-key',
  '--once',
];

describe('ocsp-operator signer', () => {
  it('--once signs every certificate into the embedded store, with the threadpool sized from --sessions', async () => {
    const storeDir = join(dir, 'store-a');
    const r = await run([...base(), '--sessions', '6', '--store-dir', storeDir], { OCSP_SIGNER_PIN: hsm.pin });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    // the re-executed child runs with UV_THREADPOOL_SIZE = sessions + 2
    expect(lines.find((l) => l.msg === 'signer starting')).toMatchObject({ sessions: 6, threadpool: '8', algorithm: 'ECDSA-SHA256' });
    expect(lines.at(-1)).toMatchObject({ planned: 50, signed: 50, failed: 0, byReason: { status: 1, new: 49 }, backlog: 0 });
    const store = await EmbeddedStore.open({ path: join(storeDir, 'responses.log') });
    try {
      expect((await storeStats(store)).count).toBe(50);
      const entries = new Map<string, Uint8Array>();
      for await (const e of store.entries()) entries.set(e.serial, e.der);
      for (const [i, l] of leaves.entries()) {
        const v = validateOcspResponse(entries.get(canonicalSerial(l.serial))!, { cert: l.cert, issuer: ca.cert, now: new Date() });
        expect(v).toMatchObject({ ok: true, response: { certStatus: i === 3 ? 'revoked' : 'good' } });
      }
    } finally {
      await store.close();
    }
  });

  it('--issue-responder: responses are signed by a delegated responder the HSM key issued; openssl accepts them', async () => {
    const storeDir = join(dir, 'store-b');
    await writeFile(join(dir, 'pin'), `${hsm.pin}\n`);
    const r = await run([...base(), '--sessions', '2', '--store-dir', storeDir, '--issue-responder', '--pin-file', join(dir, 'pin')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('issued delegated responder certificate');
    const store = await EmbeddedStore.open({ path: join(storeDir, 'responses.log') });
    try {
      let checked = 0;
      for await (const e of store.entries()) {
        const leaf = leaves.find((l) => canonicalSerial(l.serial) === e.serial)!;
        const v = validateOcspResponse(e.der, { cert: leaf.cert, issuer: ca.cert, now: new Date() });
        expect(v).toMatchObject({ ok: true, response: { signer: { delegated: true } } });
        if (checked++ < 2) {
          const o = await opensslVerifyResponse({ response: e.der, issuerPem: ca.certPem, certPem: leaf.certPem, caPem: ca.certPem });
          expect(o.output).toContain('Response verify OK');
        }
      }
      expect(checked).toBe(50);
    } finally {
      await store.close();
    }
  });

  it('--redis-url: responses go to the Redis primary and reach a replica, where a responder reads them', async () => {
    const cluster = await startRedisCluster(1);
    const reader = new RedisReader({ replica: { host: '127.0.0.1', port: cluster.replicas[0]!.port } });
    try {
      const r = await run([...base(), '--sessions', '2', '--redis-url', `redis://127.0.0.1:${cluster.primary.port}`], {
        OCSP_SIGNER_PIN: hsm.pin,
      });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      await cluster.waitInSync(cluster.replicas[0]!);
      const issuerId = [
        ...(await (async () => {
          const ids = new Set<string>();
          for await (const e of reader.entries()) ids.add(e.issuerId);
          return ids;
        })()),
      ];
      expect(issuerId).toHaveLength(1);
      for (const [i, l] of leaves.entries()) {
        const got = await reader.get(issuerId[0]!, canonicalSerial(l.serial));
        expect(validateOcspResponse(got!.der, { cert: l.cert, issuer: ca.cert, now: new Date() })).toMatchObject({
          ok: true,
          response: { certStatus: i === 3 ? 'revoked' : 'good' },
        });
      }
    } finally {
      await reader.close();
      await cluster.stop();
    }
  });

  it('--responder-cert without --responder-key: the signing key (here on the HSM) is the responder key; a certificate for another key is refused', async () => {
    const responder = await issueResponderCert(ca);
    await hsm.importKey('responder-key', responder.keyPem);
    await writeFile(join(dir, 'responder.pem'), responder.certPem);
    const withKey = (label: string) => base().map((a) => (a === 'ca-key' ? label : a));
    const storeDir = join(dir, 'store-fromsecret');
    const r = await run(
      [...withKey('responder-key'), '--sessions', '1', '--store-dir', storeDir, '--responder-cert', join(dir, 'responder.pem')],
      { OCSP_SIGNER_PIN: hsm.pin },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const store = await EmbeddedStore.open({ path: join(storeDir, 'responses.log') });
    try {
      let checked = 0;
      for await (const e of store.entries()) {
        const leaf = leaves.find((l) => canonicalSerial(l.serial) === e.serial)!;
        expect(validateOcspResponse(e.der, { cert: leaf.cert, issuer: ca.cert, now: new Date() })).toMatchObject({
          ok: true,
          response: { signer: { delegated: true, serial: expect.any(String) } },
        });
        checked++;
      }
      expect(checked).toBe(50);
    } finally {
      await store.close();
    }
    const wrong = await run(
      [...base(), '--sessions', '1', '--store-dir', join(dir, 'store-fromsecret-wrong'), '--responder-cert', join(dir, 'responder.pem')],
      { OCSP_SIGNER_PIN: hsm.pin },
    );
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('its public key is not the key of the signing key');
  });

  it('--redis-password-env: the password reaches Redis from the named variable; a named variable unset is an error', async () => {
    const cluster = await startRedisCluster(0);
    try {
      await cluster.primary.admin.config('SET', 'requirepass', 'pool-secret');
      const url = `redis://127.0.0.1:${cluster.primary.port}`;
      const ok = await run([...base(), '--sessions', '1', '--redis-url', url, '--redis-password-env', 'POOL_REDIS_PW'], {
        OCSP_SIGNER_PIN: hsm.pin,
        POOL_REDIS_PW: 'pool-secret',
      });
      expect(ok.stderr).toBe('');
      expect(ok.code).toBe(0);
      expect(JSON.parse(ok.stdout.trim().split('\n').at(-1)!)).toMatchObject({ signed: leaves.length, failed: 0 });
      expect(await cluster.primary.admin.dbsize()).toBeGreaterThan(0);
      const unset = await run([...base(), '--sessions', '1', '--redis-url', url, '--redis-password-env', 'POOL_REDIS_PW'], {
        OCSP_SIGNER_PIN: hsm.pin,
      });
      expect(unset.code).toBe(1);
      expect(unset.stderr).toContain('--redis-password-env POOL_REDIS_PW: the environment variable is not set');
    } finally {
      await cluster.stop();
    }
  });

  it('a wrong PIN or a missing key fails with a message naming them', async () => {
    const wrong = await run([...base(), '--sessions', '1', '--store-dir', join(dir, 'store-c')], { OCSP_SIGNER_PIN: '0000' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`PKCS#11 token "${hsm.tokenLabel}": PIN rejected (CKR_PIN_INCORRECT)`);
    const missing = await run(
      [...base().map((a) => (a === 'ca-key' ? 'nope' : a)), '--sessions', '1', '--store-dir', join(dir, 'store-c')],
      { OCSP_SIGNER_PIN: hsm.pin },
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`no private key labelled "nope"`);
    const noPin = await run([...base(), '--store-dir', join(dir, 'store-c'), '--sessions', '1']);
    expect(noPin.stderr).toContain('no PIN: set OCSP_SIGNER_PIN or --pin-file');
  });
});
