// The operator as a process against a real apiserver: CRDs, health endpoints, leader election
// with failover, and surviving an apiserver restart.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startControlPlane, type ControlPlane } from '../../src/devenv/control-plane.js';
import { installCrds } from '../../src/devenv/crds.js';
import { KubeClient } from '../../src/kube/client.js';
import { loadKubeConfig } from '../../src/kube/config.js';
import { LeaseType, OcspStapleType, type KubeObject, type Lease } from '../../src/kube/types.js';
import { createNamespace, kubeClient, kubectl, metricValue, startOperator, waitFor, type OperatorProcess } from '../support/kube.js';

interface StapleObj extends KubeObject {
  status?: { observedGeneration?: number; conditions?: Array<{ type: string; status: string; reason: string; message: string }> };
}

function stapleFor(namespace: string, name: string, secretName = `${name}-tls`): StapleObj {
  return { apiVersion: 'ocsp-operator.dev/v1alpha1', kind: 'OcspStaple', metadata: { name, namespace }, spec: { secretName } } as StapleObj;
}

const readyReason = (s: StapleObj | undefined) => s?.status?.conditions?.find((c) => c.type === 'Ready')?.reason;

async function reconcileCount(op: OperatorProcess): Promise<number> {
  const text = await (await fetch(`${op.healthUrl}/metrics`)).text();
  return ['success', 'error', 'requeue'].reduce(
    (n, result) => n + (metricValue(text, 'ocsp_operator_reconcile_total', { controller: 'staple', result }) ?? 0),
    0,
  );
}

describe('CRDs on the real apiserver', () => {
  const client = kubeClient();
  let ns: { name: string; remove(): Promise<void> };
  beforeAll(async () => {
    ns = await createNamespace(client, 'crd');
  });
  afterAll(async () => ns.remove());

  it('are Established and `kubectl get ocspstaples` shows the printer columns', async () => {
    const est = await kubectl([
      'get',
      'crd',
      'ocspstaples.ocsp-operator.dev',
      'ocspresponderpools.ocsp-operator.dev',
      '-o',
      'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Established")].status}{"\\n"}{end}',
    ]);
    expect(est.stdout.trim().split('\n').sort()).toEqual([
      'ocspresponderpools.ocsp-operator.dev=True',
      'ocspstaples.ocsp-operator.dev=True',
    ]);
    await client.create(OcspStapleType, stapleFor(ns.name, 'columns'));
    const out = await kubectl(['get', 'staple', '-n', ns.name]);
    expect(out.code).toBe(0);
    const header = out.stdout.split('\n')[0] ?? '';
    for (const col of ['NAME', 'CERTIFICATE', 'OCSP', 'NEXT UPDATE', 'READY', 'REASON', 'AGE']) expect(header).toContain(col);
    expect(out.stdout).toContain('columns-tls');
  });

  it('rejects an invalid OcspStaple with a message that names the bad field', async () => {
    const bad = { ...stapleFor(ns.name, 'bad'), spec: { secretName: 'x', method: 'PUT' } } as KubeObject;
    const err = await client.create(OcspStapleType, bad).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(String(err)).toMatch(/422/);
    expect(String(err)).toContain('spec.method');
    const noSecret = { ...stapleFor(ns.name, 'bad2'), spec: { hashAlgorithm: 'SHA-1' } } as KubeObject;
    const err2 = await client.create(OcspStapleType, noSecret).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(String(err2)).toContain('spec.secretName');
  });
});

