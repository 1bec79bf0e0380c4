// Per-pool condition metrics from the real pool controller against the real apiserver: the
// series say what the pool's status conditions say (kube-state-metrics' shape), and a deleted
// pool's series are gone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OcspResponderPoolType, type KubeObject } from '../../src/kube/types.js';
import type { Condition } from '../../src/api/condition.js';
import type { Manager } from '../../src/runtime/manager.js';
import { createNamespace, kubeClient, metricValue, waitFor } from '../support/kube.js';
import { createCa, issueLeaf } from '../support/pki.js';
import { createCaObjects, startPoolController } from '../support/pool-harness.js';

const client = kubeClient();
let ns: { name: string; remove(): Promise<void> };
let manager: Manager;

beforeAll(async () => {
  ns = await createNamespace(client, 'pool-metrics');
  const ca = await createCa({ keyAlg: 'P-256', name: 'CN=Pool Metrics CA' });
  await createCaObjects(client, ns.name, ca, [await issueLeaf(ca, { dnsNames: ['m.test'] })]);
  manager = await startPoolController(client, ns.name);
});

afterAll(async () => {
  await manager?.stop();
  await ns?.remove();
});

type Pool = KubeObject & { status?: { conditions?: Condition[] } };
const scrape = () => manager.metrics.registry.metrics();

describe('per-pool metrics', () => {
  it('each condition is three series (1 for its status), Ready one with its reason; deleted, all gone', async () => {
    await client.create(OcspResponderPoolType, {
      apiVersion: 'ocsp-operator.dev/v1alpha1',
      kind: 'OcspResponderPool',
      metadata: { name: 'measured', namespace: ns.name },
      spec: {
        issuer: { secretName: 'ca' },
        signing: { softwareKey: { secretName: 'ca' } },
        delegatedResponder: { mode: 'None' },
        sources: [{ opensslIndex: { configMapName: 'ca-db' } }],
      },
    } as KubeObject);
    const me = { namespace: ns.name, name: 'measured' };
    // The status and the series, once they agree on Ready (the pool resyncs; a scrape can fall between).
    const { pool, text } = await waitFor(
      'pool status and series to agree',
      async () => {
        const p = await client.getOrUndefined<Pool>(OcspResponderPoolType, ns.name, 'measured');
        const ready = p?.status?.conditions?.find((c) => c.type === 'Ready');
        if (!ready) return undefined;
        const t = await scrape();
        return metricValue(t, 'ocsp_operator_pool_ready', { ...me, reason: ready.reason }) === (ready.status === 'True' ? 1 : 0)
          ? { pool: p!, text: t }
          : undefined;
      },
      20_000,
    );
    const conditions = pool.status!.conditions!;
    expect(conditions.length).toBeGreaterThan(1);
    for (const c of conditions) {
      for (const status of ['True', 'False', 'Unknown']) {
        expect(metricValue(text, 'ocsp_operator_pool_condition', { ...me, type: c.type, status }), `${c.type} ${status}`).toBe(
          c.status === status ? 1 : 0,
        );
      }
    }
    const series = (t: string) => t.split('\n').filter((l) => !l.startsWith('#') && l.includes(`namespace="${ns.name}",name="measured"`));
    expect(series(text)).toHaveLength(3 * conditions.length + 1);

    await client.delete(OcspResponderPoolType, ns.name, 'measured');
    const after = await waitFor('the deleted pool series to go', async () => {
      const t = await scrape();
      return series(t).length === 0 ? t : undefined;
    });
    expect(metricValue(after, 'ocsp_operator_pool_ready', me)).toBeUndefined();
  });
});
