// The node's daemons: each a process group of its own, its output in logs/<name>.log and its pid
// in pids/<name>.pid, so that `down` (another process, maybe after this one was killed) can stop
// it. A pid is only signalled while /proc says it still runs the binary it was started as.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startProcess } from '../control-plane.js';
import { paths } from './config.js';

export interface Daemon {
  name: string;
  child: ChildProcess;
  logFile: string;
}

export function logFile(name: string): string {
  return join(paths.logs, `${name}.log`);
}

export function pidFile(name: string): string {
  return join(paths.pids, `${name}.pid`);
}

export function startDaemon(name: string, bin: string, args: string[]): Daemon {
  const child = startProcess(bin, args, logFile(name), pidFile(name));
  return { name, child, logFile: logFile(name) };
}

/** The last lines of a component's log, for error messages. */
export async function logTail(name: string, lines = 15): Promise<string> {
  const text = await readFile(logFile(name), 'utf8').catch(() => '');
  return text
    .split('\n')
    .slice(-lines - 1)
    .join('\n');
}

/** The command line of a running process, or undefined when it is gone (or a zombie). */
export async function cmdline(pid: number): Promise<string[] | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    if (/^State:\s+Z/m.test(status)) return undefined;
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return raw ? raw.split('\0').filter(Boolean) : undefined;
  } catch {
    return undefined;
  }
}

function signal(pid: number, sig: NodeJS.Signals, group: boolean): void {
  try {
    process.kill(group ? -pid : pid, sig);
  } catch {
    // already gone
  }
}

/** Stops one process: SIGTERM (to its group), SIGKILL after `graceMs`. Resolves once it is gone. */
export async function stopPid(pid: number, graceMs: number, group = true): Promise<void> {
  const alive = async () => (await cmdline(pid)) !== undefined;
  if (!(await alive())) return;
  signal(pid, 'SIGTERM', group);
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!(await alive())) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  signal(pid, 'SIGKILL', group);
  signal(pid, 'SIGKILL', false);
  for (let i = 0; i < 50 && (await alive()); i++) await new Promise((r) => setTimeout(r, 100));
}

/** The pid of a daemon from its pid file, if that pid still runs the daemon's binary. */
async function daemonPid(name: string): Promise<number | undefined> {
  const pid = Number((await readFile(pidFile(name), 'utf8').catch(() => '')).trim());
  if (!(pid > 1)) return undefined;
  const argv = await cmdline(pid);
  // pid files are named after the binary: a recycled pid running something else is left alone
  return argv?.[0]?.endsWith(`/${name}`) || argv?.[0] === name ? pid : undefined;
}

export async function daemonRunning(name: string): Promise<boolean> {
  return (await daemonPid(name)) !== undefined;
}

/** Stops the daemon a pid file names, if it still runs what it was started as. */
export async function stopDaemon(name: string, graceMs = 10_000): Promise<boolean> {
  const pid = await daemonPid(name);
  if (pid !== undefined) await stopPid(pid, graceMs);
  await rm(pidFile(name), { force: true });
  return pid !== undefined;
}

/** The daemons that have pid files. */
export async function daemonsWithPidFiles(): Promise<string[]> {
  const files = await readdir(paths.pids).catch(() => [] as string[]);
  return files.filter((f) => f.endsWith('.pid')).map((f) => f.slice(0, -'.pid'.length));
}

/** Every running process whose command line contains `needle` (for containerd's shims). */
export async function processesMatching(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) continue;
    const argv = await cmdline(pid);
    if (argv?.some((a) => a.includes(needle))) pids.push(pid);
  }
  return pids;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command (with `input` on its stdin) and returns its exit code and output; never throws. */
export function sh(cmd: string, args: string[], timeoutMs = 60_000, input?: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: e.message });
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128, stdout, stderr: sig ? `${stderr}killed by ${sig}` : stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Runs a command that must succeed; returns its stdout. */
export async function shOk(cmd: string, args: string[], timeoutMs = 60_000): Promise<string> {
  const r = await sh(cmd, args, timeoutMs);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** An error that ends a wait at once (the process waited for has exited). */
export function fatal(message: string): Error {
  return Object.assign(new Error(message), { fatal: true });
}

/** Polls `probe` until it returns something other than undefined/false; fails naming `what`,
 *  at once when the probe throws a `fatal` error. */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs: number,
  intervalMs = 250,
  detail?: () => Promise<string>,
  signal?: AbortSignal,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    if (signal?.aborted) throw new Error(`stopped waiting for ${what}`);
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastError = err;
      if ((err as { fatal?: boolean }).fatal) {
        const more = detail ? `\n${await detail().catch(() => '')}` : '';
        throw new Error(`gave up waiting for ${what}: ${(err as Error).message}${more}`);
      }
    }
    if (Date.now() > deadline) {
      const more = detail ? `\n${await detail().catch(() => '')}` : '';
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}${more}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