describe('controller process', () => {
  const client = kubeClient();
  let ns: { name: string; remove(): Promise<void> };
  const started: OperatorProcess[] = [];
  beforeAll(async () => {
    ns = await createNamespace(client, 'proc');
  });
  afterAll(async () => {
    await Promise.all(started.map((p) => p.stop('SIGKILL')));
    await ns.remove();
  });

  it('serves /metrics, /healthz and /readyz, reconciles, probes, and stops cleanly on SIGTERM', async () => {
    // the prober as a mode of the operator: an endpoint nothing listens on reports tls_up 0
    const dir = await mkdtemp(join(tmpdir(), 'probe-endpoints-'));
    const dead = await freePort();
    await writeFile(join(dir, 'endpoints.yaml'), `- 127.0.0.1:${dead}@web.test\n`);
    const op = await startOperator([
      '--namespaces',
      ns.name,
      '--probe-endpoints-file',
      join(dir, 'endpoints.yaml'),
      '--probe-interval-ms',
      '1000',
    ]);
    started.push(op);
    await waitFor('readyz', async () => (await fetch(`${op.healthUrl}/readyz`)).status === 200);
    expect(await (await fetch(`${op.healthUrl}/healthz`)).text()).toBe('ok');
    await client.create(OcspStapleType, stapleFor(ns.name, 'health'));
    const s = await waitFor('status from the controller', async () => {
      const obj = await client.get<StapleObj>(OcspStapleType, ns.name, 'health');
      return readyReason(obj) ? obj : undefined;
    });
    expect(readyReason(s)).toBe('SecretNotFound');
    expect(s.status?.observedGeneration).toBe(s.metadata?.generation);
    const metrics = await (await fetch(`${op.healthUrl}/metrics`)).text();
    expect(metricValue(metrics, 'ocsp_operator_workqueue_adds_total', { controller: 'staple' })).toBeGreaterThan(0);
    expect(metrics).toMatch(/^process_resident_memory_bytes /m);
    const probed = await waitFor('a probe result', async () => {
      const text = await (await fetch(`${op.healthUrl}/metrics`)).text();
      return metricValue(text, 'ocsp_probe_tls_up', { endpoint: `127.0.0.1:${dead}` }) !== undefined ? text : undefined;
    });
    expect(metricValue(probed, 'ocsp_probe_tls_up', { endpoint: `127.0.0.1:${dead}`, servername: 'web.test' })).toBe(0);
    await rm(dir, { recursive: true, force: true });
    // endpoints declared on an OcspStaple are probed too, and dropped with the declaration
    const declared = await freePort();
    await client.create(OcspStapleType, {
      ...stapleFor(ns.name, 'probed'),
      metadata: {
        name: 'probed',
        namespace: ns.name,
        annotations: { 'ocsp-operator.dev/probe-endpoints': `127.0.0.1:${declared}@shop.test` },
      },
    });
    const declaredUp = async () =>
      metricValue(await (await fetch(`${op.healthUrl}/metrics`)).text(), 'ocsp_probe_tls_up', {
        endpoint: `127.0.0.1:${declared}`,
        servername: 'shop.test',
      });
    expect(await waitFor('the declared endpoint probed', async () => (await declaredUp()) !== undefined)).toBe(true);
    expect(await declaredUp()).toBe(0);
    await client.delete(OcspStapleType, ns.name, 'probed');
    await waitFor('the declared endpoint dropped', async () => (await declaredUp()) === undefined);
    const logs = op.logLines();
    expect(logs.some((l) => l.object === `${ns.name}/health`)).toBe(true); // logs name the object
    expect(await op.stop('SIGTERM')).toBe(0);
  });

  it('elects one leader over a Lease; only it reconciles; a standby takes over when it dies', async () => {
    const lease = `ocsp-operator-test-${ns.name}`;
    const args = [
      '--namespaces',
      ns.name,
      '--leader-elect',
      '--leader-election-namespace',
      ns.name,
      '--lease-name',
      lease,
      '--lease-duration-ms',
      '4000',
    ];
    const a = await startOperator(args);
    const b = await startOperator(args);
    started.push(a, b);
    const holder = await waitFor(
      'a lease holder',
      async () => (await client.getOrUndefined<Lease>(LeaseType, ns.name, lease))?.spec?.holderIdentity ?? undefined,
    );
    const leader = holder.endsWith(`_${a.proc.pid}`) ? a : b;
    const follower = leader === a ? b : a;
    expect(holder.endsWith(`_${leader.proc.pid}`)).toBe(true);
    const leaderMetric = async (op: OperatorProcess) =>
      metricValue(await (await fetch(`${op.healthUrl}/metrics`)).text(), 'ocsp_operator_leader');
    expect(await waitFor('leader gauge', async () => (await leaderMetric(leader)) === 1)).toBe(true);
    expect(await leaderMetric(follower)).toBe(0);

    await client.create(OcspStapleType, stapleFor(ns.name, 'le-one'));
    await waitFor('leader reconciles le-one', async () => readyReason(await client.get<StapleObj>(OcspStapleType, ns.name, 'le-one')));
    expect(await reconcileCount(leader)).toBeGreaterThan(0);
    expect(await reconcileCount(follower)).toBe(0); // no reconcile runs in the follower

    const killedAt = Date.now();
    leader.proc.kill('SIGKILL');
    await waitFor(
      'the standby holds the lease',
      async () => {
        const h = (await client.getOrUndefined<Lease>(LeaseType, ns.name, lease))?.spec?.holderIdentity;
        return h?.endsWith(`_${follower.proc.pid}`);
      },
      20_000,
    );
    const takeoverMs = Date.now() - killedAt;
    // lease duration 4 s + one retry period (~0.5 s) + polling slack
    expect(takeoverMs).toBeLessThan(4000 + 3000);
    await client.create(OcspStapleType, stapleFor(ns.name, 'le-two'));
    await waitFor('new leader reconciles le-two', async () => readyReason(await client.get<StapleObj>(OcspStapleType, ns.name, 'le-two')));
    expect(await reconcileCount(follower)).toBeGreaterThan(0);
    process.stderr.write(`leader failover took ${takeoverMs} ms (lease 4000 ms)\n`);
  });
});

describe('apiserver restart', () => {
  let plane: ControlPlane;
  let op: OperatorProcess | undefined;
  beforeAll(async () => {
    plane = await startControlPlane();
    await installCrds(loadKubeConfig(plane.kubeconfigPath));
  });
  afterAll(async () => {
    await op?.stop('SIGKILL');
    await plane?.stop();
  });

  it('the controller survives it: watches reconnect and no change is lost', async () => {
    const client = new KubeClient(loadKubeConfig(plane.kubeconfigPath));
    op = await startOperator([], {}, plane.kubeconfigPath);
    await client.create(OcspStapleType, stapleFor('default', 'before'));
    await waitFor('reconcile before restart', async () => readyReason(await client.get<StapleObj>(OcspStapleType, 'default', 'before')));

    await plane.stopApiServer();
    await new Promise((r) => setTimeout(r, 3000)); // the operator sees its watches break
    await plane.startApiServer();
    expect(op.proc.exitCode).toBeNull();

    await client.create(OcspStapleType, stapleFor('default', 'after'));
    const after = await waitFor(
      'reconcile after restart',
      async () => readyReason(await client.get<StapleObj>(OcspStapleType, 'default', 'after')),
      45_000,
    );
    expect(after).toBe('SecretNotFound');
    expect(op.proc.exitCode).toBeNull();
    const restarts = metricValue(await (await fetch(`${op.healthUrl}/metrics`)).text(), 'ocsp_operator_informer_restarts_total');
    expect(restarts).toBeGreaterThan(0);
  });
});
