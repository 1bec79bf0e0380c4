// Holds the CRD files and the zod schemas together without a Kubernetes API: both must reach the
// same verdict on every sample, name the same field, apply the same defaults, and declare the same
// types, enums, patterns and bounds. CEL rules are not run here; the test checks instead that
// each one has a sample (and so a zod twin that rejects it), and crd.k8s.test.ts runs them.

import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  API_GROUP,
  API_VERSION,
  CATEGORY,
  KIND_POOL,
  KIND_STAPLE,
  OcspResponderPoolSchema,
  OcspResponderPoolSpecSchema,
  OcspResponderPoolStatusSchema,
  OcspStapleSchema,
  OcspStapleSpecSchema,
  OcspStapleStatusSchema,
  PLURAL_POOLS,
  PLURAL_STAPLES,
  SHORT_NAME_POOL,
  SHORT_NAME_STAPLE,
  formatPath,
} from '../../src/api/index.js';
import { type ApiKind, crdSchema, loadCrd } from './crds.js';
import { type JSONSchemaProps, applyDefaults, celRules, schemaDefaults, validateObject } from './openapi-validate.js';
import { type Sample, samples } from './samples.js';

const objectSchemas: Record<ApiKind, z.ZodType> = { [KIND_STAPLE]: OcspStapleSchema, [KIND_POOL]: OcspResponderPoolSchema };

/** True when one of the paths is the field or lies inside it. */
function names(paths: readonly string[], field: string): boolean {
  return paths.some((p) => p === field || p.startsWith(`${field}.`) || p.startsWith(`${field}[`));
}

/** `spec.sources[1]` → `spec.sources[*]`, the form celRules() reports locations in. */
const generic = (field: string) => field.replace(/\[\d+\]/g, '[*]');

function zodVerdict(s: Sample): { ok: boolean; paths: string[]; value?: unknown } {
  const r = objectSchemas[s.kind].safeParse(s.object);
  return r.success ? { ok: true, paths: [], value: r.data } : { ok: false, paths: r.error.issues.map((i) => formatPath(i.path)) };
}

describe('CRD metadata matches the constants in src/api/group.ts', () => {
  it.each([
    [KIND_STAPLE, PLURAL_STAPLES, SHORT_NAME_STAPLE],
    [KIND_POOL, PLURAL_POOLS, SHORT_NAME_POOL],
  ] as const)('%s', (kind, plural, short) => {
    const crd = loadCrd(kind);
    expect(crd.apiVersion).toBe('apiextensions.k8s.io/v1');
    expect(crd.metadata.name).toBe(`${plural}.${API_GROUP}`);
    expect(crd.spec.group).toBe(API_GROUP);
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.names).toMatchObject({ kind, plural, shortNames: [short], categories: [CATEGORY] });
    expect(crd.spec.versions).toHaveLength(1);
    const v = crd.spec.versions[0];
    expect(v).toMatchObject({ name: API_VERSION, served: true, storage: true, subresources: { status: {} } });
    const cols = (v?.additionalPrinterColumns ?? []).map((c) => c.name);
    expect(cols).toEqual(expect.arrayContaining(['Ready', 'Reason', 'Age']));
  });

  it('staple printer columns tell the story', () => {
    const cols = loadCrd(KIND_STAPLE).spec.versions[0]?.additionalPrinterColumns ?? [];
    expect(cols.map((c) => [c.name, c.jsonPath, c.type, c.priority ?? 0])).toEqual([
      ['Certificate', '.spec.secretName', 'string', 0],
      ['Serial', '.status.certificate.serial', 'string', 1],
      ['OCSP', '.status.staple.certStatus', 'string', 0],
      ['Next Update', '.status.staple.nextUpdate', 'string', 0],
      ['Refresh', '.status.nextRefreshTime', 'string', 1],
      ['Ready', '.status.conditions[?(@.type=="Ready")].status', 'string', 0],
      ['Reason', '.status.conditions[?(@.type=="Ready")].reason', 'string', 0],
      ['Fresh', '.status.conditions[?(@.type=="Fresh")].reason', 'string', 1],
      ['Age', '.metadata.creationTimestamp', 'date', 0],
    ]);
  });

  it('every printer column points at a field the schema declares', () => {
    for (const kind of [KIND_STAPLE, KIND_POOL] as const) {
      const schema = crdSchema(kind);
      for (const col of loadCrd(kind).spec.versions[0]?.additionalPrinterColumns ?? []) {
        if (col.jsonPath === '.metadata.creationTimestamp') continue;
        const parts = col.jsonPath
          .replace(/\[\?\(@\.type=="\w+"\)\]/, '')
          .split('.')
          .filter(Boolean);
        let node: JSONSchemaProps | undefined = schema;
        for (const p of parts) node = node?.properties?.[p] ?? node?.items?.properties?.[p];
        expect(node, `${kind} column ${col.name} → ${col.jsonPath}`).toBeDefined();
      }
    }
  });
});

