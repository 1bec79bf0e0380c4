// What the controllers rely on from the Kubernetes API, as tests that run against any KubeApi: the
// in-memory fake (test/kube/fake-kube.test.ts) and the real apiserver
// (test/kube/kube-contract.k8s.test.ts). Both running the same cases is what keeps the fake from
// drifting from the real thing.
import { describe, expect, it } from 'vitest';
import { isAlreadyExists, isConflict, isNotFound, KubeApiError, type KubeApi } from '../../src/kube/api.js';
import { OcspStapleType, SecretType, type KubeObject, type Secret } from '../../src/kube/types.js';

export interface ContractTarget {
  api: KubeApi;
  /** A namespace the cases may fill (and the caller clears). */
  namespace: string;
}

interface StapleLike extends KubeObject {
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

const secret = (namespace: string, name: string, data: Record<string, string>, labels?: Record<string, string>): Secret => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace, labels },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
});

const stapleObject = (namespace: string, name: string, secretName: string): StapleLike => ({
  apiVersion: 'ocsp-operator.dev/v1alpha1',
  kind: 'OcspStaple',
  metadata: { name, namespace },
  spec: { secretName },
});

async function refusal(p: Promise<unknown>): Promise<KubeApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof KubeApiError)) throw new Error(`expected a KubeApiError, got ${err === undefined ? 'success' : String(err)}`);
  return err;
}

