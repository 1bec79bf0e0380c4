// What a node run leaves on the host besides its network (network.ts): mounts under its
// directories, processes in the pods' cgroups and containerd's shims, the kubepods cgroups, and
// its state. Used by teardown (in that order) and by the leftovers check.
import { readFile, readdir, realpath, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { RUN_DIR, STATE_DIR } from './config.js';
import { cmdline, processesMatching, sh } from './processes.js';

const CGROUP_ROOT = '/sys/fs/cgroup';
const POD_CGROUP = 'kubepods';

/** Mount points the node made: under its directories, and the pods' network namespaces. */
export async function nodeMounts(): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const ours = (p: string) =>
    p === STATE_DIR ||
    p.startsWith(`${STATE_DIR}/`) ||
    p === RUN_DIR ||
    p.startsWith(`${RUN_DIR}/`) ||
    /^\/(var\/)?run\/netns\/cni-/.test(p);
  const points = info
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter(ours);
  return [...new Set(points)];
}

/** Unmounts them, deepest first, lazily when a plain unmount is refused. */
export async function unmountAll(): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const points = (await nodeMounts()).sort((a, b) => b.length - a.length);
    if (points.length === 0) return;
    for (const p of points) {
      if ((await sh('umount', [p])).code !== 0) await sh('umount', ['-l', p]);
    }
  }
}

/** The cgroup v1 hierarchies (and the v2 one, if mounted) that hold a kubepods tree. */
async function podCgroupRoots(): Promise<string[]> {
  const roots = new Set<string>();
  for (const entry of await readdir(CGROUP_ROOT).catch(() => [] as string[])) {
    const real = await realpath(join(CGROUP_ROOT, entry)).catch(() => undefined);
    if (real && (await readdir(join(real, POD_CGROUP)).catch(() => undefined))) roots.add(join(real, POD_CGROUP));
  }
  if (await readdir(join(CGROUP_ROOT, POD_CGROUP)).catch(() => undefined)) roots.add(join(CGROUP_ROOT, POD_CGROUP));
  return [...roots];
}

/** Every cgroup directory below (and including) `dir`, deepest first. */
async function cgroupTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (e.isDirectory()) out.push(...(await cgroupTree(join(dir, e.name))));
  }
  out.push(dir);
  return out;
}

/** Processes still in the pods' cgroups. */
export async function podProcesses(): Promise<number[]> {
  const pids = new Set<number>();
  for (const root of await podCgroupRoots()) {
    for (const dir of await cgroupTree(root)) {
      const procs = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
      for (const l of procs.split('\n')) if (Number(l) > 1) pids.add(Number(l));
    }
  }
  return [...pids];
}

/** SIGKILLs what runs in the pods' cgroups (a container whose shim died first, a killed run). */
export async function killPodProcesses(): Promise<void> {
  for (let round = 0; round < 20; round++) {
    const pids = await podProcesses();
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function podCgroups(): Promise<string[]> {
  return podCgroupRoots();
}

/** Removes the kubepods cgroups, deepest first (only empty cgroups can go). */
export async function removePodCgroups(): Promise<void> {
  for (const root of await podCgroupRoots()) {
    for (const dir of await cgroupTree(root)) await rmdir(dir).catch(() => {});
  }
}

/** Processes of the node: everything whose command line names its directories (every daemon and
 *  containerd's shims do), and whatever runs in the pods' cgroups. */
export async function nodeProcesses(): Promise<Array<{ pid: number; command: string }>> {
  const pids = new Set([...(await processesMatching(STATE_DIR)), ...(await processesMatching(RUN_DIR)), ...(await podProcesses())]);
  const out: Array<{ pid: number; command: string }> = [];
  for (const pid of pids) {
    const argv = await cmdline(pid);
    if (argv) out.push({ pid, command: argv.slice(0, 3).join(' ') });
  }
  return out;
}

/** The node's state, but for its logs; refuses while anything is still mounted there. */
export async function removeState(): Promise<void> {
  const left = await nodeMounts();
  if (left.length > 0) throw new Error(`not removing ${STATE_DIR}: still mounted there: ${left.join(', ')}`);
  for (const e of await readdir(STATE_DIR).catch(() => [] as string[])) {
    if (e !== 'logs') await rm(join(STATE_DIR, e), { recursive: true, force: true });
  }
  await rm(RUN_DIR, { recursive: true, force: true });
}
