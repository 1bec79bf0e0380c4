// Every OcspStaple and OcspResponderPool written out in README.md is one a user can apply: the
// real apiserver validates each (server-side dry run, the installed CRDs' schema and CEL rules)
// and so does zod. A README example that drifts from the API fails here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseOcspResponderPool, parseOcspStaple } from '../../src/api/index.js';
import { repoRoot } from '../../src/devenv/control-plane.js';
import { OcspResponderPoolType, OcspStapleType, type KubeObject } from '../../src/kube/types.js';
import { createNamespace, kubeClient } from '../support/kube.js';

interface ReadmeObject {
  line: number;
  object: KubeObject & { metadata: { name?: string; namespace?: string } };
}

function readmeObjects(): ReadmeObject[] {
  const text = readFileSync(join(repoRoot(), 'README.md'), 'utf8');
  const out: ReadmeObject[] = [];
  for (const m of text.matchAll(/```yaml\n([\s\S]*?)```/g)) {
    const line = text.slice(0, m.index).split('\n').length;
    for (const doc of parseAllDocuments(m[1] ?? '')) {
      const o = doc.toJS() as ReadmeObject['object'] | null;
      if (o?.apiVersion?.startsWith('ocsp-operator.dev/')) out.push({ line, object: o });
    }
  }
  return out;
}

const client = kubeClient();
let ns: { name: string; remove(): Promise<void> };
beforeAll(async () => {
  ns = await createNamespace(client, 'readme');
});
afterAll(async () => ns.remove());

describe('README examples', () => {
  const objects = readmeObjects();

  it('README shows both kinds', () => {
    expect(new Set(objects.map((o) => o.object.kind))).toEqual(new Set(['OcspStaple', 'OcspResponderPool']));
  });

  it.each(objects.map((o) => [`${o.object.kind} ${o.object.metadata.name ?? '?'} (README line ${o.line})`, o] as const))(
    '%s is accepted by the apiserver and by zod',
    async (_label, o) => {
      const obj = structuredClone(o.object);
      obj.metadata.namespace = ns.name;
      const staple = obj.kind === 'OcspStaple';
      await client.create(staple ? OcspStapleType : OcspResponderPoolType, obj, { dryRun: 'All' });
      const parsed = staple ? parseOcspStaple(obj) : parseOcspResponderPool(obj);
      expect(parsed.ok ? 'valid' : JSON.stringify(parsed), `zod on README line ${o.line}`).toBe('valid');
    },
  );
});
