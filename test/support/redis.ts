// Starts real redis-server processes for tests: one primary and N replicas on 127.0.0.1 random
// ports, no persistence, each in its own temp dir, all stopped by stop().
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../../src/devenv/control-plane.js';

export interface RedisNode {
  port: number;
  process: ChildProcess;
  /** An admin connection (for INFO, REPLICAOF, ...). */
  admin: Redis;
}

export interface RedisCluster {
  primary: RedisNode;
  replicas: RedisNode[];
  /** Wait until the replica's link is up and its offset reached the primary's. */
  waitInSync(replica: RedisNode, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

// One port picker for the whole project (below the ephemeral range: see src/devenv/control-plane.ts).
export { freePort };

async function startNode(dir: string, replicaOf?: number): Promise<RedisNode> {
  const port = await freePort();
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--dbfilename',
    `dump-${port}.rdb`,
    '--protected-mode',
    'yes',
    '--daemonize',
    'no',
    '--loglevel',
    'warning',
  ];
  if (replicaOf !== undefined) args.push('--replicaof', '127.0.0.1', String(replicaOf));
  const proc = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const admin = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  admin.on('error', () => undefined);
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited: ${stderr}`);
    try {
      if (admin.status === 'wait') await admin.connect();
      if ((await admin.ping()) === 'PONG') break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, process: proc, admin };
}

function field(info: string, key: string): string | undefined {
  return new RegExp(`^${key}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

export async function startRedisCluster(replicas = 2): Promise<RedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'ocsp-redis-'));
  const primary = await startNode(dir);
  const nodes: RedisNode[] = [];
  for (let i = 0; i < replicas; i++) nodes.push(await startNode(dir, primary.port));
  const cluster: RedisCluster = {
    primary,
    replicas: nodes,
    async waitInSync(replica, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const r = await replica.admin.info('replication');
        const p = await primary.admin.info('replication');
        if (field(r, 'master_link_status') === 'up' && field(r, 'slave_repl_offset') === field(p, 'master_repl_offset')) return;
        if (Date.now() > deadline) throw new Error(`replica ${replica.port} not in sync:\n${r}`);
        await new Promise((res) => setTimeout(res, 50));
      }
    },
    async stop() {
      for (const n of [...nodes, primary]) {
        n.admin.disconnect();
        if (n.process.exitCode === null) {
          const exited = new Promise((res) => n.process.once('exit', res));
          n.process.kill('SIGTERM');
          const t = setTimeout(() => n.process.kill('SIGKILL'), 3_000);
          await exited;
          clearTimeout(t);
        }
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  for (const r of nodes) await cluster.waitInSync(r);
  return cluster;
}

export interface PausableProxy {
  port: number;
  /** Stop moving bytes in both directions; connections stay open (a silently stalled link). */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy on 127.0.0.1 in front of `targetPort`. Pausing it stalls replication the way the
 * incident's replicas stalled: the replica still believes its link is up, data just stops.
 */
export async function startPausableProxy(targetPort: number): Promise<PausableProxy> {
  const { createServer: createTcpServer, connect } = await import('node:net');
  const pairs = new Set<[import('node:net').Socket, import('node:net').Socket]>();
  let paused = false;
  const server = createTcpServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const pair: [typeof client, typeof upstream] = [client, upstream];
    pairs.add(pair);
    if (!paused) {
      client.pipe(upstream);
      upstream.pipe(client);
    }
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return {
    port,
    pause() {
      paused = true;
      for (const [a, b] of pairs) {
        a.unpipe(b);
        b.unpipe(a);
        a.pause();
        b.pause();
      }
    },
    resume() {
      paused = false;
      for (const [a, b] of pairs) {
        a.pipe(b);
        b.pipe(a);
      }
    },
    async close() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
