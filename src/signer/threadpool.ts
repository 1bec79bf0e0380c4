// libuv's threadpool runs pkcs11js's C_SignAsync (and fs, dns, crypto work). Its size comes from
// UV_THREADPOOL_SIZE, read once, the first time the pool is used — and Node uses it while loading
// modules, long before any of our code runs. So it cannot be raised from inside the process: the
// signer command re-executes itself with the variable set when it is too small for its sessions.
import { spawn } from 'node:child_process';

const MARK = 'OCSP_SIGNER_THREADPOOL_SET';

/** Threads for `sessions` concurrent signatures plus a few for the store's file I/O. */
export function threadpoolSizeFor(sessions: number): number {
  return Math.min(1024, sessions + 2);
}

/**
 * Undefined when this process already has a large enough threadpool; otherwise runs this same
 * command in a child with UV_THREADPOOL_SIZE set, forwards SIGINT/SIGTERM, and resolves with the
 * child's exit code.
 */
export function ensureThreadpool(size: number): Promise<number> | undefined {
  const current = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  if (current >= size || process.env[MARK] === '1') return undefined;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: { ...process.env, UV_THREADPOOL_SIZE: String(size), [MARK]: '1' },
    });
    const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
    const onInt = forward('SIGINT');
    const onTerm = forward('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(code ?? (signal ? 128 + (signal === 'SIGKILL' ? 9 : 15) : 1));
    });
  });
}
