// Scaling a Redis pool's signers changes the StatefulSet's replicas and nothing else: the pod
// template carries no share and no count (the signers learn theirs at run time from the
// StatefulSet, src/signer/shard-source.ts), so the StatefulSet controller starts or stops pods
// and restarts none. The pods' Role grants exactly that read.
import { describe, expect, it } from 'vitest';
import { renderPool, MINIMAL_REDIS_POOL_SPEC } from '../support/pool-render.js';

const spec = MINIMAL_REDIS_POOL_SPEC;

interface Rendered {
  kind?: string;
  metadata?: { name?: string };
  spec?: { replicas?: number; template?: unknown };
  rules?: Array<{ apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }>;
}

function signerSet(replicas: number): Rendered {
  const sts = renderPool(spec, { signerReplicas: replicas })
    .workloads.map((w) => w.object as Rendered)
    .find((o) => o.kind === 'StatefulSet');
  if (!sts) throw new Error('no signer StatefulSet rendered');
  return sts;
}

describe('signer shares are not in the pod template', () => {
  it('the signer StatefulSet for 1 and 3 replicas differs in spec.replicas only: the template is byte-identical', () => {
    const [one, three] = [signerSet(1), signerSet(3)];
    expect(JSON.stringify(one.spec?.template)).toBe(JSON.stringify(three.spec?.template));
    expect(JSON.stringify({ ...one.spec, replicas: 3 })).toBe(JSON.stringify(three.spec));
    expect([one.spec?.replicas, three.spec?.replicas]).toEqual([1, 3]);
  });

  it('the signers learn their share from their own StatefulSet, by name', () => {
    const sts = signerSet(2);
    const args = JSON.stringify(sts.spec?.template);
    expect(args).toContain('"--shard-from-statefulset","ca-signer"');
    expect(sts.metadata?.name).toBe('ca-signer');
    expect(args).not.toMatch(/--shard-of-pod|"--shard"/);
  });

  it("the pods' Role: get and watch of that one StatefulSet, nothing else of apps; an embedded pool gets none", () => {
    const roleOf = (s: Record<string, unknown>) =>
      renderPool(s)
        .workloads.map((w) => w.object as Rendered)
        .find((o) => o.kind === 'Role');
    const apps = roleOf(spec)?.rules?.filter((r) => r.apiGroups.includes('apps'));
    expect(apps).toEqual([{ apiGroups: ['apps'], resources: ['statefulsets'], verbs: ['get', 'watch'], resourceNames: ['ca-signer'] }]);
    const embedded = roleOf({ ...spec, store: { type: 'Embedded' } });
    expect(embedded?.rules?.filter((r) => r.apiGroups.includes('apps'))).toEqual([]);
  });
});
