// The images the real node runs, built from the project's Dockerfile and the peers' small
// Dockerfiles by hack/build-images.sh (daemonless, cached by content), as `name → ref, tarball`.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './control-plane.js';

const run = promisify(execFile);

export interface BuiltImage {
  name: string;
  ref: string;
  tarball: string;
}

/** Builds what is missing (the first build of the operator image takes minutes) and lists them. */
export async function buildImages(names: string[], env: Record<string, string> = {}): Promise<BuiltImage[]> {
  const { stdout } = await run(join(repoRoot(), 'hack', 'build-images.sh'), names, {
    env: { ...process.env, ...env },
    maxBuffer: 16 << 20,
    timeout: 45 * 60_000,
  });
  return stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f): f is [string, string, string] => f.length === 3)
    .map(([name, ref, tarball]) => ({ name, ref, tarball }));
}
