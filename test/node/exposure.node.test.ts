// The HPA the operator renders for a responder Deployment (spec.responder.autoscaling), taken up by
// the real kube-controller-manager of the node: it finds its target through the scale subresource
// and holds it at minReplicas. The node runs no metrics-server, so the CPU metric is unavailable
// and the HPA says so (ScalingActive=False, FailedGetResourceMetric) rather than scale on it. The
// target is a Deployment of the tests' own under the rendered name (a sleeping toolbox pod): the
// HPA's side is what is shown here; the operator's side (it never applies replicas the HPA owns)
// is test/pool/exposure.k8s.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HorizontalPodAutoscalerType } from '../../src/kube/types.js';
import { waitFor } from '../support/kube.js';
import { apply, kubectlOk, nodeImage, nodeUnavailable, restrictedDeployment, restrictedNamespace } from '../support/node.js';
import { renderPool } from '../support/pool-render.js';

const unavailable = nodeUnavailable();
if (unavailable) process.stderr.write(`[node] skipped: ${unavailable}\n`);

interface Hpa {
  spec: { minReplicas: number; scaleTargetRef: { name: string } };
  status?: {
    currentReplicas?: number;
    desiredReplicas?: number;
    conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
  };
}

describe.skipIf(unavailable)('a responder HPA on the real node', () => {
  let ns: { name: string; remove(): Promise<void> };

  beforeAll(async () => {
    ns = await restrictedNamespace('hpa');
  });
  afterAll(async () => {
    await ns?.remove();
  });

  it('the HPA controller takes it up: scales its Deployment to minReplicas, and says the CPU metric is unavailable', async () => {
    const spec = {
      issuer: { secretName: 'ca' },
      signing: { softwareKey: { secretName: 'ca' } },
      sources: [{ opensslIndex: { configMapName: 'ca-db' } }],
      store: { type: 'Redis', redis: { primaryURL: 'redis://redis:6379' } },
      responder: { autoscaling: { minReplicas: 2, maxReplicas: 4 }, pod: { resources: { requests: { cpu: '10m' } } } },
    };
    const [w] = renderPool(spec, { name: 'pool', namespace: ns.name }).workloads.filter((x) => x.type === HorizontalPodAutoscalerType);
    expect(w, 'one HPA rendered').toBeDefined();
    // No OcspResponderPool owns it here: the garbage collector would delete an object whose owner does not exist.
    const hpa = { ...w!.object, metadata: { ...w!.object.metadata, ownerReferences: undefined } };
    const target = (w!.object as unknown as Hpa).spec.scaleTargetRef.name;
    const started = Date.now();
    await apply([
      restrictedDeployment(ns.name, target, {
        replicas: 1,
        containers: [
          { name: 'responder', image: nodeImage('toolbox'), command: ['sleep', 'infinity'], resources: { requests: { cpu: '10m' } } },
        ],
      }),
      hpa,
    ]);
    const get = async () => JSON.parse(await kubectlOk(['-n', ns.name, 'get', 'horizontalpodautoscaler', target, '-o', 'json'])) as Hpa;
    const scaled = await waitFor(
      'the Deployment scaled to minReplicas by the HPA',
      async () => {
        const d = JSON.parse(await kubectlOk(['-n', ns.name, 'get', 'deployment', target, '-o', 'json'])) as { spec: { replicas: number } };
        return d.spec.replicas === 2 ? Date.now() - started : undefined;
      },
      120_000,
      1_000,
    );
    process.stderr.write(`[hpa] ${target}: scaled 1 → 2 (minReplicas) by the HPA controller ${scaled} ms after apply\n`);
    const status = await waitFor(
      'the HPA conditions',
      async () => {
        const h = await get();
        const active = h.status?.conditions?.find((c) => c.type === 'ScalingActive');
        return active?.status === 'False' ? h.status : undefined;
      },
      120_000,
      1_000,
    );
    const able = status.conditions?.find((c) => c.type === 'AbleToScale');
    const active = status.conditions?.find((c) => c.type === 'ScalingActive');
    process.stderr.write(`[hpa] conditions: ${JSON.stringify(status.conditions?.map((c) => `${c.type}=${c.status} ${c.reason}`))}\n`);
    expect(able?.status).toBe('True');
    // no metrics-server on this node: the resource metrics API is not there
    expect(active?.reason).toBe('FailedGetResourceMetric');
    expect(active?.message).toMatch(/cpu/);
  });
});
