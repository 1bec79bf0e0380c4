// Every `npm run` script works as a user would type it: each one's command (after the build that
// `npm test` has just done) answers --help, and `npm run bench` knows every benchmark in bench/.
// `build`, `test` and `lint` are what CI itself runs (.ci/run), so a broken one fails every run;
// `format` is Prettier writing what `lint` checks.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/devenv/control-plane.js';

const run = promisify(execFile);
const root = repoRoot();
const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
const BUILD = 'npm run build && ';

describe('npm run scripts', () => {
  it('build, test and lint are the commands CI runs; format writes what lint checks', () => {
    expect(scripts.test?.startsWith(BUILD), 'npm test builds first').toBe(true);
    expect(scripts.lint).toContain('prettier --check .');
    expect(scripts.format).toBe('prettier --write .');
    const ci = readFileSync(join(root, '.ci', 'run'), 'utf8');
    expect(ci).toMatch(/^npm run lint\b/m);
    expect(ci).toMatch(/^npm test$/m);
  });

  const others = Object.entries(scripts).filter(([name]) => !['build', 'test', 'lint', 'format'].includes(name));
  it.each(others)('npm run %s -- --help answers with its usage', async (name, command) => {
    expect(command.startsWith(BUILD), `${name} builds first`).toBe(true);
    const [bin, ...args] = command.slice(BUILD.length).split(' ');
    expect(bin).toBe('node');
    const { stdout } = await run(process.execPath, [...args, '--help'], { cwd: root, timeout: 30_000 });
    expect(stdout).toMatch(/^usage: npm run /);
  });

  it('npm run bench lists every benchmark in bench/ and runs one by name', async () => {
    const files = readdirSync(join(root, 'bench'))
      .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
      .map((f) => f.slice(0, -3))
      .sort();
    const { stdout } = await run(process.execPath, ['dist/bench/run.js'], { cwd: root, timeout: 30_000 });
    const listed = [...stdout.matchAll(/^ {2}(\S+) {2,}/gm)].map((m) => m[1]).sort();
    expect(listed).toEqual(files);
    const unknown = await run(process.execPath, ['dist/bench/run.js', 'no-such-bench'], { cwd: root, timeout: 30_000 }).then(
      () => 'exit 0',
      (err: { code?: number; stderr?: string }) => `exit ${err.code}: ${err.stderr ?? ''}`,
    );
    expect(unknown).toMatch(/^exit 2: no benchmark named "no-such-bench"/);
  });
});
