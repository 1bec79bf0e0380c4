// Child processes in these tests run plain Node (20 cannot load .ts), so the store's sources are
// transpiled into a temp dir first; they import node builtins, each other, and fs-ext (the writer
// lock's flock), found through a link to this repository's node_modules.
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import ts from 'typescript';

export async function transpileDir(srcDir: string, outDir: string): Promise<void> {
  await mkdir(outDir, { recursive: true });
  for (const f of await readdir(srcDir)) {
    if (!f.endsWith('.ts')) continue;
    const src = await readFile(join(srcDir, f), 'utf8');
    const out = ts.transpileModule(src, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
    });
    await writeFile(join(outDir, f.replace(/\.ts$/, '.js')), out.outputText);
  }
  await writeFile(join(outDir, 'package.json'), '{"type":"module"}');
  await symlink(resolve('node_modules'), join(outDir, 'node_modules'), 'dir');
}
