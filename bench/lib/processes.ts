// Child processes for the benchmark: start one, wait for the line that says where it listens,
// stop it by its own pid (and only it).
import { spawn, type ChildProcess } from 'node:child_process';

export interface Child {
  proc: ChildProcess;
  line: string;
  stop(): Promise<void>;
}

export async function startChild(
  cmd: string,
  args: string[],
  readyLine: RegExp,
  opts: { cwd?: string; timeoutMs?: number } = {},
): Promise<Child> {
  const proc = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd} did not start: ${err}`)), opts.timeoutMs ?? 15_000);
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = readyLine.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited ${code}: ${err}`));
    });
  });
  proc.removeAllListeners('exit');
  return {
    proc,
    line,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(t);
    },
  };
}
