// Memory and CPU of one process from /proc (Linux): resident set now and its high-water mark
// (VmRSS, VmHWM from /proc/<pid>/status) and CPU seconds used (utime + stime from /proc/<pid>/stat).
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS = 100; // USER_HZ on Linux

export interface ProcSample {
  rssBytes: number;
  hwmBytes: number;
  cpuSeconds: number;
}

/** undefined once the process is gone. */
export function procSample(pid: number): ProcSample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the ")" that closes comm: state is field 3, utime 14, stime 15
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(rest[11] ?? 0) + Number(rest[12] ?? 0);
    return { rssBytes: kb('VmRSS'), hwmBytes: kb('VmHWM'), cpuSeconds: ticks / CLOCK_TICKS };
  } catch {
    return undefined;
  }
}

export const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(0);

/** CPU seconds used so far by a process and every process below it (a server's master and workers). */
export function treeCpuSeconds(pid: number): number {
  let total = procSample(pid)?.cpuSeconds ?? 0;
  let children: string[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    // gone, or a kernel without /proc/<pid>/task/<tid>/children
  }
  for (const c of children) total += treeCpuSeconds(Number(c));
  return total;
}

/** Pids of the processes whose command line contains every one of `parts` (read from /proc). */
export function pidsWithArgs(parts: string[]): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return out;
  }
  for (const e of entries) {
    try {
      const args = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (parts.every((p) => args.some((a) => a.includes(p)))) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
