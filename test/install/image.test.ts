// The Dockerfile cannot be built on these machines (no Docker daemon, no image registry), so this
// replays what it does with the same inputs: the build context is only what .dockerignore lets
// through, `tsc` compiles it, and the runtime layout (node_modules, dist/src, package.json and
// nothing else) runs `ocsp-operator` as the ENTRYPOINT does.
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/devenv/control-plane.js';

const run = promisify(execFile);
const root = repoRoot();

/** The paths a `*` then `!path` .dockerignore lets into the build context. */
function allowedByDockerignore(text: string): string[] {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  expect(lines[0], '.dockerignore starts by excluding everything').toBe('*');
  return lines.slice(1).map((l) => {
    expect(l.startsWith('!'), `only exceptions after '*': ${l}`).toBe(true);
    return l.slice(1).replace(/\/$/, '');
  });
}

describe('Dockerfile', () => {
  const dirs: string[] = [];
  afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it('copies only what .dockerignore lets through, and runs as a numeric non-root user in both images', async () => {
    const dockerfile = await readFile(join(root, 'Dockerfile'), 'utf8');
    const allowed = allowedByDockerignore(await readFile(join(root, '.dockerignore'), 'utf8'));
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(?:--\S+ )*(.+) \S+$/gm)].flatMap((m) => (m[1] ?? '').split(/\s+/));
    for (const s of sources) expect(allowed, `COPY ${s} is excluded by .dockerignore`).toContain(s.replace(/\/$/, ''));
    const stages = [...dockerfile.matchAll(/^FROM \S+ AS (\S+)$/gm)].map((m) => m[1]);
    expect(stages).toEqual(['deps', 'build', 'runtime', 'signer', 'operator']);
    expect(stages.at(-1), 'the operator is the default (last) target').toBe('operator');
    const users = [...dockerfile.matchAll(/^USER (\S+)$/gm)].map((m) => m[1]);
    expect(users.at(-1)).toBe('65532:65532'); // the signer ends non-root too (its last USER line)
    const signer = dockerfile.slice(dockerfile.indexOf('AS signer'), dockerfile.indexOf('AS operator'));
    expect(signer).toContain('softhsm2');
    expect(signer).toContain('/usr/lib/softhsm/libsofthsm2.so');
    expect(signer.trim().split('\n').filter((l) => l.startsWith('USER')).at(-1)).toBe('USER 65532:65532');
  });

  it('the build context compiles, and the runtime layout runs the CLI', async () => {
    const allowed = allowedByDockerignore(await readFile(join(root, '.dockerignore'), 'utf8'));
    const ctx = await mkdtemp(join(tmpdir(), 'ocsp-image-ctx-'));
    dirs.push(ctx);
    for (const p of allowed) await cp(join(root, p), join(ctx, p), { recursive: true });
    await symlink(join(root, 'node_modules'), join(ctx, 'node_modules'), 'dir');
    await run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: ctx, timeout: 120_000 });
    // runtime stage: node_modules, dist/src, package.json
    const app = await mkdtemp(join(tmpdir(), 'ocsp-image-app-'));
    dirs.push(app);
    await mkdir(join(app, 'dist'));
    await cp(join(ctx, 'dist', 'src'), join(app, 'dist', 'src'), { recursive: true });
    await cp(join(ctx, 'package.json'), join(app, 'package.json'));
    await symlink(join(root, 'node_modules'), join(app, 'node_modules'), 'dir');
    const { stdout } = await run(process.execPath, [join(app, 'dist', 'src', 'cli.js'), 'help'], { cwd: '/', timeout: 20_000 });
    expect(stdout).toContain('controller');
    expect(stdout).toContain('--leader-elect');
  }, 180_000);
});
