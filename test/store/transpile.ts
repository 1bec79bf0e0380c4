// Child processes in these tests run plain Node (20 cannot load .ts), so the store's sources are
// transpiled into a temp dir first; they import only node builtins and each other.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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
}
