// The layer rule run by `npm run lint` (hack/check-layers.mjs): it must fail on a folder cycle, an
// upward import, a sibling import and a file cycle in a tiny tree, and pass on the real src/.
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const CHECK = join(import.meta.dirname, '../../hack/check-layers.mjs');

async function check(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run(process.execPath, [CHECK, ...args], { timeout: 60_000 });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

const root = mkdtempSync(join(tmpdir(), 'check-layers-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function tree(name: string, files: Record<string, string>, layers: string[][]): string[] {
  const dir = join(root, name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, 'src', path)), { recursive: true });
    writeFileSync(join(dir, 'src', path), text);
  }
  writeFileSync(join(dir, 'layers.json'), JSON.stringify(layers));
  return ['--src', join(dir, 'src'), '--layers', join(dir, 'layers.json')];
}

describe('check-layers', () => {
  it('passes on the real src/', async () => {
    const r = await check([]);
    expect(r.out).toContain('no upward import, no cycle');
    expect(r.code).toBe(0);
  });

  it('passes on a tree that imports only downward', async () => {
    const args = tree(
      'ok',
      { 'base/a.ts': 'export const a = 1;\n', 'top/b.ts': "import { a } from '../base/a.js';\nexport const b = a;\n" },
      [['base'], ['top']],
    );
    expect((await check(args)).code).toBe(0);
  });

  it('fails on a folder cycle, naming the upward import', async () => {
    const args = tree(
      'cycle',
      {
        'base/a.ts': "import { b } from '../top/b.js';\nexport const a = () => b;\n",
        'top/b.ts': "import { a } from '../base/a.js';\nexport const b = 1;\nexport const c = a;\n",
      },
      [['base'], ['top']],
    );
    const r = await check(args);
    expect(r.code).toBe(1);
    expect(r.out).toContain('upward import: base/a.ts (base, layer 0) imports top/b.ts (top, layer 1)');
    expect(r.out).toContain('import cycle: base/a.ts -> top/b.ts');
  });

  it('fails on a sibling import, a file cycle inside a folder, and an unplaced folder', async () => {
    const args = tree(
      'siblings',
      {
        'left/x.ts': "import type { Y } from '../right/y.js';\nexport type X = Y;\n",
        'right/y.ts': 'export type Y = number;\n',
        'right/p.ts': "import type { Q } from './q.js';\nexport type P = Q;\n",
        'right/q.ts': "import type { P } from './p.js';\nexport type Q = P | string;\n",
        'stray/z.ts': 'export const z = 0;\n',
      },
      [['left', 'right']],
    );
    const r = await check(args);
    expect(r.code).toBe(1);
    expect(r.out).toContain('sibling import: left/x.ts imports right/y.ts');
    expect(r.out).toContain('import cycle: right/p.ts -> right/q.ts');
    expect(r.out).toContain('folder src/stray is in no layer');
  });

  it('lets only the plugin shim import cmd/ from below', async () => {
    const args = tree(
      'shim',
      {
        'cmd/plugin.ts': "import { w } from '../kubectl-plugin/words.js';\nexport const run = () => w;\n",
        'kubectl-plugin/words.ts': 'export const w = 1;\n',
        'kubectl-plugin/main.ts': "import { run } from '../cmd/plugin.js';\nexport const main = run;\n",
        'kubectl-plugin/other.ts': "import { run } from '../cmd/plugin.js';\nexport const other = run;\n",
      },
      [['kubectl-plugin'], ['cmd']],
    );
    const r = await check(args);
    expect(r.code).toBe(1);
    expect(r.out).toContain('upward import: kubectl-plugin/other.ts (kubectl-plugin, layer 0) imports cmd/plugin.ts (cmd, layer 1)');
    expect(r.out).not.toContain('kubectl-plugin/main.ts');
  });
});
