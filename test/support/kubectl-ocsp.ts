// `kubectl ocsp` as a user types it: the real kubectl finds bin/kubectl-ocsp on the PATH.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { inject } from 'vitest';
import { repoRoot } from '../../src/devenv/control-plane.js';
import { kubeconfigPath } from './kube.js';

/** The repository's bin/, where kubectl-ocsp lives. */
export const BIN = join(repoRoot(), 'bin');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function exec(cmd: string, args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** `kubectl ocsp ARGS` with bin/ on the PATH and KUBECONFIG set. */
export function kubectlOcsp(args: string[], kubeconfig = kubeconfigPath()): Promise<Run> {
  return exec(join(inject('kubeBinDir'), 'kubectl'), ['ocsp', ...args], {
    PATH: `${BIN}:${process.env.PATH ?? ''}`,
    KUBECONFIG: kubeconfig,
  });
}

/** The value printed after `key:` (whatever the padding), first occurrence. */
export function field(out: string, key: string): string | undefined {
  const esc = key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^\\s*${esc}:\\s+(.*)$`, 'm').exec(out)?.[1];
}
