// A pool at rest writes nothing (issue 13, point 7): the real signer and responder processes of an
// embedded pool (host processes, as pool-processes.test.ts runs them, reporting to the real
// apiserver as their pod would) and the real pool controller. Once settled, over a window in which
// the controller provably reconciled the pool (its resync, seen in its log) and the signer
// provably kept signing rounds (its own metrics), nobody writes: the report ConfigMap, the pool and
// its workloads keep their resourceVersions, and the controller sends no write request at all.
// The controller's client counts its requests by verb (a real client, counted on the way out).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/devenv/control-plane.js';
import { KubeClient } from '../../src/kube/client.js';
import { loadKubeConfig } from '../../src/kube/config.js';
import {
  DeploymentType,
  OcspResponderPoolType,
  StatefulSetType,
  ConfigMapType,
  ServiceType,
  type KubeObject,
  type ResourceType,
} from '../../src/kube/types.js';
import { PoolConditionType as T } from '../../src/pool/conditions.js';
import { reportConfigMapName } from '../../src/report/protocol.js';
import { indexConfigMapName } from '../../src/pool/workloads.js';
import type { Manager } from '../../src/runtime/manager.js';
import { createNamespace, kubeconfigPath, metricValue, waitFor } from '../support/kube.js';
import { createCa, indexLine, issueLeaf, type Ca, type Issued } from '../support/pki.js';
import { createCaObjects, reconcileCount, reconciledAgain, startPoolController } from '../support/pool-harness.js';

const CLI = resolve(import.meta.dirname, '..', '..', 'dist', 'src', 'cli.js');
const POOL = 'quiet';
const POD = 'quiet-5d8f7c9b4-x2x7q'; // the Deployment's pod name, as the downward API would give it

/** The real client, counting the write requests it sends. */
class CountingClient extends KubeClient {
  writes: string[] = [];
  override apply<T extends KubeObject>(type: ResourceType, obj: T, fieldManager: string, subresource?: string): Promise<T> {
    this.writes.push(`APPLY ${type.plural}${subresource ? `/${subresource}` : ''} ${obj.metadata?.name ?? ''}`);
    return super.apply(type, obj, fieldManager, subresource);
  }
  override replace<T extends KubeObject>(...args: Parameters<KubeClient['replace']>): Promise<T> {
    this.writes.push(`PUT ${args[0].plural}${args[2] ? `/${args[2]}` : ''} ${args[1].metadata?.name ?? ''}`);
    return super.replace(...args) as Promise<T>;
  }
  override create<T extends KubeObject>(...args: Parameters<KubeClient['create']>): Promise<T> {
    this.writes.push(`POST ${args[0].plural} ${args[1].metadata?.name ?? ''}`);
    return super.create(...args) as Promise<T>;
  }
  override mergePatch<T extends KubeObject>(...args: Parameters<KubeClient['mergePatch']>): Promise<T> {
    this.writes.push(`PATCH ${args[0].plural} ${args[1].name}`);
    return super.mergePatch<T>(...args);
  }
  override delete(...args: Parameters<KubeClient['delete']>): ReturnType<KubeClient['delete']> {
    this.writes.push(`DELETE ${args[0].plural} ${args[2]}`);
    return super.delete(...args);
  }
}

const admin = new KubeClient(loadKubeConfig(kubeconfigPath()));
let controllerClient: CountingClient;
let ns: { name: string; remove(): Promise<void> };
let manager: Manager;
let ca: Ca;
let leaves: Issued[];
let dir: string;
let signerMetrics: string;
const procs: ChildProcess[] = [];
const output: string[] = [];

function start(args: string[]): ChildProcess {
  const p = spawn(process.execPath, [CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, KUBECONFIG: kubeconfigPath(), POD_NAME: POD, POD_NAMESPACE: ns.name },
  });
  p.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  p.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  procs.push(p);
  return p;
}

