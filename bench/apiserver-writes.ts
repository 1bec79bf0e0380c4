// What each kind of request the staple controller makes costs the apiserver and etcd, against the
// write the staple benchmark's peer makes (a plain create of a 4 KiB Secret). No operator runs: a
// minimal client sends each kind N times, 8 in flight, and the CPU of kube-apiserver and etcd
// (from /proc) is divided by N. It also prints what the requests of one staple's fill (GET source
// Secret, create staple Secret, status PUT, Event) and of its refresh (PUT staple Secret, status
// PUT) cost the server against the peer's writes: the part of the staple benchmark's ratio that no
// work in the operator can change. Server-side apply of the staple Secret, which the controller
// used before, is measured beside the POST and PUT it uses now.
//   node dist/bench/apiserver-writes.js [--requests N] [--rounds R]
//   --requests N  requests of each kind a round (default 1000)
//   --rounds R    rounds, alternating the kinds' order; medians reported (default 3)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { API_GROUP_VERSION } from '../src/api/group.js';
import { startControlPlane } from '../src/devenv/control-plane.js';
import { installCrds } from '../src/devenv/crds.js';
import { KubeClient } from '../src/kube/client.js';
import { slim } from '../src/kube/informer.js';
import { loadKubeConfig } from '../src/kube/config.js';
import { EventType, NamespaceType, OcspStapleType, SecretType, type KubeObject, type Secret } from '../src/kube/types.js';
import { controlPlaneCpu } from './lib/control-plane-cpu.js';

const { values: flags } = parseArgs({
  options: {
    requests: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
  },
});
const N = Number(flags.requests);
const ROUNDS = Number(flags.rounds);
const IN_FLIGHT = 8;
const NS = 'bench-apiserver-writes';

const log = (msg: string) => console.error(`${new Date().toISOString().slice(11, 19)} ${msg}`);
const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const b64 = (bytes: number, fill: number) => Buffer.alloc(bytes, fill).toString('base64');

/** A staple Secret's shape and size as the controller writes it (staple/staple-secret.ts). */
function stapleSecret(name: string, generation: number): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: {
      name,
      namespace: NS,
      labels: { 'ocsp-operator.dev/staple': name, 'app.kubernetes.io/managed-by': 'ocsp-operator' },
      annotations: {
        'ocsp-operator.dev/serial': '0a1b2c3d4e5f',
        'ocsp-operator.dev/sha256': 'a'.repeat(64),
        'ocsp-operator.dev/staple-sha256': `${generation}`.padStart(64, '0'),
      },
      ownerReferences: [
        {
          apiVersion: API_GROUP_VERSION,
          kind: 'OcspStaple',
          name,
          uid: '00000000-0000-4000-8000-000000000001',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    data: { 'tls.crt': b64(1400, 1), 'tls.key': b64(240, 2), 'ca.crt': b64(700, 3), 'tls.ocsp-staple': b64(480, generation) },
  };
}

/** A Ready staple's status as the controller writes it (staple/status-writer.ts). */
function readyStatus(): Record<string, unknown> {
  const t = now();
  const condition = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    reason,
    message,
    lastTransitionTime: t,
    observedGeneration: 1,
  });
  return {
    observedGeneration: 1,
    conditions: [
      condition('Ready', 'True', 'Stapled', 'a good OCSP response for certificate 0a1b2c3d4e5f is published in Secret bench/staple'),
      condition('Fresh', 'True', 'Fresh', `the staple is fresh until ${t}; next refresh at ${t}`),
      condition('Revoked', 'False', 'Good', 'the responder says good'),
    ],
    stapleSecretName: 'staple',
    certificate: {
      serial: '0a1b2c3d4e5f',
      sha256: 'b'.repeat(64),
      subject: 'CN=leaf.test',
      issuer: 'CN=Bench CA',
      notBefore: t,
      notAfter: t,
      ocspURL: 'http://127.0.0.1:8080/',
      mustStaple: false,
    },
    staple: {
      certStatus: 'good',
      thisUpdate: t,
      nextUpdate: t,
      producedAt: t,
      signer: { subject: 'CN=Bench CA', notAfter: t, delegated: false },
      usableUntil: t,
      sha256: 'c'.repeat(64),
    },
    nextRefreshTime: t,
    lastAttemptTime: t,
    lastSuccessTime: t,
  };
}

