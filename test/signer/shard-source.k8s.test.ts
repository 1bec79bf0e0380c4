// A signer's share from its StatefulSet, against the real apiserver, with nothing but the Role a
// Redis pool gives its pods (rendered by src/pool/workloads.ts) and a token for its
// ServiceAccount: one GET and one watch follow every scale; other StatefulSets stay out of reach;
// with the apiserver cut off the last known share stays (said once in the log) and the new count
// is learned once it is reachable again.
import { createServer, connect, type Socket } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeApiError, KubeClient } from '../../src/kube/client.js';
import { loadKubeConfig } from '../../src/kube/config.js';
import type { KubeObject } from '../../src/kube/types.js';
import { StatefulSetType } from '../../src/kube/types.js';
import { StatefulSetShare } from '../../src/signer/shard-source.js';
import { createNamespace, kubeClient, serviceAccountKubeconfig, waitFor } from '../support/kube.js';
import { renderPool, MINIMAL_REDIS_POOL_SPEC } from '../support/pool-render.js';

const admin = kubeClient();

/** A TCP proxy on 127.0.0.1 that can cut every connection and refuse new ones, as a lost network does. */
async function cuttableProxy(target: URL): Promise<{ port: number; cut(): void; restore(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let cut = false;
  const server = createServer((client) => {
    if (cut) return void client.destroy();
    const upstream = connect(Number(target.port || 443), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : 0,
    cut() {
      cut = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      cut = false;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

function statefulSet(namespace: string, name: string, replicas: number): KubeObject & Record<string, unknown> {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, namespace },
    spec: {
      replicas,
      serviceName: name,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: 'c', image: 'unused:1' }] } },
    },
  };
}

describe("StatefulSetShare with the pool pods' Role", () => {
  let ns: { name: string; remove(): Promise<void> };
  let dir: string;
  let sa: KubeClient;
  let proxy: Awaited<ReturnType<typeof cuttableProxy>>;
  const lines: Array<Record<string, unknown>> = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    }),
  );

  beforeAll(async () => {
    ns = await createNamespace(admin, 'share');
    dir = await mkdtemp(join(tmpdir(), 'ocsp-share-'));
    // What the operator applies for a Redis pool `ca`: its ServiceAccount, Role and RoleBinding.
    const { workloads } = renderPool(MINIMAL_REDIS_POOL_SPEC, { name: 'ca', namespace: ns.name });
    for (const w of workloads.filter((x) => ['ServiceAccount', 'Role', 'RoleBinding'].includes(x.object.kind ?? ''))) {
      // no owner here: the pool object does not exist in this test
      await admin.create(w.type, { ...w.object, metadata: { ...w.object.metadata, ownerReferences: undefined } });
    }
    await admin.create(StatefulSetType, statefulSet(ns.name, 'ca-signer', 2));
    await admin.create(StatefulSetType, statefulSet(ns.name, 'other', 5));
    // The ServiceAccount's token, through a proxy this test can cut.
    const file = await serviceAccountKubeconfig(admin, ns.name, 'ca', dir);
    const server = new URL(loadKubeConfig(file).getCurrentCluster()!.server);
    proxy = await cuttableProxy(server);
    const proxied = join(dir, 'proxied.kubeconfig');
    await writeFile(proxied, (await readFile(file, 'utf8')).replace(/server: .*/, `server: https://127.0.0.1:${proxy.port}`), {
      mode: 0o600,
    });
    sa = new KubeClient(loadKubeConfig(proxied), { timeoutMs: 5_000 });
  }, 60_000);

  afterAll(async () => {
    await proxy?.close();
    await ns?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('learns 1/2, follows 3 and 1 through one watch; cannot read another StatefulSet or list them', async () => {
    const share = new StatefulSetShare({
      client: sa,
      namespace: ns.name,
      name: 'ca-signer',
      podName: 'ca-signer-1',
      log,
      backoff: { baseDelayMs: 100, maxDelayMs: 500 },
    });
    share.start();
    try {
      expect(await share.ready()).toBe(true);
      expect(share.current()).toEqual({ index: 1, count: 2 });
      const scale = (n: number) => admin.mergePatch(StatefulSetType, { namespace: ns.name, name: 'ca-signer' }, { spec: { replicas: n } });
      await scale(3);
      await waitFor('share 1/3', () => share.current().count === 3, 10_000, 20);
      await scale(1);
      await waitFor('share 1/1 (nothing)', () => share.current().count === 1, 10_000, 20);
      expect(share.requests, 'one GET, then the watch carried both changes').toEqual({ gets: 1, watches: 1 });

      const denied = async (p: Promise<unknown>) =>
        p.then(
          () => 200,
          (e: unknown) => (e instanceof KubeApiError ? e.status : String(e)),
        );
      expect(await denied(sa.get(StatefulSetType, ns.name, 'other')), 'another StatefulSet').toBe(403);
      expect(await denied(sa.list(StatefulSetType, { namespace: ns.name })), 'a list of them').toBe(403);
      expect(
        await denied(sa.mergePatch(StatefulSetType, { namespace: ns.name, name: 'ca-signer' }, { spec: { replicas: 9 } })),
        'a write',
      ).toBe(403);
    } finally {
      share.stop();
    }
  });

  it('cut off from the apiserver: keeps the last share (logged once), learns the new count when reachable again', async () => {
    const share = new StatefulSetShare({
      client: sa,
      namespace: ns.name,
      name: 'ca-signer',
      podName: 'ca-signer-0',
      log,
      backoff: { baseDelayMs: 100, maxDelayMs: 400 },
    });
    share.start();
    try {
      expect(await share.ready()).toBe(true);
      const before = share.current();
      const gets = share.requests.gets;
      proxy.cut();
      await admin.mergePatch(StatefulSetType, { namespace: ns.name, name: 'ca-signer' }, { spec: { replicas: 4 } });
      // Several failed reads (the watch ended, then GETs refused), each one kept the share.
      await waitFor('three failed reads', () => share.requests.gets >= gets + 3, 15_000, 50);
      expect(share.current(), 'the last known share, not a guess').toEqual(before);
      const warnings = lines.filter((l) => l.msg === 'cannot read the StatefulSet; keeping the last known share');
      expect(warnings, 'said once').toHaveLength(1);
      expect(warnings[0]?.keeping).toBe(`0/${before.count}`);
      proxy.restore();
      await waitFor('share 0/4 after the apiserver is back', () => share.current().count === 4, 15_000, 50);
      expect(lines.some((l) => l.msg === 'StatefulSet readable again')).toBe(true);
    } finally {
      share.stop();
    }
  });
});
