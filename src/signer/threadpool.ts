// libuv's threadpool runs pkcs11js's C_SignAsync (and fs, dns, crypto work). Its size comes from
// UV_THREADPOOL_SIZE, read once, the first time the pool is used — and Node uses it while loading
// modules, long before any of our code runs. So it cannot be raised from inside the process: the
// signer command re-executes itself with the variable set when it is too small for its sessions.
// Pods set the variable themselves (src/pool/workloads.ts), so this is for hand-run signers.
// The child must not outlive the parent (a SIGKILLed parent would leave it signing as an orphan,
// a second writer beside the restarted signer): it holds one end of a pipe whose other end only
// the parent has, and stops when that end closes, which the kernel does however the parent dies.
import { spawn } from 'node:child_process';
import { Socket } from 'node:net';

const MARK = 'OCSP_SIGNER_THREADPOOL_SET';
/** Names the child's fd of the pipe from its parent: 3 (stdin, stdout, stderr, then this). */
const PARENT_FD = 'OCSP_SIGNER_PARENT_FD';
/** After the parent is gone: how long the clean stop (SIGTERM's path) gets before a hard exit. */
const ORPHAN_GRACE_MS = 3000;

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
  if (process.env[MARK] === '1') {
    dieWithParent();
    return undefined;
  }
  const current = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  if (current >= size) return undefined;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      // The extra pipe is never written: its only message is its end (see dieWithParent).
      stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
      env: { ...process.env, UV_THREADPOOL_SIZE: String(size), [MARK]: '1', [PARENT_FD]: '3' },
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

/**
 * In the re-executed child: when the parent's end of the pipe closes (the parent exited or was
 * killed), stop as on SIGTERM (the signer's handler ends the round loop and closes the store), and
 * exit regardless after a grace period. The pipe does not keep the process alive on its own.
 */
function dieWithParent(): void {
  const fd = Number(process.env[PARENT_FD]);
  // Not from ensureThreadpool (the mark set by hand): there is no parent to follow.
  if (!Number.isInteger(fd) || fd < 3) return;
  // Not passed on to anything this process starts.
  delete process.env[PARENT_FD];
  const pipe = new Socket({ fd, readable: true, writable: false });
  let gone = false;
  const onGone = () => {
    if (gone) return;
    gone = true;
    process.kill(process.pid, 'SIGTERM');
    setTimeout(() => process.exit(143), ORPHAN_GRACE_MS).unref();
  };
  pipe.on('end', onGone);
  pipe.on('close', onGone);
  pipe.on('error', onGone);
  pipe.resume();
  pipe.unref();
}
