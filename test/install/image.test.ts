// The Dockerfile's rules, checked without building it (hack/build-images.sh builds it daemonless
// and hack/check-images.sh runs the result; both take minutes): Node 24 by default, build-only
// arguments that stay out of the final images, OCI labels, and a replay of what it does with the
// same inputs: the build context is only what .dockerignore lets through, `tsc` compiles it, the
// build stage's removals apply, and the runtime layout it copies runs every `ocsp-operator`
// command's --help (each loads its own modules) as the ENTRYPOINT does.
import { execFile } from 'node:child_process';
import { access, cp, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/devenv/control-plane.js';

const run = promisify(execFile);
const root = repoRoot();

/** The paths a `*` then `!path` .dockerignore lets into the build context. */
function allowedByDockerignore(text: string): string[] {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  expect(lines[0], '.dockerignore starts by excluding everything').toBe('*');
  return lines.slice(1).map((l) => {
    expect(l.startsWith('!'), `only exceptions after '*': ${l}`).toBe(true);
    return l.slice(1).replace(/\/$/, '');
  });
}

interface Stage {
  name: string;
  from: string;
  lines: string[];
}

/** The Dockerfile's global ARG defaults and its stages, continuation lines joined, comments dropped. */
function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const l of lines) {
    const from = /^FROM (\S+) AS (\S+)$/.exec(l);
    if (from) stages.push({ from: from[1]!, name: from[2]!, lines: [] });
    else if (stages.length === 0) {
      const arg = /^ARG (\w+)(?:=(.*))?$/.exec(l);
      if (arg) args[arg[1]!] = arg[2] ?? '';
    } else stages.at(-1)!.lines.push(l);
  }
  return { args, stages };
}

const dockerfile = parseDockerfile(await readFile(join(root, 'Dockerfile'), 'utf8'));
const stage = (name: string): Stage => {
  const s = dockerfile.stages.find((x) => x.name === name);
  expect(s, `stage ${name}`).toBeDefined();
  return s!;
};

