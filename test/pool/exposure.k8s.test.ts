// A pool's responders as users publish them, against the real apiserver with the pool controller
// in this process: the Ingress to the pool's Service, an HPA per responder Deployment (whose
// replicas the operator then leaves alone, also across the switch to autoscaling), the responders'
// and signers' PodDisruptionBudgets, and everything the spec stops rendering deleted (an Ingress,
// HPAs, a Redis replica's Deployment, a whole store shape), and nothing the pool does not control.
// No controller-manager runs here: the HPA's own scaling is played by a scale-subresource write.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DeploymentType,
  OcspResponderPoolType,
  StatefulSetType,
  HorizontalPodAutoscalerType,
  IngressType,
  PodDisruptionBudgetType,
  ServiceType,
  type KubeObject,
  type ResourceType,
} from '../../src/kube/types.js';
import { PRUNED_TYPES, REPLICAS_HANDOVER_MANAGER } from '../../src/pool/owned.js';
import { POOL_FIELD_MANAGER } from '../../src/pool/reconciler.js';
import { LABEL_POOL } from '../../src/api/annotations.js';
import type { Manager } from '../../src/runtime/manager.js';
import { createNamespace, kubeClient, replaceSpec, waitFor } from '../support/kube.js';
import { createCa, issueLeaf } from '../support/pki.js';
import { createCaObjects, reconcileCount, reconciledAgain, startPoolController } from '../support/pool-harness.js';
import { renderPool } from '../support/pool-render.js';

type Labels = Record<string, string>;
interface Obj extends KubeObject {
  metadata?: KubeObject['metadata'] & {
    managedFields?: Array<{ manager?: string; operation?: string; fieldsV1?: { 'f:spec'?: Record<string, unknown> } }>;
  };
  spec?: Record<string, unknown> & {
    replicas?: number;
    selector?: Labels | { matchLabels: Labels };
    template?: {
      metadata: { labels: Labels };
      spec: { containers: Array<{ name: string; args?: string[]; ports?: Array<{ name: string; containerPort: number }> }> };
    };
  };
}

const client = kubeClient();
let ns: { name: string; remove(): Promise<void> };
let manager: Manager;

const base = {
  issuer: { secretName: 'ca' },
  signing: { softwareKey: { secretName: 'ca' } },
  delegatedResponder: { mode: 'None' },
  sources: [{ opensslIndex: { configMapName: 'ca-db' } }],
};
const redis = (replicas: number) => ({
  type: 'Redis',
  redis: { primaryURL: 'redis://redis:6379', replicaURLs: Array.from({ length: replicas }, (_, i) => `redis://replica-${i}:6379`) },
});
const cpu = { resources: { requests: { cpu: '100m' } } };
const ingress = {
  className: 'public',
  hosts: ['ocsp.example.test', 'ocsp2.example.test'],
  path: '/ocsp',
  annotations: { 'nginx.ingress.kubernetes.io/ssl-redirect': 'false' },
  tls: { secretName: 'ocsp-web-tls' },
};

const get = (type: ResourceType, name: string) => client.getOrUndefined<Obj>(type, ns.name, name);
const key = (name: string) => `${ns.name}/${name}`;

async function createPool(name: string, spec: Record<string, unknown>): Promise<string> {
  const p = await client.create(OcspResponderPoolType, {
    apiVersion: 'ocsp-operator.dev/v1alpha1',
    kind: 'OcspResponderPool',
    metadata: { name, namespace: ns.name },
    spec,
  } as KubeObject);
  return p.metadata?.uid ?? '';
}

/** Replaces the pool's spec (a merge patch could not drop a list item) and waits for the reconcile that follows. */
async function setSpec(name: string, spec: Record<string, unknown>): Promise<void> {
  const since = reconcileCount(key(name));
  await replaceSpec(client, OcspResponderPoolType, ns.name, name, spec);
  await reconciledAgain(key(name), since);
}

/** Every object of the rendered types that carries the pool's label, as `Kind name`, sorted. */
async function labelled(name: string): Promise<string[]> {
  const out: string[] = [];
  for (const t of PRUNED_TYPES)
    for (const o of (await client.list(t, { namespace: ns.name, labelSelector: `${LABEL_POOL}=${name}` })).items)
      if (!o.metadata?.deletionTimestamp) out.push(`${t.kind} ${o.metadata?.name}`);
  return out.sort();
}

/** What the operator renders for `spec`, as `Kind name`, sorted. */
const rendered = (name: string, spec: Record<string, unknown>) =>
  renderPool(spec, { name, namespace: ns.name })
    .workloads.map((w) => `${w.type.kind} ${w.object.metadata?.name}`)
    .sort();

const ownsReplicas = (d: Obj | undefined, manager: string) =>
  d?.metadata?.managedFields?.some((f) => f.manager === manager && f.fieldsV1?.['f:spec']?.['f:replicas'] !== undefined) ?? false;
