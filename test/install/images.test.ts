// The images themselves, built and run: hack/check-images.sh builds what is missing with
// hack/build-images.sh (daemonless; cached by content, so about a minute on a warm cache, a few
// minutes after a change to src/, 5–6 minutes on a machine that never built them), imports each
// into a throwaway containerd and runs it: node v24 and every command's --help as 65532 on a
// read-only root in operator and signer, pkcs11js loading SoftHSM in the signer, nginx, HAProxy
// and Redis answering as non-root, the toolbox's programs, pause exiting 0 on SIGTERM.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/devenv/control-plane.js';

const run = promisify(execFile);
const names = ['pause', 'toolbox', 'nginx', 'haproxy', 'redis', 'operator', 'signer'];

async function missingCapability(): Promise<string> {
  if (process.getuid?.() !== 0) return 'not root (debootstrap, buildah chroot isolation and containerd need root)';
  for (const c of ['buildah', 'debootstrap', 'containerd', 'ctr', 'runc', 'nsenter']) {
    const found = await run('sh', ['-c', `command -v ${c}`]).then(
      () => true,
      () => false,
    );
    if (!found) return `no ${c} (hack/install-system-deps.sh installs it)`;
  }
  return '';
}

const reason = await missingCapability();
if (reason) console.warn(`images.test.ts skipped: ${reason}`);

describe.skipIf(reason)('images built here run', () => {
  it(
    `${names.join(', ')}: each runs in containerd as it should`,
    async () => {
      const r = await run('hack/check-images.sh', names, { cwd: repoRoot(), timeout: 40 * 60_000, maxBuffer: 64 << 20 }).then(
        (o) => ({ code: 0, stdout: o.stdout, stderr: o.stderr }),
        (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
      );
      const report = r.stderr.split('\n').filter((l) => l.startsWith('[check-images]'));
      expect(
        report.filter((l) => l.includes('FAIL')),
        r.stderr.slice(-4000),
      ).toEqual([]);
      expect(r.code, r.stderr.slice(-4000)).toBe(0);
      for (const n of names)
        expect(
          report.some((l) => l.startsWith(`[check-images] ${n}: `) && !l.includes('imported')),
          n,
        ).toBe(true);
      expect(report.at(-1)).toBe(`[check-images] all checked: ${names.join(' ')}`);
      expect(report.find((l) => l.startsWith('[check-images] signer: pkcs11js'))).toContain('SoftHSM');
      console.log(report.join('\n'));
    },
    40 * 60_000,
  );
});