describe('samples', () => {
  it('have unique DNS-label names, and every rejection names its field and layer', () => {
    expect(new Set(samples.map((s) => s.name)).size).toBe(samples.length);
    for (const s of samples) {
      expect(s.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect(s.name.length).toBeLessThanOrEqual(63);
      expect((s.object.metadata as { name?: string }).name).toBe(s.name);
      if (s.expect === 'reject') {
        expect(s.field, s.name).toBeTruthy();
        expect(s.rule, s.name).toBeDefined();
        if (s.via === 'status') expect(s.field?.startsWith('status'), s.name).toBe(true);
      }
    }
  });
});

describe.each(samples.map((s) => [s.name, s] as const))('sample %s', (_name, s) => {
  it(`zod ${s.expect === 'accept' ? 'accepts' : `rejects naming ${s.field}`}`, () => {
    const v = zodVerdict(s);
    if (s.expect === 'accept') expect(v.paths).toEqual([]);
    else {
      expect(v.ok).toBe(false);
      expect(names(v.paths, s.field ?? '?'), `zod named ${v.paths.join(', ')}`).toBe(true);
    }
  });

  it(`the CRD schema ${s.expect === 'reject' && s.rule === 'schema' ? `rejects naming ${s.field}` : 'accepts (CEL aside)'}`, () => {
    const { issues } = validateObject(crdSchema(s.kind), s.object);
    if (s.expect === 'reject' && s.rule === 'schema') {
      expect(issues.length).toBeGreaterThan(0);
      expect(
        names(
          issues.map((i) => i.path),
          s.field ?? '?',
        ),
        JSON.stringify(issues),
      ).toBe(true);
    } else {
      expect(issues).toEqual([]);
    }
  });

  if (s.expect === 'accept') {
    it('zod and the CRD default it to the same object', () => {
      const crd = applyDefaults(crdSchema(s.kind), s.object) as Record<string, unknown>;
      const zod = zodVerdict(s).value as Record<string, unknown>;
      expect(zod.spec).toEqual(crd.spec);
      expect(zod.status).toEqual(crd.status);
    });
  }

  if (s.rule === 'cel') {
    it('a CEL rule in the CRD reports at that field', () => {
      const at = celRules(crdSchema(s.kind)).map((r) => r.reportsAt);
      expect(at).toContain(generic(s.field ?? '?'));
    });
  }
});

describe('CEL rules', () => {
  it.each([KIND_STAPLE, KIND_POOL] as const)('every %s rule has a rejecting sample (and so a zod twin)', (kind) => {
    const covered = new Set(samples.filter((s) => s.kind === kind && s.rule === 'cel').map((s) => generic(s.field ?? '')));
    const rules = celRules(crdSchema(kind));
    expect(rules.length).toBeGreaterThan(0);
    for (const r of rules) expect(covered, `${r.reportsAt}: ${r.rule}`).toContain(r.reportsAt);
  });
});

describe('defaults', () => {
  /** Paths (with [*]) where defaulting added a value the input did not have. */
  function defaulted(input: unknown, output: unknown, path = ''): string[] {
    if (Array.isArray(output)) {
      return output.flatMap((v, i) => defaulted(Array.isArray(input) ? input[i] : undefined, v, `${path}[*]`));
    }
    if (typeof output === 'object' && output !== null) {
      const inObj = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
      return Object.entries(output).flatMap(([k, v]) => {
        const p = path ? `${path}.${k}` : k;
        return [...(inObj[k] === undefined ? [p] : []), ...defaulted(inObj[k], v, p)];
      });
    }
    return [];
  }

  it.each([KIND_STAPLE, KIND_POOL] as const)('every default in the %s CRD is exercised by an accepted sample', (kind) => {
    const schema = crdSchema(kind);
    const seen = new Set(
      samples.filter((s) => s.kind === kind && s.expect === 'accept').flatMap((s) => defaulted(s.object, applyDefaults(schema, s.object))),
    );
    for (const path of schemaDefaults(schema).keys()) expect(seen, path).toContain(path);
  });

  it('a minimal OcspStaple gets exactly these defaults (from the CRD and from zod)', () => {
    const spec = OcspStapleSpecSchema.parse({ secretName: 'web-tls' });
    const crd = applyDefaults(crdSchema(KIND_STAPLE), { spec: { secretName: 'web-tls' } }) as { spec: unknown };
    expect(crd.spec).toEqual(spec);
    expect(spec).toEqual({
      secretName: 'web-tls',
      method: 'POST',
      hashAlgorithm: 'SHA-1',
      nonce: false,
      onRenewal: 'KeepPreviousPair',
      refresh: { fraction: 0.5, jitter: 0.1, retryInitial: '10s', retryMax: '10m', minInterval: '1m' },
      clockSkew: '5m',
      signerMinRemaining: '1h',
      requestTimeout: '10s',
      freshnessWarning: '24h',
      signerExpiryWarning: '168h',
      onRevoked: { reissue: false },
      publishUnknown: false,
      paused: false,
    });
  });
});

describe('declarations agree (zod → JSON Schema vs the CRD)', () => {
  type Node = JSONSchemaProps & { propertyNames?: unknown; const?: unknown };
  const SAFE = Number.MAX_SAFE_INTEGER;
  const src = (p: string | undefined) => (p === undefined ? undefined : new RegExp(p).source);

  /** zod spells int-or-string as anyOf [integer, string with the pattern]; the CRD as the extension. */
  function intOrString(zod: Node): Node | undefined {
    const branches = zod.anyOf ?? [];
    const str = branches.find((b) => b.type === 'string');
    return branches.length === 2 && branches.some((b) => b.type === 'integer') && str ? { pattern: str.pattern } : undefined;
  }

  function compare(crd: Node, zodNode: Node, path: string, out: string[]): void {
    const say = (what: string, a: unknown, b: unknown) =>
      out.push(`${path || '(root)'}: ${what}: CRD ${JSON.stringify(a)} vs zod ${JSON.stringify(b)}`);
    let zod = zodNode;
    if (crd['x-kubernetes-int-or-string']) {
      const z = intOrString(zod);
      if (!z) say('int-or-string', true, zod.anyOf);
      zod = { ...z, 'x-kubernetes-int-or-string': true };
    }
    // zod's loose objects keep unknown keys, which JSON Schema says as `additionalProperties: {}`.
    const zodKeeps = typeof zod.additionalProperties === 'object' && Object.keys(zod.additionalProperties).length === 0;
    if (!!crd['x-kubernetes-preserve-unknown-fields'] !== zodKeeps)
      say('keeps unknown fields', !!crd['x-kubernetes-preserve-unknown-fields'], zodKeeps);
    if (zodKeeps) zod = { ...zod, additionalProperties: undefined };
    if (crd.type !== zod.type) say('type', crd.type, zod.type);
    const zmin = zod.minimum === -SAFE ? undefined : zod.minimum;
    const zmax = zod.maximum === SAFE ? undefined : zod.maximum;
    const pairs: [string, unknown, unknown][] = [
      ['minimum', crd.minimum, zmin],
      ['maximum', crd.maximum, zmax],
      ['minLength', crd.minLength, zod.minLength],
      ['maxLength', crd.maxLength, zod.maxLength],
      ['minItems', crd.minItems, zod.minItems],
      ['maxItems', crd.maxItems, zod.maxItems],
      ['format', crd.format === 'int32' || crd.format === 'int64' ? undefined : crd.format, zod.format],
      // zod spells date-time as a regex as well; the CRD's format is the whole rule.
      // RegExp.source writes `/` as `\/`; both go through it so only the meaning is compared.
      ['pattern', src(crd.pattern), crd.format === 'date-time' ? src(crd.pattern) : src(zod.pattern)],
      ['enum', crd.enum ? [...crd.enum].sort() : undefined, zod.enum ? [...zod.enum].sort() : undefined],
      ['default', crd.default, zod.default],
      ['required', [...(crd.required ?? [])].sort(), [...(zod.required ?? [])].sort()],
    ];
    for (const [what, a, b] of pairs) if (JSON.stringify(a) !== JSON.stringify(b)) say(what, a, b);

    const ck = Object.keys(crd.properties ?? {}).sort();
    const zk = Object.keys(zod.properties ?? {}).sort();
    if (JSON.stringify(ck) !== JSON.stringify(zk)) say('properties', ck, zk);
    for (const k of ck) {
      const zp = zod.properties?.[k];
      const cp = crd.properties?.[k];
      if (zp && cp) compare(cp, zp, path ? `${path}.${k}` : k, out);
    }
    if (crd.items && zod.items) compare(crd.items, zod.items, `${path}[*]`, out);
    else if (crd.items || zod.items) say('items', !!crd.items, !!zod.items);
    const ca = typeof crd.additionalProperties === 'object' ? crd.additionalProperties : undefined;
    const za = typeof zod.additionalProperties === 'object' ? zod.additionalProperties : undefined;
    if (ca && za) compare(ca, za, `${path}.*`, out);
    else if (ca || za) say('additionalProperties', !!ca, !!za);
  }

  it.each([
    [KIND_STAPLE, 'spec', OcspStapleSpecSchema],
    [KIND_STAPLE, 'status', OcspStapleStatusSchema],
    [KIND_POOL, 'spec', OcspResponderPoolSpecSchema],
    [KIND_POOL, 'status', OcspResponderPoolStatusSchema],
  ] as const)('%s .%s', (kind, part, schema) => {
    const crd = crdSchema(kind).properties?.[part];
    expect(crd).toBeDefined();
    const zod = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Node;
    const out: string[] = [];
    compare(crd as Node, zod, part, out);
    expect(out).toEqual([]);
  });
});