const matches = (selector: Labels, labels: Labels) => Object.entries(selector).every(([k, v]) => labels[k] === v);

beforeAll(async () => {
  ns = await createNamespace(client, 'exposure');
  const ca = await createCa({ keyAlg: 'P-256', name: 'CN=Exposure CA' });
  await createCaObjects(client, ns.name, ca, [await issueLeaf(ca, { dnsNames: ['a.test'] })]);
  manager = await startPoolController(client, ns.name);
});

afterAll(async () => {
  await manager?.stop();
  await ns?.remove();
});

describe('a Redis pool published, autoscaled and budgeted', () => {
  const spec = {
    ...base,
    store: redis(2),
    responder: {
      port: 8081,
      ingress,
      autoscaling: { minReplicas: 2, maxReplicas: 6, targetCPUUtilizationPercentage: 60 },
      pod: cpu,
      disruptionBudget: { maxUnavailable: 2 },
    },
  };
  let uid: string;

  beforeAll(async () => {
    uid = await createPool('pub', spec);
    await waitFor('the Ingress, both HPAs and both budgets', async () =>
      (
        await Promise.all([
          get(IngressType, 'pub'),
          get(HorizontalPodAutoscalerType, 'pub-responder-0'),
          get(HorizontalPodAutoscalerType, 'pub-responder-1'),
          get(PodDisruptionBudgetType, 'pub-responder'),
          get(PodDisruptionBudgetType, 'pub-signer'),
        ])
      ).every(Boolean),
    );
  });

  it('an Ingress to the pool Service’s ocsp port, for every host, under the path the responders serve', async () => {
    const ing = (await get(IngressType, 'pub'))!;
    const svc = (await get(ServiceType, 'pub'))!;
    expect(ing.metadata?.ownerReferences?.[0]).toMatchObject({ uid, controller: true });
    expect(ing.metadata?.annotations).toMatchObject(ingress.annotations);
    expect((svc.spec as { ports: Array<{ name: string }> }).ports.map((p) => p.name)).toContain('ocsp');
    const backend = { service: { name: 'pub', port: { name: 'ocsp' } } };
    expect(ing.spec).toMatchObject({
      ingressClassName: 'public',
      tls: [{ hosts: ingress.hosts, secretName: 'ocsp-web-tls' }],
      rules: ingress.hosts.map((host) => ({ host, http: { paths: [{ path: '/ocsp', pathType: 'Prefix', backend }] } })),
    });
    for (const d of ['pub-responder-0', 'pub-responder-1']) {
      const responder = (await get(DeploymentType, d))!.spec!.template!.spec.containers.find((c) => c.name === 'responder')!;
      // the URL's path reaches the responder unchanged; its metrics are on a port of their own
      expect(responder.args?.join(' ')).toContain('--path-prefix /ocsp');
      expect(responder.args?.join(' ')).toContain('--metrics-addr 0.0.0.0:9091');
      expect(responder.ports).toEqual([
        { name: 'ocsp', containerPort: 8081, protocol: 'TCP' },
        { name: 'metrics', containerPort: 9091, protocol: 'TCP' },
      ]);
    }
  });

  it('an HPA on CPU per responder Deployment, which then owns its replicas: the operator applies none', async () => {
    for (const d of ['pub-responder-0', 'pub-responder-1']) {
      const hpa = (await get(HorizontalPodAutoscalerType, d))!;
      expect(hpa.spec).toMatchObject({
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: d },
        minReplicas: 2,
        maxReplicas: 6,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } }],
      });
      expect(ownsReplicas(await get(DeploymentType, d), POOL_FIELD_MANAGER), `${d}: the operator's apply owns no replicas`).toBe(false);
    }
    // The HPA scales (played here by a write to the scale subresource, as the HPA controller does).
    // Then a spec change makes the operator apply every workload again: the count stays.
    await client.mergePatch(
      DeploymentType,
      { namespace: ns.name, name: 'pub-responder-0', subresource: 'scale' },
      { spec: { replicas: 5 } },
    );
    await setSpec('pub', { ...spec, responder: { ...spec.responder, maxReplicationLag: '11s' } });
    const after = await waitFor('the change applied', async () => {
      const d = await get(DeploymentType, 'pub-responder-0');
      return d?.spec?.template?.spec.containers
        .find((c) => c.name === 'responder')
        ?.args?.join(' ')
        .includes('--max-lag 11s')
        ? d
        : undefined;
    });
    expect(after.spec?.replicas).toBe(5);
  });

  it('a budget over every responder and one over the signers, with maxUnavailable from the spec, selecting their pods', async () => {
    const responders = (await get(PodDisruptionBudgetType, 'pub-responder'))!;
    const signers = (await get(PodDisruptionBudgetType, 'pub-signer'))!;
    expect(responders.spec).toMatchObject({ maxUnavailable: 2, unhealthyPodEvictionPolicy: 'AlwaysAllow' });
    expect(signers.spec).toMatchObject({ maxUnavailable: 1, unhealthyPodEvictionPolicy: 'AlwaysAllow' });
    const sel = (o: Obj) => (o.spec!.selector as { matchLabels: Labels }).matchLabels;
    for (const d of ['pub-responder-0', 'pub-responder-1'])
      expect(matches(sel(responders), (await get(DeploymentType, d))!.spec!.template!.metadata.labels), d).toBe(true);
    const sts = (await get(StatefulSetType, 'pub-signer'))!;
    expect(matches(sel(signers), sts.spec!.template!.metadata.labels)).toBe(true);
    expect(matches(sel(responders), sts.spec!.template!.metadata.labels)).toBe(false);
    expect(matches(sel(signers), (await get(DeploymentType, 'pub-responder-0'))!.spec!.template!.metadata.labels)).toBe(false);
  });

  it('removed from the spec, the Ingress and the HPAs are deleted, and the operator owns the replicas again', async () => {
    await setSpec('pub', { ...spec, responder: { port: 8081, pod: cpu, replicas: 4 } });
    await waitFor(
      'the Ingress and the HPAs deleted',
      async () =>
        !(await get(IngressType, 'pub')) &&
        !(await get(HorizontalPodAutoscalerType, 'pub-responder-0')) &&
        !(await get(HorizontalPodAutoscalerType, 'pub-responder-1')),
    );
    const d = (await get(DeploymentType, 'pub-responder-0'))!;
    expect(d.spec?.replicas).toBe(2); // 4 responders over 2 replicas
    expect(ownsReplicas(d, POOL_FIELD_MANAGER)).toBe(true);
    expect(await labelled('pub')).toEqual(rendered('pub', { ...spec, responder: { port: 8081, pod: cpu, replicas: 4 } }));
  });

  it('a Redis replica dropped: its Deployment goes; the store type changed: the whole Redis shape goes', async () => {
    const one = { ...spec, store: redis(1), responder: { port: 8081 } };
    await setSpec('pub', one);
    await waitFor('pub-responder-1 deleted', async () => !(await get(DeploymentType, 'pub-responder-1')));
    expect(await labelled('pub')).toEqual(rendered('pub', one));

    const embedded = { ...base, responder: { port: 8081, replicas: 1, ingress: { hosts: ['ocsp.example.test'] } } };
    await setSpec('pub', embedded);
    await waitFor(
      'only the embedded shape left',
      async () => JSON.stringify(await labelled('pub')) === JSON.stringify(rendered('pub', embedded)) || undefined,
      30_000,
    );
    // The Embedded store's one pod gets an Ingress but no budget (it would block every drain).
    expect(await get(PodDisruptionBudgetType, 'pub-responder')).toBeUndefined();
    expect(await get(PodDisruptionBudgetType, 'pub-signer')).toBeUndefined();
    expect((await get(IngressType, 'pub'))?.spec).toMatchObject({
      rules: [{ host: 'ocsp.example.test', http: { paths: [{ path: '/' }] } }],
    });
  });

  it('leaves alone what carries the pool’s label but is not the pool’s to control', async () => {
    const stray = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'stray', namespace: ns.name, labels: { [LABEL_POOL]: 'pub', 'app.kubernetes.io/managed-by': 'ocsp-operator' } },
      spec: { defaultBackend: { service: { name: 'pub', port: { name: 'ocsp' } } } },
    };
    await client.create(IngressType, stray);
    // a spec change makes the operator apply and prune
    await setSpec('pub', { ...base, responder: { port: 8082, replicas: 1 } });
    await waitFor('the pool Ingress deleted', async () => !(await get(IngressType, 'pub')));
    expect(await get(IngressType, 'stray')).toBeDefined();
  });
});

describe('switching a running pool to autoscaling', () => {
  it('keeps the responders’ count: the replicas pass to a hand-over manager, not back to the default of 1', async () => {
    const before = { ...base, store: redis(1), responder: { replicas: 3, pod: cpu } };
    await createPool('switch', before);
    const d0 = await waitFor('the responder Deployment with 3 replicas', async () =>
      (await get(DeploymentType, 'switch-responder-0'))?.spec?.replicas === 3 ? true : undefined,
    );
    expect(d0).toBe(true);
    await setSpec('switch', { ...before, responder: { replicas: 3, pod: cpu, autoscaling: { maxReplicas: 8 } } });
    await waitFor('the HPA', () => get(HorizontalPodAutoscalerType, 'switch-responder-0'));
    const d = (await get(DeploymentType, 'switch-responder-0'))!;
    expect(d.spec?.replicas).toBe(3);
    expect(ownsReplicas(d, POOL_FIELD_MANAGER)).toBe(false);
    expect(ownsReplicas(d, REPLICAS_HANDOVER_MANAGER)).toBe(true);
  });
});
