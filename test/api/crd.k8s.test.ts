// The same samples the zod schemas and the CRDs' structural schemas are checked with
// (schema-drift.test.ts), sent to the real apiserver: it must reach the same verdict, run the CEL
// rules, and name the bad field in its message. The three layers cannot drift apart silently.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseOcspResponderPool, parseOcspStaple } from '../../src/api/index.js';
import { OcspResponderPoolType, OcspStapleType, type KubeObject } from '../../src/kube/types.js';
import { createNamespace, kubeClient } from '../support/kube.js';
import { samples, type Sample } from './samples.js';

const client = kubeClient();
let ns: { name: string; remove(): Promise<void> };

beforeAll(async () => {
  ns = await createNamespace(client, 'samples');
});
afterAll(async () => ns.remove());

const typeOf = (s: Sample) => (s.kind === 'OcspStaple' ? OcspStapleType : OcspResponderPoolType);
const zodOf = (s: Sample) => (s.kind === 'OcspStaple' ? parseOcspStaple(s.object) : parseOcspResponderPool(s.object));

/** Sends a sample the way a user would; returns the apiserver's error text, or undefined if accepted. */
async function send(s: Sample): Promise<string | undefined> {
  const obj = structuredClone(s.object) as unknown as KubeObject & { status?: unknown; metadata: { namespace?: string } };
  obj.metadata.namespace = ns.name;
  try {
    if (s.via === 'create') {
      await client.create(typeOf(s), obj, { dryRun: 'All' });
      return undefined;
    }
    const { status, ...bare } = obj;
    const created = await client.create(typeOf(s), bare);
    await client.replace(typeOf(s), { ...created, status } as KubeObject, 'status');
    return undefined;
  } catch (err) {
    return String(err);
  }
}

describe('the real apiserver agrees with zod on every sample', () => {
  it(`has samples of both kinds, valid and invalid, schema and CEL (${samples.length})`, () => {
    expect(samples.filter((s) => s.expect === 'reject' && s.rule === 'cel').length).toBeGreaterThan(3);
    expect(new Set(samples.map((s) => s.kind)).size).toBe(2);
  });

  it.each(samples.map((s) => [`${s.kind} ${s.name} → ${s.expect}${s.field ? ` (${s.field})` : ''}`, s] as const))(
    '%s',
    async (_label, s) => {
      const error = await send(s);
      const zod = zodOf(s);
      if (s.expect === 'accept') {
        expect(error).toBeUndefined();
        expect(zod.ok).toBe(true);
      } else {
        expect(error, 'the apiserver accepted it').toBeDefined();
        expect(error).toMatch(/\b422\b/);
        expect(error).toContain(s.field);
        expect(zod.ok).toBe(false);
      }
    },
  );
});
