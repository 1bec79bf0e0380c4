// `openssl ocsp -index … -port` for the benchmark. With -multi the master puts itself and its
// workers in a process group of its own (so it must not be spawned detached: a session leader
// cannot do that) and does not stop its workers on SIGTERM, so stop() kills that whole group.
import { spawn } from 'node:child_process';
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { OPENSSL, postOcsp } from '../../test/support/openssl.js';
import { indexTxt, type Ca, type IndexEntry } from '../../test/support/pki.js';
import type { Child } from './processes.js';

export async function startOpenssl(o: {
  dir: string;
  port: number;
  ca: Ca;
  entries: IndexEntry[];
  multi?: number;
  probe: Uint8Array;
}): Promise<Child> {
  const cwd = join(o.dir, `openssl-${o.port}`);
  await mkdir(cwd, { recursive: true });
  await Promise.all([
    writeFile(join(cwd, 'index.txt'), indexTxt(o.entries)),
    writeFile(join(cwd, 'index.txt.attr'), 'unique_subject = no\n'),
    writeFile(join(cwd, 'ca.pem'), o.ca.certPem),
    writeFile(join(cwd, 'key.pem'), o.ca.keyPem),
  ]);
  const args = [
    'ocsp',
    '-index',
    'index.txt',
    '-port',
    String(o.port),
    '-CA',
    'ca.pem',
    '-rsigner',
    'ca.pem',
    '-rkey',
    'key.pem',
    '-ndays',
    '1',
    '-ignore_err',
  ];
  if (o.multi) args.push('-multi', String(o.multi));
  const proc = spawn(OPENSSL, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const pgid = proc.pid!;
  const stop = async (): Promise<void> => {
    const exited = proc.exitCode === null && proc.signalCode === null ? new Promise((r) => proc.once('exit', r)) : Promise.resolve();
    if (o.multi) {
      try {
        process.kill(-pgid, 'SIGKILL'); // the master's group: the master and its workers, nothing else
      } catch {
        // already gone
      }
    }
    proc.kill('SIGKILL');
    await exited;
  };
  // Probe with a whole request: an empty connection makes this responder spin.
  const url = `http://127.0.0.1:${o.port}/`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`openssl exited ${proc.exitCode}: ${err}`);
    try {
      if ((await postOcsp(url, o.probe, 2_000)).status === 200) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`openssl ocsp did not answer: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { proc, line: url, stop };
}
