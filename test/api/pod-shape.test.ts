// The pod shape's lists are written twice, as TypeScript constants (the zod schema and the
// renderer's tests read them) and inside the CRD's CEL rules; these tests hold the two together,
// and the two sections (signers, responder) to one schema.
import { describe, expect, it } from 'vitest';
import { KIND_POOL, OPERATOR_POD_NAMES, POD_LEVEL_FIELDS, PodShapeSchema } from '../../src/api/index.js';
import { crdSchema } from './crds.js';
import type { JSONSchemaProps } from './openapi-validate.js';

const spec = crdSchema(KIND_POOL).properties?.spec;
const shapeOf = (section: 'signers' | 'responder'): JSONSchemaProps => {
  const s = spec?.properties?.[section]?.properties?.pod;
  if (!s) throw new Error(`the CRD has no spec.${section}.pod`);
  return s;
};
/** The quoted strings of the one CEL rule on `node`. */
const quoted = (node: JSONSchemaProps | undefined): string[] =>
  [...(node?.['x-kubernetes-validations']?.[0]?.rule ?? '').matchAll(/'([^']+)'/g)].map((m) => m[1] ?? '');

describe('the pod shape in the CRD', () => {
  it('is one schema in spec.signers.pod and spec.responder.pod', () => {
    expect(shapeOf('signers')).toEqual(shapeOf('responder'));
    expect(Object.keys(shapeOf('signers').properties ?? {}).sort()).toEqual(Object.keys(PodShapeSchema.shape).sort());
  });

  it('refuses exactly the names OPERATOR_POD_NAMES lists, as zod does', () => {
    const p = shapeOf('signers').properties ?? {};
    const rules: Record<keyof typeof OPERATOR_POD_NAMES, JSONSchemaProps | undefined> = {
      volumes: p.volumes?.items?.properties?.name,
      mountPaths: p.volumeMounts?.items?.properties?.mountPath,
      env: p.env?.items?.properties?.name,
      labels: p.labels,
      containers: p.initContainers?.items?.properties?.name,
    };
    for (const [list, node] of Object.entries(rules) as Array<[keyof typeof OPERATOR_POD_NAMES, JSONSchemaProps | undefined]>) {
      expect(quoted(node).sort(), `CEL rule for ${list}`).toEqual([...OPERATOR_POD_NAMES[list]].sort());
    }
    const using: Record<keyof typeof OPERATOR_POD_NAMES, (name: string) => unknown> = {
      volumes: (name) => ({ volumes: [{ name, emptyDir: {} }] }),
      mountPaths: (mountPath) => ({ volumeMounts: [{ name: 'v', mountPath }] }),
      env: (name) => ({ env: [{ name, value: 'x' }] }),
      labels: (name) => ({ labels: { [name]: 'x' } }),
      containers: (name) => ({ initContainers: [{ name, image: 'x' }] }),
    };
    for (const [list, names] of Object.entries(OPERATOR_POD_NAMES) as Array<[keyof typeof OPERATOR_POD_NAMES, readonly string[]]>) {
      for (const name of names) expect(PodShapeSchema.safeParse(using[list](name)).success, `zod refuses ${list} ${name}`).toBe(false);
      const mine = list === 'mountPaths' ? '/mine' : 'mine';
      expect(PodShapeSchema.safeParse(using[list](mine)).success, `zod accepts ${list} ${mine}`).toBe(true);
    }
  });

  it('with the Embedded store, refuses in signers.pod exactly the pod-level fields', () => {
    const rule = spec?.['x-kubernetes-validations']?.find((r) => r.fieldPath === '.signers.pod')?.rule ?? '';
    const fields = [...rule.matchAll(/has\(self\.signers\.pod\.(\w+)\)/g)].map((m) => m[1]);
    expect(fields.sort()).toEqual([...POD_LEVEL_FIELDS].sort());
  });
});
