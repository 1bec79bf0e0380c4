#!/usr/bin/env node
// The layer rule, run by `npm run lint`: every folder of src/ sits in one layer below; a module may
// import from its own folder and from folders of lower layers only, never upward and never from a
// sibling folder of the same layer, so folders cannot form a cycle. Imports between files are also
// checked for cycles (type-only imports too: a cycle of types is still two modules that cannot be
// understood one without the other). A new folder must be placed here before it can be imported.
// Usage: node hack/check-layers.mjs [--src DIR] [--layers FILE.json]; exits 1 on any violation.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** Lowest first. `(root)` names the files directly in src/ (the executable). */
export const LAYERS = [
  ['base'], // clock, backoff: imports nothing of ours
  ['ocsp', 'api', 'store'], // the protocol; the CRDs' types and parsers; the response store
  ['ca-db', 'kube'], // the CA database model (index.txt); the Kubernetes client and its types
  ['runtime'], // controller runtime: manager, work queue, controller loop, read cache, logger
  ['report'], // the pod-report protocol between pool pods and the pool controller
  ['signer', 'responder', 'probe'], // the programs pool pods and probes run
  ['staple', 'pool'], // the two controllers
  ['devenv', 'kubectl-plugin'], // development tools; the kubectl plugin's commands
  ['cmd'], // the commands: one module each, run(argv) -> exit code, flags parsed and deps built there
  ['(root)'], // the executable cli.ts, which picks a command
];

/**
 * Executables that must keep their path (package.json "bin", bin/, the single-executable build) but
 * live in a lower folder: each is a shim over its command and may import cmd/, which is otherwise
 * imported by (root) only.
 */
export const SHIMS = ['kubectl-plugin/main.ts'];

function parseArgs(argv) {
  const o = { src: 'src', layers: undefined };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--src') o.src = argv[++i];
    else if (argv[i] === '--layers') o.layers = argv[++i];
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return o;
}

function listTs(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listTs(p));
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out.sort();
}

/** Relative imports of one file (static, type-only, re-exports and `import()`), resolved to .ts files. */
function importsOf(file) {
  const info = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
  return info.importedFiles
    .map((i) => i.fileName)
    .filter((s) => s.startsWith('.'))
    .map((s) => path.resolve(path.dirname(file), s).replace(/\.js$/, '.ts'));
}

/** Tarjan's strongly connected components: every component of more than one node is a cycle. */
function cycles(graph) {
  let index = 0;
  const idx = new Map(),
    low = new Map(),
    on = new Set(),
    stack = [],
    out = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? new Set()).has(v)) out.push(comp.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return out;
}

export function checkLayers(srcDir, layers = LAYERS, shims = SHIMS) {
  const src = path.resolve(srcDir);
  const rank = new Map();
  layers.forEach((group, i) => group.forEach((f) => rank.set(f, i)));
  const folderOf = (f) => {
    const parts = path.relative(src, f).split(path.sep);
    return parts.length > 1 ? parts[0] : '(root)';
  };
  const rel = (f) => path.relative(src, f);
  const problems = [];
  const files = listTs(src);
  const graph = new Map();
  const unplaced = new Set();
  for (const file of files) {
    const from = folderOf(file);
    if (!rank.has(from)) unplaced.add(from);
    const targets = importsOf(file).filter((t) => t.startsWith(src + path.sep));
    graph.set(file, new Set(targets));
    for (const t of targets) {
      const to = folderOf(t);
      if (from === to || !rank.has(from) || !rank.has(to)) continue;
      if (to === 'cmd' && shims.includes(rel(file))) continue;
      if (rank.get(to) > rank.get(from))
        problems.push(`upward import: ${rel(file)} (${from}, layer ${rank.get(from)}) imports ${rel(t)} (${to}, layer ${rank.get(to)})`);
      else if (rank.get(to) === rank.get(from))
        problems.push(
          `sibling import: ${rel(file)} imports ${rel(t)}: ${from} and ${to} share layer ${rank.get(from)}; move the shared part down`,
        );
    }
  }
  for (const f of unplaced)
    problems.push(`folder src/${f === '(root)' ? '' : f} is in no layer: add it to LAYERS in hack/check-layers.mjs`);
  for (const comp of cycles(graph)) problems.push(`import cycle: ${comp.map(rel).join(' -> ')}`);
  return { files: files.length, problems };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = parseArgs(process.argv.slice(2));
  const layers = args.layers ? JSON.parse(fs.readFileSync(args.layers, 'utf8')) : LAYERS;
  const { files, problems } = checkLayers(args.src, layers);
  for (const p of problems) console.error(p);
  if (problems.length > 0) {
    console.error(`check-layers: ${problems.length} problem(s) in ${files} files`);
    process.exit(1);
  }
  console.log(`check-layers: ${files} files, ${layers.length} layers, no upward import, no cycle`);
}
