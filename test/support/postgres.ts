// Starts a real PostgreSQL primary and a streaming replica for tests (Debian's postgresql package:
// /usr/lib/postgresql/<version>/bin): initdb, the primary on a free 127.0.0.1 port, pg_basebackup
// -R for the replica on another, each in one temp dir, all stopped and removed by stop(). As root
// (CI) the servers run as the `postgres` user the package creates: PostgreSQL refuses to run as root.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chown, mkdtemp, readdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './redis.js';

const run = promisify(execFile);

export interface PgServer {
  port: number;
  process: ChildProcess;
  /** A superuser URL (trust authentication on 127.0.0.1). */
  url: string;
  /** Runs one statement as the superuser on its own connection. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export interface PgPair {
  primary: PgServer;
  replica: PgServer;
  /** Resolves once the replica has replayed everything the primary had written when called. */
  waitReplayed(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** The newest PostgreSQL server binaries installed by Debian's packages. */
export async function postgresBin(): Promise<string> {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? (await readdir(root)).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  const bin = versions.map((v) => join(root, v, 'bin')).find((b) => existsSync(join(b, 'initdb')));
  if (!bin) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql: run hack/install-system-deps.sh');
  return bin;
}

async function owner(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const { stdout } = await run('id', ['-u', 'postgres']);
  const { stdout: g } = await run('id', ['-g', 'postgres']);
  return { uid: Number(stdout.trim()), gid: Number(g.trim()) };
}

function queryOn(url: string) {
  return async <R extends pg.QueryResultRow>(sql: string, values?: unknown[]) => {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
    await c.connect();
    try {
      return await c.query<R>(sql, values);
    } finally {
      await c.end();
    }
  };
}

async function startServer(
  bin: string,
  dataDir: string,
  socketDir: string,
  as: { uid: number; gid: number } | undefined,
): Promise<PgServer> {
  const port = await freePort();
  // fsync off and small buffers: test data, two cores shared with other servers. Commits stay
  // synchronous: a commit that returned is in the WAL the replica streams.
  const args = [
    '-D',
    dataDir,
    '-p',
    String(port),
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    `unix_socket_directories=${socketDir}`,
    '-c',
    'fsync=off',
    '-c',
    'full_page_writes=off',
    '-c',
    'shared_buffers=16MB',
    '-c',
    'max_connections=20',
    '-c',
    'logging_collector=off',
    '-c',
    'log_min_messages=warning',
    '-c',
    'wal_level=replica',
    '-c',
    'max_wal_senders=4',
    '-c',
    'hot_standby=on',
  ];
  const proc = spawn(join(bin, 'postgres'), args, { stdio: ['ignore', 'ignore', 'pipe'], ...(as ?? {}) });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const query = queryOn(url);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`postgres on ${port} exited: ${stderr}`);
    try {
      await query('SELECT 1');
      break;
    } catch {
      // starting, or (a replica) not yet consistent
    }
    if (Date.now() > deadline) throw new Error(`postgres on ${port} did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, process: proc, url, query };
}

async function stopServer(s: PgServer | undefined): Promise<void> {
  if (!s || s.process.exitCode !== null) return;
  const exited = new Promise((res) => s.process.once('exit', res));
  s.process.kill('SIGINT'); // fast shutdown
  const t = setTimeout(() => s.process.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(t);
}

/** A primary and one streaming replica of it, in sync when this resolves. */
export async function startPostgresPair(): Promise<PgPair> {
  const bin = await postgresBin();
  const as = await owner();
  const root = await mkdtemp(join(tmpdir(), 'ocsp-pg-'));
  let primary: PgServer | undefined;
  let replica: PgServer | undefined;
  const stop = async () => {
    await stopServer(replica);
    await stopServer(primary);
    await rm(root, { recursive: true, force: true });
  };
  try {
    if (as) await chown(root, as.uid, as.gid);
    const opts = { ...(as ?? {}), timeout: 60_000 };
    await run(
      join(bin, 'initdb'),
      ['-D', join(root, 'primary'), '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
      opts,
    );
    primary = await startServer(bin, join(root, 'primary'), root, as);
    // -R writes standby.signal and primary_conninfo: the copy starts as a streaming replica.
    await run(
      join(bin, 'pg_basebackup'),
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(primary.port),
        '-U',
        'postgres',
        '-D',
        join(root, 'replica'),
        '-R',
        '-X',
        'stream',
        '-c',
        'fast',
        '--no-sync',
      ],
      opts,
    );
    replica = await startServer(bin, join(root, 'replica'), root, as);
    const pair: PgPair = {
      primary,
      replica,
      async waitReplayed(timeoutMs = 15_000) {
        const target = (await primary!.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0]!.lsn;
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const r = await replica!.query<{ done: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done', [target]);
          if (r.rows[0]?.done) return;
          if (Date.now() > deadline) throw new Error(`replica on ${replica!.port} did not replay up to ${target} within ${timeoutMs} ms`);
          await new Promise((res) => setTimeout(res, 50));
        }
      },
      stop,
    };
    const inRecovery = (await replica.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]?.r;
    if (!inRecovery) throw new Error('the replica is not in recovery');
    await pair.waitReplayed();
    return pair;
  } catch (e) {
    await stop();
    throw e;
  }
}
