/**
 * A throwaway SoftHSM2 token: its own config and token directory in a temp dir, SO PIN / user PIN,
 * and keys either imported from PEM (so that a test CA's certificate matches the HSM key) or
 * generated on the token with pkcs11-tool.
 *
 * SoftHSM reads SOFTHSM2_CONF at C_Initialize, so `createSoftHsm` sets it in this process's
 * environment (and passes it explicitly to the tools it runs). One token directory per test file:
 * the library is initialised once per process, and a second directory would not be seen until
 * every signer has released it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const SOFTHSM_MODULE = process.env.SOFTHSM_MODULE ?? '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsm {
  dir: string;
  conf: string;
  module: string;
  tokenLabel: string;
  pin: string;
  soPin: string;
  /** Imports a PKCS#8 PEM private key (and its public half) under `label`. */
  importKey(label: string, keyPem: string): Promise<void>;
  /** Generates a key pair on the token: 'EC:prime256v1', 'EC:secp384r1', 'rsa:2048'. */
  generateKey(label: string, keyType: 'EC:prime256v1' | 'EC:secp384r1' | 'rsa:2048'): Promise<void>;
  remove(): Promise<void>;
}

let nextId = 1;

export async function createSoftHsm(o: { tokenLabel?: string; pin?: string } = {}): Promise<SoftHsm> {
  const existing = process.env.SOFTHSM2_CONF;
  const dir = await mkdtemp(join(tmpdir(), 'ocsp-softhsm-'));
  const tokens = join(dir, 'tokens');
  await mkdir(tokens);
  const conf = join(dir, 'softhsm2.conf');
  await writeFile(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  process.env.SOFTHSM2_CONF = conf;
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  const tokenLabel = o.tokenLabel ?? 'ocsp-test';
  const pin = o.pin ?? '5678';
  const soPin = '1234';
  await run('softhsm2-util', ['--init-token', '--free', '--label', tokenLabel, '--so-pin', soPin, '--pin', pin], { env });
  return {
    dir,
    conf,
    module: SOFTHSM_MODULE,
    tokenLabel,
    pin,
    soPin,
    async importKey(label, keyPem) {
      const file = join(dir, `import-${nextId}.pem`);
      await writeFile(file, keyPem, { mode: 0o600 });
      const id = (nextId++).toString(16).padStart(4, '0');
      await run('softhsm2-util', ['--import', file, '--token', tokenLabel, '--label', label, '--id', id, '--pin', pin], { env });
      await rm(file);
    },
    async generateKey(label, keyType) {
      const id = (nextId++).toString(16).padStart(4, '0');
      await run(
        'pkcs11-tool',
        [
          '--module',
          SOFTHSM_MODULE,
          '--token-label',
          tokenLabel,
          '--login',
          '--pin',
          pin,
          '--keypairgen',
          '--key-type',
          keyType,
          '--label',
          label,
          '--id',
          id,
        ],
        { env },
      );
    },
    async remove() {
      await rm(dir, { recursive: true, force: true });
      if (existing === undefined) delete process.env.SOFTHSM2_CONF;
      else process.env.SOFTHSM2_CONF = existing;
    },
  };
}
