// The pods a pool renders pass PodSecurity `restricted`, as the apiserver's own admission judges
// them: each pod template of every shape (embedded; Redis signers and responders; software key and
// PKCS#11; no pod shape, and pod shapes that set every field, init containers included) is sent as
// a Pod with dryRun=All into a namespace that enforces `restricted`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NamespaceType, PodType, ServiceAccountType, type KubeObject, type ResourceType } from '../../src/kube/types.js';
import { kubeClient } from '../support/kube.js';
import { SHAPE_PRIORITY_CLASS, fullPodShape } from '../support/pod-shape.js';
import { renderPool } from '../support/pool-render.js';

const PriorityClassType: ResourceType = {
  group: 'scheduling.k8s.io',
  version: 'v1',
  plural: 'priorityclasses',
  kind: 'PriorityClass',
  namespaced: false,
};
const client = kubeClient();
const ns = `psa-${Math.random().toString(36).slice(2, 7)}`;

beforeAll(async () => {
  await client.create(NamespaceType, {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: ns,
      labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' },
    },
  });
  // ServiceAccount admission may be on: the pods name the pool's ServiceAccount.
  await client.create(ServiceAccountType, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'ca', namespace: ns } });
  // Priority admission refuses a pod that names a PriorityClass that does not exist.
  await client.apply(
    PriorityClassType,
    { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: SHAPE_PRIORITY_CLASS }, value: 1000 } as KubeObject,
    'pod-security-test',
  );
});
afterAll(async () => {
  await client.delete(NamespaceType, undefined, ns);
  await client.delete(PriorityClassType, undefined, SHAPE_PRIORITY_CLASS);
});

const base = {
  issuer: { secretName: 'ca' },
  delegatedResponder: { mode: 'None' },
  sources: [{ opensslIndex: { configMapName: 'ca-db' } }],
};
const pkcs11 = { pkcs11: { tokenLabel: 't', keyLabel: 'k', pinSecretRef: { name: 'pin', key: 'pin' } } };
const redis = { type: 'Redis', redis: { primaryURL: 'redis://redis:6379', replicaURLs: ['redis://replica:6379'] } };
const full = fullPodShape('signer');
const shapes: Array<[string, Record<string, unknown>]> = [
  ['embedded, software key', { ...base, signing: { softwareKey: { secretName: 'ca' } } }],
  ['Redis, PKCS#11', { ...base, signing: pkcs11, store: redis }],
  [
    'Redis, PKCS#11, every pod shape field set',
    { ...base, signing: pkcs11, store: redis, signers: { pod: fullPodShape('signer') }, responder: { pod: fullPodShape('responder') } },
  ],
  [
    'embedded, PKCS#11, every pod shape field set (the signer’s container fields, volumes and init containers)',
    {
      ...base,
      signing: pkcs11,
      responder: { pod: fullPodShape('responder') },
      signers: {
        pod: {
          resources: full.resources,
          env: full.env,
          volumeMounts: [{ name: 'tokens', mountPath: '/var/lib/softhsm/tokens' }],
          volumes: [{ name: 'tokens', persistentVolumeClaim: { claimName: 'tokens' } }],
          initContainers: [{ name: 'token-check', image: 'signer:test', args: ['softhsm2-util', '--show-slots'] }],
        },
      },
    },
  ],
];

describe('pool pods under PodSecurity restricted', () => {
  it.each(shapes)('%s: every pod template is admitted', async (_name, spec) => {
    const { templates } = renderPool(spec, { namespace: ns });
    expect(templates.length).toBeGreaterThan(0);
    for (const { workload, template, claimVolumes } of templates) {
      // The pod its controller makes: the template, plus the claims of a StatefulSet's templates.
      const spec = { ...template.spec, volumes: [...(template.spec.volumes ?? []), ...claimVolumes] };
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: `${workload.split('/')[1]}-probe`,
          namespace: ns,
          labels: template.metadata.labels,
          annotations: template.metadata.annotations,
        },
        spec,
      };
      const admitted = await client.create(PodType, pod as KubeObject, { dryRun: 'All' }).then(
        () => true,
        (e: unknown) => String(e),
      );
      expect(admitted, `${workload}: PodSecurity restricted`).toBe(true);
    }
  });
});
