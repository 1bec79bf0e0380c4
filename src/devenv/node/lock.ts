// One node per machine, and several people may start it (the node tests of different suites, a
// person's `up`): a start-up would tear down a node another run is using. The lock file names the
// process that owns the node; a start waits while that process lives. A detached node (`up
// --detach`) is left for whoever comes next: the next start replaces it, as a second `up` does.
// A dead owner's lock is stale and taken over.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { cmdline } from './processes.js';

const LOCK = '/run/ocsp-operator-node.lock';

async function owner(): Promise<number | undefined> {
  const [pid, mode] = (await readFile(LOCK, 'utf8').catch(() => '')).trim().split(' ');
  return Number(pid) > 0 && mode !== 'detached' ? Number(pid) : undefined;
}

async function alive(pid: number): Promise<boolean> {
  return (await cmdline(pid)) !== undefined;
}

/** The live process (not this one) that holds the node, if any: its pid and command line. */
export async function nodeLockHolder(): Promise<{ pid: number; command: string } | undefined> {
  const pid = await owner();
  if (pid === undefined || pid === process.pid) return undefined;
  const argv = await cmdline(pid);
  return argv ? { pid, command: argv.slice(0, 4).join(' ') } : undefined;
}

/** Takes the node for this process, waiting up to `timeoutMs` for another live owner to let go. */
export async function acquireNodeLock(log: (m: string) => void, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let said = 0;
  for (;;) {
    try {
      await writeFile(LOCK, `${process.pid}\n`, { flag: 'wx' });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = await owner();
    if (pid === process.pid) return;
    if (pid === undefined || !(await alive(pid))) {
      await rm(LOCK, { force: true }); // stale (its owner is gone) or a detached node's
      continue;
    }
    const what = ((await cmdline(pid)) ?? []).slice(0, 3).join(' ');
    if (Date.now() > deadline) throw new Error(`the node is in use by pid ${pid} (${what}); \`node-cluster.js down\` stops it`);
    if (Date.now() - said > 60_000) {
      log(`node: waiting for the run of pid ${pid} (${what}) to finish with the node`);
      said = Date.now();
    }
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

/** A detached node outlives this process and belongs to nobody: the next start replaces it. */
export async function detachNodeLock(): Promise<void> {
  await writeFile(LOCK, `${process.pid} detached\n`);
}

/** Lets go of the node, if this process (or nobody alive any more) holds it. */
export async function releaseNodeLock(): Promise<void> {
  const pid = await owner();
  if (pid === undefined || pid === process.pid || !(await alive(pid))) await rm(LOCK, { force: true });
}