const work = await mkdtemp(join(tmpdir(), 'ocsp-bench-apiserver-writes-'));
const cp = await startControlPlane({ workDir: join(work, 'control-plane'), log: (m) => log(`control plane: ${m}`) });
try {
  await installCrds(loadKubeConfig(cp.kubeconfigPath), log);
  const client = new KubeClient(loadKubeConfig(cp.kubeconfigPath), { qps: 1e6, burst: 1e6 });
  await client.create(NamespaceType, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  const serverCpu = controlPlaneCpu(cp, log);

  /** Per round: objects the kinds that update need, made before they are timed. */
  const staples: KubeObject[] = [];
  const posted: Secret[] = [];
  const kinds: Record<string, (i: number, round: number) => Promise<unknown>> = {
    'peer: create 4 KiB Secret': (i, r) =>
      client.create(SecretType, {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: `peer-${r}-${i}`, namespace: NS },
        data: { blob: b64(4096, 0x61) },
      }),
    'GET Secret': (i, r) => client.get(SecretType, NS, `peer-${r}-${i}`),
    'POST new staple Secret': async (i, r) => {
      posted[i] = await client.create(SecretType, stapleSecret(`post-${r}-${i}`, 1), { fieldManager: 'ocsp-operator' });
    },
    'PUT changed staple Secret': async (i) => {
      // As the controller sends it: the metadata its cache holds (slim: no managedFields), new data.
      const s = slim(posted[i] as Secret);
      posted[i] = await client.replace(SecretType, { ...s, data: stapleSecret('-', 2).data }, undefined, { fieldManager: 'ocsp-operator' });
    },
    'apply new staple Secret': (i, r) => client.apply(SecretType, stapleSecret(`staple-${r}-${i}`, 1), 'ocsp-operator'),
    'apply changed staple Secret': (i, r) => client.apply(SecretType, stapleSecret(`staple-${r}-${i}`, 2), 'ocsp-operator'),
    'OcspStaple status PUT': (i) => putStatus(i),
    'OcspStaple status PUT again': (i) => putStatus(i),
    'create Event': (i, r) =>
      client.create(EventType, {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { name: `staple-${r}-${i}.${Date.now().toString(16)}`, namespace: NS },
        eventTime: new Date().toISOString().replace(/Z$/, '000Z'),
        reportingController: 'ocsp-operator.dev/staple-controller',
        reportingInstance: 'ocsp-operator-bench',
        action: 'Reconcile',
        reason: 'Stapled',
        note: 'a good OCSP response for certificate 0a1b2c3d4e5f is published in Secret bench/staple',
        type: 'Normal',
        regarding: {
          apiVersion: API_GROUP_VERSION,
          kind: 'OcspStaple',
          namespace: NS,
          name: `staple-${r}-${i}`,
          uid: '00000000-0000-4000-8000-000000000001',
        },
      } as KubeObject),
  };
  /** A staple's status written the first time (the fill) or again with new times (a refresh). */
  async function putStatus(i: number): Promise<void> {
    const o = staples[i] as KubeObject & { status?: unknown };
    o.status = readyStatus();
    staples[i] = await client.replace(OcspStapleType, o, 'status');
  }
  const names = Object.keys(kinds);
  const ms = new Map<string, number[]>(names.map((n) => [n, []]));
  for (let round = 0; round < ROUNDS; round++) {
    staples.length = 0;
    for (let i = 0; i < N; i++) {
      staples.push(
        await client.create(OcspStapleType, {
          apiVersion: API_GROUP_VERSION,
          kind: 'OcspStaple',
          metadata: { name: `staple-${round}-${i}`, namespace: NS },
          spec: { secretName: `cert-${i}` },
        } as KubeObject),
      );
    }
    // The order reverses every other round so that neither end of a round always meets a warmer
    // or busier server; each kind that needs another's objects (a GET its Secret, a change its
    // first write, a second status its first) stays after it.
    const after: Record<string, string> = {
      'GET Secret': 'peer: create 4 KiB Secret',
      'PUT changed staple Secret': 'POST new staple Secret',
      'apply changed staple Secret': 'apply new staple Secret',
      'OcspStaple status PUT again': 'OcspStaple status PUT',
    };
    const firsts = names.filter((n) => !(n in after));
    const order = (round % 2 ? [...firsts].reverse() : firsts).flatMap((n) => [n, ...names.filter((m) => after[m] === n)]);
    for (const name of order) {
      const send = kinds[name];
      if (!send) continue;
      let next = 0;
      const before = serverCpu();
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          for (let i; (i = next++) < N;) await send(i, round);
        }),
      );
      await new Promise((r) => setTimeout(r, 1000)); // etcd's and the watch cache's share of the last writes
      ms.get(name)?.push(((serverCpu() - before) * 1000) / N);
    }
    log(`round ${round + 1}/${ROUNDS} done`);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  const cost = (name: string) => median(ms.get(name) ?? []);
  const peer = cost('peer: create 4 KiB Secret');
  const lines = [
    `apiserver+etcd CPU a request (${N} a kind, ${IN_FLIGHT} in flight, median of ${ROUNDS} rounds), and against the peer's write:`,
  ];
  for (const name of names) lines.push(`  ${name.padEnd(30)} ${cost(name).toFixed(2).padStart(6)} ms   ${(cost(name) / peer).toFixed(2)}x`);
  const fill = cost('GET Secret') + cost('POST new staple Secret') + cost('OcspStaple status PUT') + cost('create Event');
  const applied = fill - cost('POST new staple Secret') + cost('apply new staple Secret');
  const refresh = cost('PUT changed staple Secret') + cost('OcspStaple status PUT again');
  const appliedRefresh = refresh - cost('PUT changed staple Secret') + cost('apply changed staple Secret');
  lines.push(
    `a staple's fill (GET, POST, status PUT, Event) costs the server ${fill.toFixed(1)} ms, ${(fill / (3 * peer)).toFixed(2)}x the peer's 3 writes (${(3 * peer).toFixed(1)} ms); with apply in place of the POST ${applied.toFixed(1)} ms, ${(applied / (3 * peer)).toFixed(2)}x`,
    `a staple's refresh (PUT, status PUT) costs the server ${refresh.toFixed(1)} ms, ${(refresh / (2 * peer)).toFixed(2)}x the peer's 2 writes (${(2 * peer).toFixed(1)} ms); with apply in place of the PUT ${appliedRefresh.toFixed(1)} ms, ${(appliedRefresh / (2 * peer)).toFixed(2)}x`,
  );
  // The server's CPU alone bounds the staple benchmark's ratio (the operator's writes/s over the
  // peer's), before the operator spends any of the same cores.
  lines.push(
    `so on the server's CPU alone a client making these requests reaches at most ${((3 * peer) / fill).toFixed(2)}x the peer's write rate in a fill, ${((2 * peer) / refresh).toFixed(2)}x in a refresh`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await cp.stop();
  await rm(work, { recursive: true, force: true });
}