/** Polls until `probe` holds: at most `timeoutMs`, every 10 ms. */
async function eventually(what: string, probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function kubeContract(label: string, target: () => ContractTarget): void {
  describe(`the Kubernetes API contract (${label})`, () => {
    it('create, get, AlreadyExists, NotFound', async () => {
      const { api, namespace } = target();
      const made = await api.create(SecretType, secret(namespace, 'c1', { a: '1' }));
      expect(made.metadata?.uid).toBeTruthy();
      expect(made.metadata?.resourceVersion).toBeTruthy();
      expect((await api.get<Secret>(SecretType, namespace, 'c1')).data).toEqual(made.data);
      const dup = await refusal(api.create(SecretType, secret(namespace, 'c1', { a: '2' })));
      expect([dup.status, dup.reason, isAlreadyExists(dup)]).toEqual([409, 'AlreadyExists', true]);
      const missing = await refusal(api.get(SecretType, namespace, 'nope'));
      expect([missing.status, isNotFound(missing)]).toEqual([404, true]);
      expect(await api.getOrUndefined(SecretType, namespace, 'nope')).toBeUndefined();
      await api.delete(SecretType, namespace, 'nope'); // already gone is not an error
    });

    it('a PUT with a stale resourceVersion is a Conflict; a PUT that changes nothing keeps the version', async () => {
      const { api, namespace } = target();
      const v1 = await api.create(SecretType, secret(namespace, 'p1', { a: '1' }));
      const v2 = await api.replace(SecretType, { ...v1, data: { a: Buffer.from('2').toString('base64') } });
      expect(v2.metadata?.resourceVersion).not.toBe(v1.metadata?.resourceVersion);
      const stale = await refusal(api.replace(SecretType, { ...v1, data: { a: Buffer.from('3').toString('base64') } }));
      expect([stale.status, stale.reason, isConflict(stale)]).toEqual([409, 'Conflict', true]);
      const same = await api.replace(SecretType, v2);
      expect(same.metadata?.resourceVersion).toBe(v2.metadata?.resourceVersion);
    });

    it('generation counts spec changes only; the status subresource writes status only', async () => {
      const { api, namespace } = target();
      const s1 = await api.create(OcspStapleType, stapleObject(namespace, 'g1', 'a-tls'));
      expect(s1.metadata?.generation).toBe(1);
      const s2 = await api.replace<StapleLike>(OcspStapleType, {
        ...s1,
        spec: { secretName: 'b-tls' },
        status: { consecutiveFailures: 4 },
      });
      expect(s2.metadata?.generation).toBe(2);
      expect(s2.status).toBeUndefined(); // status through the object is ignored
      const s3 = await api.mergePatch<StapleLike>(OcspStapleType, { namespace, name: 'g1' }, { metadata: { labels: { x: 'y' } } });
      expect(s3.metadata?.generation).toBe(2);
      const s4 = await api.replace<StapleLike>(
        OcspStapleType,
        { ...s3, spec: { secretName: 'c-tls' }, status: { consecutiveFailures: 4 } },
        'status',
      );
      expect(s4.metadata?.generation).toBe(2);
      expect(s4.spec?.secretName).toBe('b-tls'); // spec through /status is ignored (the apiserver also defaults the rest; the fake does not)
      expect(s4.status).toEqual({ consecutiveFailures: 4 });
      const stale = await refusal(api.replace(OcspStapleType, { ...s3, status: { consecutiveFailures: 5 } }, 'status'));
      expect(stale.status).toBe(409);
      const s5 = await api.mergePatch<StapleLike>(
        OcspStapleType,
        { namespace, name: 'g1', subresource: 'status' },
        { status: { consecutiveFailures: 6 } },
      );
      expect(s5.status).toEqual({ consecutiveFailures: 6 });
      expect(s5.metadata?.generation).toBe(2);
    });

    it('lists by label selector', async () => {
      const { api, namespace } = target();
      await api.create(SecretType, secret(namespace, 'l1', {}, { tier: 'one', app: 'x' }));
      await api.create(SecretType, secret(namespace, 'l2', {}, { tier: 'two', app: 'x' }));
      await api.create(SecretType, secret(namespace, 'l3', {}, { other: 'z' }));
      const names = async (labelSelector: string) =>
        (await api.list(SecretType, { namespace, labelSelector })).items.map((o) => o.metadata?.name).sort();
      expect(await names('tier=one')).toEqual(['l1']);
      expect(await names('app=x,tier!=one')).toEqual(['l2']);
      expect(await names('tier')).toEqual(['l1', 'l2']);
      expect(await names('!tier,other')).toEqual(['l3']);
      expect(await names('tier in (one,two)')).toEqual(['l1', 'l2']);
      expect(await names('tier notin (one),app')).toEqual(['l2']);
      const meta = await api.list(SecretType, { namespace, labelSelector: 'tier=one', metadataOnly: true });
      expect(meta.items[0]?.kind).toBe('PartialObjectMetadata');
      expect((meta.items[0] as Secret).data).toBeUndefined();
      expect(meta.metadata?.resourceVersion).toBeTruthy();
    });

    it('lists a page at a time: the pages together are the whole list, at one resourceVersion', async () => {
      const { api, namespace } = target();
      for (let i = 1; i <= 5; i++) await api.create(SecretType, secret(namespace, `page-${i}`, {}, { paged: 'yes' }));
      const pages: string[][] = [];
      const versions = new Set<string>();
      for await (const page of api.listPages(SecretType, { namespace, labelSelector: 'paged=yes', pageSize: 2 })) {
        pages.push(page.items.map((o) => o.metadata?.name ?? ''));
        versions.add(page.metadata?.resourceVersion ?? '');
      }
      expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
      expect(pages.flat().sort()).toEqual(['page-1', 'page-2', 'page-3', 'page-4', 'page-5']);
      expect(versions.size).toBe(1);
      const whole = await api.list(SecretType, { namespace, labelSelector: 'paged=yes' });
      expect(whole.items.map((o) => o.metadata?.name).sort()).toEqual(pages.flat().sort());
    });

    it('watches from a resourceVersion deliver ADDED, MODIFIED, DELETED in order', async () => {
      const { api, namespace } = target();
      const start = await api.list(SecretType, { namespace });
      const seen: string[] = [];
      const abort = await api.watch(
        SecretType,
        { namespace, resourceVersion: start.metadata?.resourceVersion ?? '', timeoutSeconds: 60 },
        (phase, obj) => {
          const name = (obj as KubeObject).metadata?.name ?? '';
          if (name.startsWith('w')) seen.push(`${phase} ${name}`);
        },
        () => {},
      );
      try {
        const w1 = await api.create(SecretType, secret(namespace, 'w1', { a: '1' }));
        await api.mergePatch(SecretType, { namespace, name: 'w1' }, { data: { a: Buffer.from('2').toString('base64') } });
        await api.create(SecretType, secret(namespace, 'w2', {}));
        await api.delete(SecretType, namespace, 'w1');
        await eventually('four events', () => seen.length >= 4);
        expect(seen).toEqual(['ADDED w1', 'MODIFIED w1', 'ADDED w2', 'DELETED w1']);
        expect(w1.metadata?.name).toBe('w1');
      } finally {
        abort.abort();
      }
    });

    it('a watch with a label selector sees an object leave it as DELETED (its last matching version) and come back as ADDED', async () => {
      const { api, namespace } = target();
      const start = await api.list(SecretType, { namespace });
      const seen: string[] = [];
      let deletedAt: string | undefined;
      const abort = await api.watch(
        SecretType,
        { namespace, resourceVersion: start.metadata?.resourceVersion ?? '', labelSelector: 'keep=yes', timeoutSeconds: 60 },
        (phase, obj) => {
          const m = (obj as KubeObject).metadata;
          if (m?.name === 'sel') seen.push(`${phase} ${m.labels?.keep}`);
          if (m?.name === 'sel' && phase === 'DELETED') deletedAt = m.resourceVersion;
        },
        () => {},
      );
      try {
        await api.create(SecretType, secret(namespace, 'sel', {}, { keep: 'yes' }));
        const left = await api.mergePatch(SecretType, { namespace, name: 'sel' }, { metadata: { labels: { keep: 'no' } } });
        await api.mergePatch(SecretType, { namespace, name: 'sel' }, { data: { a: 'YQ==' } }); // outside the selector: not seen
        await api.mergePatch(SecretType, { namespace, name: 'sel' }, { metadata: { labels: { keep: 'yes' } } });
        await eventually('three events', () => seen.length >= 3);
        expect(seen).toEqual(['ADDED yes', 'DELETED yes', 'ADDED yes']);
        expect(deletedAt).toBe(left.metadata?.resourceVersion); // the version of the change that made it leave
      } finally {
        abort.abort();
      }
    });

    it('server-side apply merges, and removes what its manager no longer applies', async () => {
      const { api, namespace } = target();
      await api.apply(SecretType, secret(namespace, 'a1', { mine: '1', dropped: '1' }), 'contract-a');
      await api.apply(SecretType, secret(namespace, 'a1', { theirs: '1' }), 'contract-b');
      const after = await api.apply<Secret>(SecretType, secret(namespace, 'a1', { mine: '2' }), 'contract-a');
      expect(Object.keys(after.data ?? {}).sort()).toEqual(['mine', 'theirs']);
      expect(Buffer.from(after.data?.mine ?? '', 'base64').toString()).toBe('2');
      const again = await api.apply<Secret>(SecretType, secret(namespace, 'a1', { mine: '2' }), 'contract-a');
      expect(again.metadata?.resourceVersion).toBe(after.metadata?.resourceVersion); // nothing changed
    });

    it('a JSON patch whose test fails is refused with 422; one whose test holds applies', async () => {
      const { api, namespace } = target();
      await api.create(SecretType, {
        ...secret(namespace, 'j1', {}),
        metadata: { name: 'j1', namespace, annotations: { 'example.dev/k': 'v1' } },
      });
      const path = '/metadata/annotations/example.dev~1k';
      const refused = await refusal(
        api.jsonPatch(SecretType, { namespace, name: 'j1' }, [
          { op: 'test', path, value: 'v0' },
          { op: 'remove', path },
        ]),
      );
      expect(refused.status).toBe(422);
      const done = await api.jsonPatch(SecretType, { namespace, name: 'j1' }, [
        { op: 'test', path, value: 'v1' },
        { op: 'remove', path },
      ]);
      expect(done.metadata?.annotations?.['example.dev/k']).toBeUndefined();
      const gone = await refusal(api.jsonPatch(SecretType, { namespace, name: 'j-missing' }, [{ op: 'remove', path }]));
      expect(gone.status).toBe(404);
    });
  });
}