const rv = async (type: ResourceType, name: string) => (await admin.get<KubeObject>(type, ns.name, name)).metadata?.resourceVersion;
const rounds = async () => metricValue(await (await fetch(signerMetrics)).text(), 'ocsp_signer_round_duration_seconds_count') ?? 0;

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
  dir = await mkdtemp(join(tmpdir(), 'ocsp-quiet-'));
  ns = await createNamespace(admin, 'pool-quiet');
  ca = await createCa({ keyAlg: 'P-256', name: 'CN=Quiet Pool CA' });
  leaves = [];
  for (let i = 0; i < 10; i++) leaves.push(await issueLeaf(ca, { dnsNames: [`q${i}.test`] }));
  await createCaObjects(admin, ns.name, ca, leaves);
  await writeFile(join(dir, 'ca.pem'), ca.certPem);
  await writeFile(join(dir, 'ca.key'), ca.keyPem);
  await writeFile(join(dir, 'index.txt'), leaves.map((l) => indexLine({ cert: l.cert, status: 'V' })).join('\n') + '\n');
  controllerClient = new CountingClient(loadKubeConfig(kubeconfigPath()));
  manager = await startPoolController(controllerClient, ns.name);
  await admin.create(OcspResponderPoolType, {
    apiVersion: 'ocsp-operator.dev/v1alpha1',
    kind: 'OcspResponderPool',
    metadata: { name: POOL, namespace: ns.name },
    spec: {
      issuer: { secretName: 'ca' },
      signing: { softwareKey: { secretName: 'ca' } },
      delegatedResponder: { mode: 'None' },
      sources: [{ opensslIndex: { configMapName: 'ca-db' } }],
    },
  } as KubeObject);
  const metricsPort = await freePort();
  signerMetrics = `http://127.0.0.1:${metricsPort}/metrics`;
  // the signer looks every 500 ms, the responder every 2 s: each would write on every look before
  start([
    'signer',
    '--index',
    join(dir, 'index.txt'),
    '--ca-cert',
    join(dir, 'ca.pem'),
    '--key-file',
    join(dir, 'ca.key'),
    '--store-dir',
    join(dir, 'store'),
    '--interval',
    '500ms',
    '--sessions',
    '2',
    '--report-pool',
    POOL,
    '--metrics-addr',
    `127.0.0.1:${metricsPort}`,
  ]);
  await waitFor('the store', () => existsSync(join(dir, 'store', 'responses.log')) || undefined, 20_000);
  start([
    'responder',
    '--ca-cert',
    join(dir, 'ca.pem'),
    '--store-dir',
    join(dir, 'store'),
    '--lag-policy',
    'TryLater',
    '--listen',
    `127.0.0.1:${await freePort()}`,
    '--report-pool',
    POOL,
  ]);
}, 90_000);

afterAll(async () => {
  for (const p of procs) p.kill('SIGTERM');
  await Promise.all(procs.map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : Promise.resolve())));
  await manager?.stop();
  await ns?.remove();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a pool at rest', { timeout: 120_000 }, () => {
  it('settles Ready, then makes no report write, no workload apply and no status write while the controller and the pods keep looking', async () => {
    const key = `${ns.name}/${POOL}`;
    await waitFor(
      'the pool Ready with every certificate signed',
      async () => {
        const p = await admin.get<
          KubeObject & { status?: { backlog?: number; certificates?: number; conditions?: Array<{ type: string; status: string }> } }
        >(OcspResponderPoolType, ns.name, POOL);
        return p.status?.certificates === 10 &&
          p.status.backlog === 0 &&
          p.status.conditions?.find((c) => c.type === T.Ready)?.status === 'True'
          ? p
          : undefined;
      },
      60_000,
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${output.join('').slice(-3000)}`);
    });
    // Settled: one reconcile after the last change has seen the status it wrote come back.
    await reconciledAgain(key, reconcileCount(key));

    // the embedded pool's one workload (a StatefulSet or a Deployment, whichever the renderer makes)
    const workload = (await admin.getOrUndefined(StatefulSetType, ns.name, POOL)) ? StatefulSetType : DeploymentType;
    const watched: Array<[ResourceType, string]> = [
      [ConfigMapType, reportConfigMapName(POOL)],
      [OcspResponderPoolType, POOL],
      [workload, POOL],
      [ServiceType, POOL],
      [ConfigMapType, indexConfigMapName(POOL)],
    ];
    const before = await Promise.all(watched.map(([t, n]) => rv(t, n)));
    const writesBefore = controllerClient.writes.length;
    const roundsBefore = await rounds();
    const reconcilesBefore = reconcileCount(key);

    // The window: until the controller has looked again on its own (its resync, every 15 s).
    await reconciledAgain(key, reconcilesBefore, 1, 40_000);

    const after = await Promise.all(watched.map(([t, n]) => rv(t, n)));
    expect(await rounds(), 'signing rounds in the window').toBeGreaterThanOrEqual(roundsBefore + 5);
    expect(reconcileCount(key)).toBeGreaterThan(reconcilesBefore);
    expect(controllerClient.writes.slice(writesBefore), 'controller writes at rest').toEqual([]);
    expect(Object.fromEntries(watched.map(([t, n], i) => [`${t.kind} ${n}`, after[i]])), 'resourceVersions at rest').toEqual(
      Object.fromEntries(watched.map(([t, n], i) => [`${t.kind} ${n}`, before[i]])),
    );
  });

  it('a deleted workload is put back, although nothing it renders changed', async () => {
    const uid = (await admin.get<KubeObject>(ServiceType, ns.name, POOL)).metadata?.uid;
    await admin.delete(ServiceType, ns.name, POOL);
    const back = await waitFor(
      'the Service back',
      async () => {
        const s = await admin.getOrUndefined<KubeObject>(ServiceType, ns.name, POOL);
        return s && s.metadata?.uid !== uid ? s : undefined;
      },
      20_000,
    );
    expect(back.metadata?.ownerReferences?.[0]?.name).toBe(POOL);
  });
});
