// The pods a pool renders pass PodSecurity `restricted`, as the apiserver's own admission judges
// them: each pod template of every shape (embedded; Redis signers and responders; software key and
// PKCS#11) is sent as a Pod with dryRun=All into a namespace that enforces `restricted`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseOcspResponderPool } from '../../src/api/pool.js';
import { NamespaceType, type KubeObject, type ResourceType } from '../../src/kube/types.js';
import { poolWorkloads, ServiceAccountType } from '../../src/pool/workloads.js';
import { kubeClient } from '../support/kube.js';

const PodType: ResourceType = { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true };
const client = kubeClient();
const ns = `psa-${Math.random().toString(36).slice(2, 7)}`;

beforeAll(async () => {
  await client.create(NamespaceType, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' } } });
  // ServiceAccount admission may be on: the pods name the pool's ServiceAccount.
  await client.create(ServiceAccountType, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'ca', namespace: ns } });
});
afterAll(async () => client.delete(NamespaceType, undefined, ns));

const base = { issuer: { secretName: 'ca' }, delegatedResponder: { mode: 'None' }, sources: [{ opensslIndex: { configMapName: 'ca-db' } }] };
const shapes: Array<[string, Record<string, unknown>]> = [
  ['embedded, software key', { ...base, signing: { softwareKey: { secretName: 'ca' } } }],
  ['Redis, PKCS#11', { ...base, signing: { pkcs11: { tokenLabel: 't', keyLabel: 'k', pinSecretRef: { name: 'pin', key: 'pin' } } }, store: { type: 'Redis', redis: { primaryURL: 'redis://redis:6379', replicaURLs: ['redis://replica:6379'] } } }],
];

describe('pool pods under PodSecurity restricted', () => {
  it.each(shapes)('%s: every pod template is admitted', async (_name, spec) => {
    const pool = parseOcspResponderPool({ apiVersion: 'ocsp-operator.dev/v1alpha1', kind: 'OcspResponderPool', metadata: { name: 'ca', namespace: ns, uid: '00000000-0000-0000-0000-000000000000' }, spec });
    if (!pool.ok) throw new Error(pool.message);
    const templates = poolWorkloads(pool.value, { images: { operator: 'ocsp-operator:test', signer: 'ocsp-operator-signer:test' }, signerReplicas: 2 })
      .map((w) => w.object as KubeObject & { spec?: { template?: { metadata?: Record<string, unknown>; spec: Record<string, unknown> } } })
      .filter((o) => o.spec?.template);
    expect(templates.length).toBeGreaterThan(0);
    for (const t of templates) {
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: `${t.metadata?.name}-probe`, namespace: ns }, spec: t.spec!.template!.spec };
      const admitted = await client.create(PodType, pod as KubeObject, { dryRun: 'All' }).then(() => true, (e: unknown) => String(e));
      expect(admitted, `${t.kind} ${ns}/${t.metadata?.name}: PodSecurity restricted`).toBe(true);
    }
  });
});
