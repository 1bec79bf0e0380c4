// The operator's own commands (controller, signer, responder, probe) must not load
// @kubernetes/client-node: its generated API clients cost a pod ~20 MiB of heap for nothing
// (src/kube/cluster-access.ts). A module hook records every module the built command loads, and
// process.dlopen every native addon; the kubectl plugin, which does use client-node, and the
// signer, which loads pkcs11js, show that both are seen. The controller loads no addon, so it
// runs under any Node its JavaScript runs on (bench/staples.js runs it under the image's Node).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/devenv/control-plane.js';

const run = promisify(execFile);
let dir: string;

const HOOK = `import { appendFileSync } from 'node:fs';
let out;
export function initialize(data) { out = data.out; }
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(out, resolved.url + '\\n');
  return resolved;
}
`;

/** The URLs of every module that importing `module` (a built file under dist/) resolves. */
async function modulesLoadedBy(module: string): Promise<string[]> {
  const out = join(dir, `${module.replace(/\W/g, '_')}.txt`);
  await writeFile(out, '');
  const hook = pathToFileURL(join(dir, 'hook.mjs')).href;
  const target = pathToFileURL(join(repoRoot(), 'dist', module)).href;
  const script = `import { register } from 'node:module';
import { appendFileSync } from 'node:fs';
register(${JSON.stringify(hook)}, { data: { out: ${JSON.stringify(out)} } });
const dlopen = process.dlopen;
process.dlopen = (module, filename, ...rest) => {
  appendFileSync(${JSON.stringify(out)}, 'addon:' + filename + '\\n');
  return dlopen(module, filename, ...rest);
};
await import(${JSON.stringify(target)});`;
  await run(process.execPath, ['--input-type=module', '-e', script], { timeout: 30_000 });
  return (await readFile(out, 'utf8')).split('\n').filter(Boolean);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'imports-'));
  await writeFile(join(dir, 'hook.mjs'), HOOK);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const fromClientNode = (urls: string[]) => urls.filter((u) => u.includes('/@kubernetes/client-node/'));
const addons = (urls: string[]) => urls.filter((u) => u.startsWith('addon:'));

describe('what the commands load', () => {
  it('the kubectl plugin loads client-node (the hook sees it)', async () => {
    const urls = await modulesLoadedBy('src/kubectl-plugin/kube.js');
    expect(fromClientNode(urls).length).toBeGreaterThan(100);
  });

  it.each(['controller', 'signer', 'responder', 'probe'])('%s does not load client-node', async (command) => {
    const urls = await modulesLoadedBy(`src/cmd/${command}.js`);
    expect(urls.some((u) => u.endsWith(`/dist/src/cmd/${command}.js`))).toBe(true);
    expect(fromClientNode(urls)).toEqual([]);
  });

  it('the signer loads its PKCS#11 addon (the dlopen hook sees it)', async () => {
    const urls = await modulesLoadedBy('src/cmd/signer.js');
    expect(addons(urls).some((u) => u.endsWith('/pkcs11.node'))).toBe(true);
  });

  it('the controller loads no native addon', async () => {
    const urls = await modulesLoadedBy('src/cmd/controller.js');
    expect(urls.length).toBeGreaterThan(50);
    expect(addons(urls)).toEqual([]);
  });

  // The stores' clients are the signer's and the responder's: the controller only names serials
  // (store/keys.js), and a barrel import once brought ioredis into its pod for nothing.
  it('the controller loads no store client (ioredis, pg); the responder does (the hook sees them)', async () => {
    const storeClients = (urls: string[]) => urls.filter((u) => /\/node_modules\/(ioredis|pg)\//.test(u));
    expect(storeClients(await modulesLoadedBy('src/cmd/controller.js'))).toEqual([]);
    expect(storeClients(await modulesLoadedBy('src/cmd/responder.js')).some((u) => u.includes('/ioredis/'))).toBe(true);
  });

  it('the controller still reaches the API through its own client', async () => {
    const urls = await modulesLoadedBy('src/cmd/controller.js');
    expect(new Set(urls.filter((u) => /\/dist\/src\/kube\/(client|cluster-access)\.js$/.test(u))).size).toBe(2);
  });
});
