// How many worker processes a responder pod should run: as many as the CPU it is given. The
// limit a container runtime sets is a CFS quota (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us` over
// `cpu.cfs_period_us`); os.availableParallelism() sees the node's cores (or the cpuset), not the
// quota, so a pod limited to 2 CPUs on a 64-core node would otherwise fork 64 workers and spend
// its quota being throttled. Without a quota, the cores the process may run on are the limit.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

/**
 * The quota in CPUs (1.5 for a 1500m limit), or undefined when there is none. `root` is the
 * cgroup mount, a parameter so tests can hand a fake one.
 */
export function cpuQuota(root = '/sys/fs/cgroup'): number | undefined {
  const v2 = readText(join(root, 'cpu.max'));
  if (v2 !== undefined) {
    // "max 100000" (no limit) or "<quota> <period>", both in microseconds.
    const [quota, period] = v2.split(/\s+/);
    return ratio(quota, period);
  }
  for (const dir of ['cpu', 'cpu,cpuacct']) {
    const quota = readText(join(root, dir, 'cpu.cfs_quota_us'));
    if (quota !== undefined) return ratio(quota, readText(join(root, dir, 'cpu.cfs_period_us')));
  }
  return undefined;
}

/**
 * Workers for this pod: the quota rounded down (at least 1), never more than the cores the
 * process may use. Down, not up: a pod limited to 1.5 CPUs running 2 busy workers is throttled
 * for the last quarter of every CFS period, and a throttled worker holds every request it has in
 * flight until the next period: exactly the tail latency the workers are there to remove.
 */
export function workersForCpuLimit(quota: number | undefined = cpuQuota(), cores: number = availableParallelism()): number {
  if (quota === undefined) return cores;
  return Math.max(1, Math.min(cores, Math.floor(quota)));
}

function ratio(quota: string | undefined, period: string | undefined): number | undefined {
  const q = Number(quota);
  const p = Number(period);
  // v1 writes -1 and v2 writes "max" for no limit.
  if (!(q > 0) || !(p > 0)) return undefined;
  return q / p;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}