describe('Dockerfile', () => {
  const dirs: string[] = [];
  afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it('copies only what .dockerignore lets through, and runs as a numeric non-root user in both images', async () => {
    const text = await readFile(join(root, 'Dockerfile'), 'utf8');
    const allowed = allowedByDockerignore(await readFile(join(root, '.dockerignore'), 'utf8'));
    const sources = [...text.matchAll(/^COPY (?!--from)(?:--\S+ )*(.+) \S+$/gm)].flatMap((m) => (m[1] ?? '').split(/\s+/));
    for (const s of sources) expect(allowed, `COPY ${s} is excluded by .dockerignore`).toContain(s.replace(/\/$/, ''));
    expect(dockerfile.stages.map((s) => s.name)).toEqual(['deps', 'build', 'runtime', 'signer', 'operator']);
    expect(dockerfile.stages.at(-1)?.name, 'the operator is the default (last) target').toBe('operator');
    for (const name of ['signer', 'operator']) {
      const users = [...stage('runtime').lines, ...stage(name).lines].filter((l) => l.startsWith('USER '));
      expect(users.at(-1), `${name} ends as 65532`).toBe('USER 65532:65532');
    }
    const signer = stage('signer').lines.join('\n');
    expect(signer).toContain('softhsm2');
    expect(signer).toContain('opensc');
    expect(signer).toContain('/usr/lib/softhsm/libsofthsm2.so');
  });

  it('Node 24 by default, the version hack/build-images.sh pins for its own bases', async () => {
    expect(dockerfile.args.NODE_IMAGE).toBe('node:24-bookworm');
    expect(dockerfile.args.NODE_RUNTIME_IMAGE).toBe('node:24-bookworm-slim');
    expect(stage('deps').from).toBe('${NODE_IMAGE}');
    expect(stage('build').from).toBe('${NODE_IMAGE}');
    expect(stage('runtime').from).toBe('${NODE_RUNTIME_IMAGE}');
    const versions = await readFile(join(root, 'hack/images/versions.env'), 'utf8');
    expect(versions).toMatch(/^NODE_VERSION=24\.\d+\.\d+$/m);
    // node-gyp builds pkcs11js against the headers where both kinds of base keep them.
    expect(stage('deps').lines).toContain('ENV npm_config_nodedir=/usr/local');
  });

  it('build-only arguments (CA file, npm registry) exist in the build stages only and reach no image', () => {
    for (const name of ['deps', 'build']) {
      expect(stage(name).lines, name).toContain('ARG NODE_EXTRA_CA_CERTS');
      expect(stage(name).lines, name).toContain('ARG NPM_REGISTRY');
    }
    expect(dockerfile.args).not.toHaveProperty('NODE_EXTRA_CA_CERTS');
    expect(dockerfile.args).not.toHaveProperty('NPM_REGISTRY');
    for (const name of ['runtime', 'signer', 'operator']) {
      const text = stage(name).lines.join('\n');
      expect(text, name).not.toMatch(/NODE_EXTRA_CA_CERTS|NPM_REGISTRY|registry/i);
      // What reaches the images from the build stages: node_modules and the compiled code only.
      for (const l of stage(name).lines.filter((x) => x.startsWith('COPY --from'))) {
        expect(l, name).toMatch(/^COPY --from=(deps|build) --chown=0:0 \/app\/(node_modules|dist\/src) \.\/(node_modules|dist\/src)$/);
      }
    }
    for (const s of dockerfile.stages) {
      expect(s.lines.filter((l) => l.startsWith('ENV')).join('\n'), s.name).not.toMatch(/CA_CERTS|REGISTRY|registry/);
    }
  });

  it('both images carry OCI labels from the VERSION and REVISION build arguments', () => {
    expect(dockerfile.args.VERSION).toMatch(/^\d+\.\d+\.\d+/);
    expect(dockerfile.args).toHaveProperty('REVISION');
    for (const [name, title] of [
      ['signer', 'ocsp-operator-signer'],
      ['operator', 'ocsp-operator'],
    ] as const) {
      const lines = stage(name).lines;
      for (const a of ['VERSION', 'REVISION', 'SOURCE']) expect(lines, `${name} redeclares ${a}`).toContain(`ARG ${a}`);
      const label = lines.find((l) => l.startsWith('LABEL ')) ?? '';
      const labels = Object.fromEntries([...label.matchAll(/(org\.opencontainers\.image\.\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
      expect(labels).toMatchObject({
        'org.opencontainers.image.title': title,
        'org.opencontainers.image.source': '${SOURCE}',
        'org.opencontainers.image.version': '${VERSION}',
        'org.opencontainers.image.revision': '${REVISION}',
        'org.opencontainers.image.licenses': 'Apache-2.0',
      });
      expect(labels['org.opencontainers.image.description']).toBeTruthy();
    }
  });

  it('the build context compiles, and the runtime layout runs every command without the dev environment', async () => {
    const allowed = allowedByDockerignore(await readFile(join(root, '.dockerignore'), 'utf8'));
    const ctx = await mkdtemp(join(tmpdir(), 'ocsp-image-ctx-'));
    dirs.push(ctx);
    for (const p of allowed) await cp(join(root, p), join(ctx, p), { recursive: true });
    await symlink(join(root, 'node_modules'), join(ctx, 'node_modules'), 'dir');
    await run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], {
      cwd: ctx,
      timeout: 120_000,
    });
    // The build stage's removals (`rm -rf dist/...` in its RUN lines), as the Dockerfile has them.
    const removed = stage('build')
      .lines.filter((l) => l.startsWith('RUN '))
      .flatMap((l) => [...l.matchAll(/rm -rf ((?:dist\/\S+ ?)+)/g)].flatMap((m) => m[1]!.trim().split(/\s+/)));
    expect(removed, 'the development environment stays out of the image').toContain('dist/src/devenv');
    for (const p of removed) await rm(join(ctx, p), { recursive: true, force: true });
    // runtime stage: node_modules (deps), dist/src (build), package.json (context), nothing else.
    const copies = stage('runtime').lines.filter((l) => l.startsWith('COPY '));
    expect(copies).toEqual([
      'COPY --from=deps --chown=0:0 /app/node_modules ./node_modules',
      'COPY --from=build --chown=0:0 /app/dist/src ./dist/src',
      'COPY --chown=0:0 package.json ./',
    ]);
    const app = await mkdtemp(join(tmpdir(), 'ocsp-image-app-'));
    dirs.push(app);
    await mkdir(join(app, 'dist'));
    await cp(join(ctx, 'dist', 'src'), join(app, 'dist', 'src'), { recursive: true });
    await cp(join(ctx, 'package.json'), join(app, 'package.json'));
    await symlink(join(root, 'node_modules'), join(app, 'node_modules'), 'dir');
    await expect(access(join(app, 'dist', 'src', 'devenv'))).rejects.toThrow();
    const cli = join(app, 'dist', 'src', 'cli.js');
    const { stdout } = await run(process.execPath, [cli, 'help'], { cwd: '/', timeout: 20_000 });
    expect(stdout).toContain('controller');
    expect(stdout).toContain('--leader-elect');
    // Each pod role loads its own modules on demand: their --help proves they load without devenv.
    for (const command of ['responder', 'signer', 'probe']) {
      const r = await run(process.execPath, [cli, command, '--help'], { cwd: '/', timeout: 20_000 });
      expect(r.stdout, `${command} --help`).toContain(command);
    }
  }, 180_000);
});
