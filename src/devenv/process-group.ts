// Stopping a server that forks (nginx, `openssl ocsp -multi`): it was spawned `detached`, so it
// leads a process group of its own; SIGTERM goes to the whole group, SIGKILL after a grace period
// to whatever is left (a master that ignored SIGTERM, workers it left behind).
import type { ChildProcess } from 'node:child_process';

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (!child.pid) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is gone
  }
}

export async function stopProcessGroup(child: ChildProcess, graceMs = 3_000): Promise<void> {
  if (!child.pid) return;
  const running = child.exitCode === null && child.signalCode === null;
  const exited = running ? new Promise<void>((r) => child.once('exit', () => r())) : Promise.resolve();
  if (running) {
    signalGroup(child, 'SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, graceMs))]);
  }
  signalGroup(child, 'SIGKILL');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 2_000))]);
}
