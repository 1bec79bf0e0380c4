// A small structural validator for a CRD's openAPIV3Schema: what the apiserver checks before CEL
// (type, required, enum, pattern, bounds, items, properties, date-time, list-type set/map) and how
// it applies defaults. It exists so the drift test can hold the CRD files and the zod schemas to
// the same samples without a Kubernetes API; the real apiserver runs the same samples in
// crd.k8s.test.ts. CEL rules are not evaluated here, only listed (celRules) so the test can check
// that each has a zod twin and a sample.

export interface CelRule {
  rule: string;
  message?: string;
  fieldPath?: string;
  reason?: string;
}

export interface JSONSchemaProps {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, JSONSchemaProps>;
  additionalProperties?: JSONSchemaProps | boolean;
  required?: string[];
  items?: JSONSchemaProps;
  enum?: unknown[];
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  default?: unknown;
  'x-kubernetes-validations'?: CelRule[];
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  /** An object whose undeclared fields are kept as written (a core type the CRD does not spell out). */
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  /** An integer or a string (a Quantity); `pattern` then applies to the string. */
  'x-kubernetes-int-or-string'?: boolean;
  anyOf?: JSONSchemaProps[];
}

export interface ValidationIssue {
  /** apiserver-style field path: `spec.sources[0].opensslIndex.key`. */
  path: string;
  message: string;
}

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function child(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

/**
 * Structural defaulting as the apiserver does it: a missing property with a default gets a copy
 * of it, then defaulting continues inside (so `default: {}` on an object fills its children).
 */
export function applyDefaults(schema: JSONSchemaProps, value: unknown): unknown {
  if (isObject(value)) {
    const out: JsonObject = { ...value };
    for (const [key, prop] of Object.entries(schema.properties ?? {})) {
      if (out[key] === undefined && prop.default !== undefined) out[key] = clone(prop.default);
      if (out[key] !== undefined) out[key] = applyDefaults(prop, out[key]);
    }
    const ap = schema.additionalProperties;
    if (typeof ap === 'object') {
      for (const key of Object.keys(out)) {
        if (!schema.properties?.[key]) out[key] = applyDefaults(ap, out[key]);
      }
    }
    return out;
  }
  if (Array.isArray(value) && schema.items) {
    const items = schema.items;
    return value.map((v) => applyDefaults(items, v));
  }
  return value;
}

// RFC 3339 as the apiserver's date-time format check reads it (either case for T and Z; the
// calendar date must exist).
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function isDateTime(s: string): boolean {
  const m = DATE_TIME.exec(s);
  if (!m) return false;
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || h > 23 || mi > 59 || se > 59) return false;
  const days = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  return d >= 1 && d <= days;
}

function typeOk(type: JSONSchemaProps['type'], v: unknown): boolean {
  switch (type) {
    case undefined:
      return true;
    case 'object':
      return isObject(v);
    case 'array':
      return Array.isArray(v);
    case 'string':
      return typeof v === 'string';
    case 'boolean':
      return typeof v === 'boolean';
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
  }
}

/** Validates an already-defaulted value; returns every problem found, like the apiserver does. */
export function validate(schema: JSONSchemaProps, value: unknown, path = ''): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const add = (message: string, at = path) => issues.push({ path: at, message });

  if (!typeOk(schema.type, value)) {
    add(`must be of type ${schema.type}`);
    return issues;
  }
  if (schema['x-kubernetes-int-or-string'] && !typeOk('integer', value) && !typeOk('string', value)) {
    add('must be an integer or a string');
    return issues;
  }
  if (schema.enum && !schema.enum.some((e) => e === value)) add(`unsupported value ${JSON.stringify(value)}`);

  if (typeof value === 'string') {
    if (schema.minLength !== undefined && [...value].length < schema.minLength) add(`shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && [...value].length > schema.maxLength) add(`longer than ${schema.maxLength}`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) add(`does not match ${schema.pattern}`);
    if (schema.format === 'date-time' && !isDateTime(value)) add('not an RFC 3339 date-time');
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) add(`less than ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) add(`greater than ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) add(`fewer than ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) add(`more than ${schema.maxItems} items`);
    const items = schema.items;
    if (items) value.forEach((v, i) => issues.push(...validate(items, v, `${path}[${i}]`)));
    issues.push(...listTypeIssues(schema, value, path));
  }
  if (isObject(value)) {
    for (const key of schema.required ?? []) {
      if (value[key] === undefined) add('required', child(path, key));
    }
    for (const [key, v] of Object.entries(value)) {
      const prop = schema.properties?.[key];
      if (prop) issues.push(...validate(prop, v, child(path, key)));
      else if (typeof schema.additionalProperties === 'object') {
        issues.push(...validate(schema.additionalProperties, v, child(path, key)));
      }
      // Unknown fields are pruned by the apiserver (and stripped by zod): not an error.
    }
  }
  return issues;
}

/** x-kubernetes-list-type set / map: duplicates are rejected at the later index. */
function listTypeIssues(schema: JSONSchemaProps, list: unknown[], path: string): ValidationIssue[] {
  const kind = schema['x-kubernetes-list-type'];
  if (kind !== 'set' && kind !== 'map') return [];
  const keys = schema['x-kubernetes-list-map-keys'] ?? [];
  const seen = new Set<string>();
  const issues: ValidationIssue[] = [];
  list.forEach((item, i) => {
    const id = kind === 'set' ? JSON.stringify(item) : JSON.stringify(keys.map((k) => (isObject(item) ? item[k] : undefined)));
    if (seen.has(id)) issues.push({ path: `${path}[${i}]`, message: `duplicate value ${id}` });
    seen.add(id);
  });
  return issues;
}

/** Defaults, then validates: the order the apiserver uses. */
export function validateObject(schema: JSONSchemaProps, obj: unknown): { value: unknown; issues: ValidationIssue[] } {
  const value = applyDefaults(schema, obj);
  return { value, issues: validate(schema, value) };
}

export interface LocatedCelRule extends CelRule {
  /** Where the rule sits, as a field path with `[*]` for list items: `spec.sources[*]`. */
  at: string;
  /** Where its error points: `at` plus fieldPath. */
  reportsAt: string;
}

/** Every CEL rule in the schema with the field its error names. */
export function celRules(schema: JSONSchemaProps, path = ''): LocatedCelRule[] {
  const out: LocatedCelRule[] = [];
  for (const r of schema['x-kubernetes-validations'] ?? []) {
    const reportsAt = r.fieldPath ? path + r.fieldPath : path;
    out.push({ ...r, at: path, reportsAt });
  }
  for (const [key, prop] of Object.entries(schema.properties ?? {})) out.push(...celRules(prop, child(path, key)));
  if (schema.items) out.push(...celRules(schema.items, `${path}[*]`));
  if (typeof schema.additionalProperties === 'object') out.push(...celRules(schema.additionalProperties, `${path}.*`));
  return out;
}

/** Every `default` in the schema, by field path (`spec.refresh.fraction` → 0.5). */
export function schemaDefaults(schema: JSONSchemaProps, path = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (schema.default !== undefined && path) out.set(path, schema.default);
  for (const [key, prop] of Object.entries(schema.properties ?? {})) {
    for (const [k, v] of schemaDefaults(prop, child(path, key))) out.set(k, v);
  }
  if (schema.items) for (const [k, v] of schemaDefaults(schema.items, `${path}[*]`)) out.set(k, v);
  return out;
}
