import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cpuQuota, workersForCpuLimit } from '../../src/responder/cpu-limit.js';

describe('workers from the CPU limit', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  /** A fake cgroup mount with the given files. */
  async function cgroup(files: Record<string, string>): Promise<string> {
    const root = await mkdtemp(join(tmpdir(), 'cgroup-'));
    dirs.push(root);
    for (const [path, text] of Object.entries(files)) {
      await mkdir(join(root, path, '..'), { recursive: true });
      await writeFile(join(root, path), `${text}\n`);
    }
    return root;
  }

  it('reads cgroup v2 cpu.max', async () => {
    expect(cpuQuota(await cgroup({ 'cpu.max': '150000 100000' }))).toBe(1.5);
    expect(cpuQuota(await cgroup({ 'cpu.max': 'max 100000' }))).toBeUndefined();
  });

  it('reads cgroup v1 cfs quota and period, under cpu or cpu,cpuacct', async () => {
    expect(cpuQuota(await cgroup({ 'cpu/cpu.cfs_quota_us': '200000', 'cpu/cpu.cfs_period_us': '100000' }))).toBe(2);
    expect(cpuQuota(await cgroup({ 'cpu,cpuacct/cpu.cfs_quota_us': '50000', 'cpu,cpuacct/cpu.cfs_period_us': '100000' }))).toBe(0.5);
    expect(cpuQuota(await cgroup({ 'cpu/cpu.cfs_quota_us': '-1', 'cpu/cpu.cfs_period_us': '100000' }))).toBeUndefined();
  });

  it('has no quota without a cgroup', async () => {
    expect(cpuQuota(await cgroup({}))).toBeUndefined();
  });

  it('rounds the quota down, at least one worker, never more than the cores', () => {
    expect(workersForCpuLimit(1.5, 8)).toBe(1);
    expect(workersForCpuLimit(0.25, 8)).toBe(1);
    expect(workersForCpuLimit(4, 8)).toBe(4);
    expect(workersForCpuLimit(16, 2)).toBe(2);
    expect(workersForCpuLimit(undefined, 3)).toBe(3);
  });
});
