// The commands' logs (src/runtime/logger.ts) go to stdout line by line: nothing is lost when the
// process exits right after logging (even with process.exit), and a quiet process's line is out
// at once, not held until more arrive. Both are checked on the built module in a child process,
// reading its real stdout pipe; a destination that buffers lines, or one not flushed at exit,
// fails one or the other.
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/devenv/control-plane.js';

const run = promisify(execFile);
const loggerUrl = pathToFileURL(join(repoRoot(), 'dist', 'src', 'runtime', 'logger.js')).href;

const lines = (text: string) =>
  text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { msg: string; i?: number; level: string; name: string; time: string });

describe('createLogger', () => {
  it('loses no line when the process exits right after a burst', async () => {
    const script = `import { createLogger } from ${JSON.stringify(loggerUrl)};
const log = createLogger({ name: 'burst' });
for (let i = 0; i < 20000; i++) log.info({ i, object: 'ns/staple-' + i }, 'staple Secret written');
process.exit(3);`;
    const result = await run(process.execPath, ['--input-type=module', '-e', script], { timeout: 30_000, maxBuffer: 64 << 20 }).then(
      () => undefined,
      (err: { code?: number; stdout?: string }) => err,
    );
    expect(result?.code).toBe(3);
    const got = lines(result?.stdout ?? '');
    expect(got).toHaveLength(20000);
    expect(got.map((l) => l.i)).toEqual(Array.from({ length: 20000 }, (_, i) => i));
    expect(got[0]).toMatchObject({ level: 'info', name: 'burst', msg: 'staple Secret written' });
    expect(Number.isNaN(Date.parse(got[0]?.time ?? ''))).toBe(false);
  });

  it('writes a lone line at once, while the process goes on', async () => {
    // The child logs one line, then waits for its stdin to close: the line must reach the pipe
    // before that, or the parent, waiting for it, would time out.
    const script = `import { createLogger } from ${JSON.stringify(loggerUrl)};
createLogger({ name: 'quiet' }).info('controller running');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const first = await new Promise<string>((resolve, reject) => {
        let text = '';
        const timer = setTimeout(() => reject(new Error(`no log line within 10 s (got ${JSON.stringify(text)})`)), 10_000);
        child.stdout.setEncoding('utf8');
        child.stdout.on('data', (chunk: string) => {
          text += chunk;
          if (text.includes('\n')) {
            clearTimeout(timer);
            resolve(text);
          }
        });
        child.on('exit', (code) => reject(new Error(`the child exited (${code}) before its line arrived`)));
      });
      expect(lines(first)).toEqual([expect.objectContaining({ name: 'quiet', msg: 'controller running' })]);
      expect(child.exitCode).toBeNull(); // still running: the line was not flushed by an exit
    } finally {
      child.stdin.end();
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(undefined)));
    }
  });
});
