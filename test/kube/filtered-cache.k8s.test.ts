// Memory that follows the work: against the real apiserver, with the staple, auto-staple and pool
// controllers running, Secrets and ConfigMaps the operator does not need stream past its watch
// (counted, so the test knows it saw them) and are never held, in full or at all; the ones it
// needs are held: a pool's issuer and in-scope source Secret and its index ConfigMap in full, a
// staple's certificate and staple Secrets by their metadata only (the staple reconciler keeps what
// it read from their data per version, one per staple, not the Secrets: their data is never held).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import {
  OcspResponderPoolType,
  OcspStapleType,
  SecretType,
  objectKey,
  ConfigMapType,
  type KubeObject,
  type Secret,
} from '../../src/kube/types.js';
import type { ObjectCache } from '../../src/kube/object-cache.js';
import { Manager } from '../../src/runtime/manager.js';
import { systemClock } from '../../src/base/clock.js';
import { addStapleController } from '../../src/staple/controller.js';
import { addAutoStapleController } from '../../src/staple/auto-staple.js';
import { addPoolController } from '../../src/pool/controller.js';
import type { ConfigMap } from '../../src/report/protocol.js';
import { canonicalSerial } from '../../src/store/index.js';
import { createNamespace, kubeClient, putSecret, tlsSecret, waitFor } from '../support/kube.js';
import { createCa, issueLeaf, type Ca, type Issued } from '../support/pki.js';

const UNRELATED = 60;
const FILLER = 'x'.repeat(4096); // 4 KiB of data per unrelated object

const client = kubeClient();
let ns: { name: string; remove(): Promise<void> };
let manager: Manager;
let secrets: ObjectCache<Secret>;
let configMaps: ObjectCache<ConfigMap>;
let ca: Ca;
let web: Issued;
let pooled: Issued;
const unrelatedSeen = new Set<string>();
const heldWhenSeen: string[] = [];
/** Deliveries of the staple's certificate and staple Secrets (marked when the test's label is on), and those at which their data was held. */
const stapleSecretsSeen: string[] = [];
const stapleDataHeld: string[] = [];
const STAPLE_SECRETS = ['web-tls', 'web-tls-ocsp'];

const unrelatedSecret = (i: number) => `unrelated-${i}`;
const unrelatedConfigMap = (i: number) => `unrelated-cm-${i}`;
const isUnrelated = (o: KubeObject) => /^unrelated-/.test(o.metadata?.name ?? '');

/** Every request the operator's (real) client sent: a GET the staple controller skips must be seen skipped. */
const requested: string[] = [];
const send = client.request.bind(client);
client.request = (method, path, opts) => {
  requested.push(`${method} ${path}`);
  return send(method, path, opts);
};

beforeAll(async () => {
  ns = await createNamespace(client, 'filtered');
  ca = await createCa({ keyAlg: 'P-256', name: 'CN=Filtered Cache CA' });
  // Port 9 on loopback refuses at once: the staple's fetch fails fast, after its Secret was read.
  web = await issueLeaf(ca, { ocspUrl: 'http://127.0.0.1:9/', dnsNames: ['web.test'] });
  pooled = await issueLeaf(ca, { dnsNames: ['pooled.test'] });
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  await client.create<Secret>(SecretType, {
    metadata: { name: 'ca', namespace: ns.name },
    data: { 'tls.crt': b64(ca.certPem), 'tls.key': b64(ca.keyPem) },
  });
  // Already there when the operator starts, as in a real cluster.
  for (let i = 0; i < UNRELATED; i++) {
    await client.create<Secret>(SecretType, { metadata: { name: unrelatedSecret(i), namespace: ns.name }, data: { filler: b64(FILLER) } });
    await client.create<ConfigMap>(ConfigMapType, {
      metadata: { name: unrelatedConfigMap(i), namespace: ns.name },
      data: { filler: FILLER },
    });
  }
  // In the pool's scope by its label, before the pool exists: found only by a new list.
  await putSecret(client, {
    ...tlsSecret(ns.name, 'pooled-tls', { certPem: pooled.chainPem, keyPem: pooled.keyPem }),
    metadata: { name: 'pooled-tls', namespace: ns.name, labels: { 'example.com/ocsp': 'pool' } },
  });

  manager = new Manager({
    client,
    clock: systemClock,
    log: pino({ level: 'silent' }),
    healthAddress: { host: '127.0.0.1', port: 0 },
    namespaces: [ns.name],
    resyncMs: 10 * 60_000,
  });
  addStapleController(manager, { workers: 2 });
  addAutoStapleController(manager, { workers: 1 });
  addPoolController(manager, { workers: 1, images: { operator: 'ocsp-operator:test', signer: 'ocsp-operator:test-signer' } });
  secrets = manager.objectCache<Secret>(SecretType);
  configMaps = manager.objectCache<ConfigMap>(ConfigMapType);
  // Registered after the controllers: runs once the cache has handled the change. At every
  // delivery of an unrelated object, nothing of it may be held.
  for (const cache of [secrets, configMaps] as Array<ObjectCache<KubeObject>>) {
    cache.onChange((_kind, obj) => {
      if (cache === secrets && STAPLE_SECRETS.includes(obj.metadata?.name ?? '')) {
        stapleSecretsSeen.push(`${objectKey(obj)}${obj.metadata?.labels?.checked === 'delivery' ? ' checked' : ''}`);
        const meta = secrets.get(obj.metadata?.namespace, obj.metadata?.name ?? '');
        if (secrets.heldInFull().includes(objectKey(obj)) || (meta && 'data' in meta)) stapleDataHeld.push(objectKey(obj));
      }
      if (!isUnrelated(obj)) return;
      unrelatedSeen.add(`${cache.type.plural}/${objectKey(obj)}`);
      const { namespace, name } = { namespace: obj.metadata?.namespace, name: obj.metadata?.name ?? '' };
      if (cache.get(namespace, name) || cache.heldInFull().includes(objectKey(obj))) heldWhenSeen.push(objectKey(obj));
    });
  }
  await manager.start();
}, 120_000);

afterAll(async () => {
  await manager?.stop();
  await ns?.remove();
});

describe('the Secret and ConfigMap caches', () => {
  it('hold in full only what a staple or a pool reads; unrelated objects stream past and are never held', async () => {
    await putSecret(client, tlsSecret(ns.name, 'web-tls', { certPem: web.chainPem, keyPem: web.keyPem }));
    await client.create(OcspStapleType, {
      apiVersion: 'ocsp-operator.dev/v1alpha1',
      kind: 'OcspStaple',
      metadata: { name: 'web', namespace: ns.name },
      spec: { secretName: 'web-tls' },
    });
    await client.create(OcspResponderPoolType, {
      apiVersion: 'ocsp-operator.dev/v1alpha1',
      kind: 'OcspResponderPool',
      metadata: { name: 'p', namespace: ns.name },
      spec: {
        issuer: { secretName: 'ca' },
        signing: { softwareKey: { secretName: 'ca' } },
        delegatedResponder: { mode: 'None' },
        sources: [{ clusterSecrets: { namespaces: [ns.name], labelSelector: { 'example.com/ocsp': 'pool' } } }],
      },
    } as KubeObject);
    // The controllers did their work, which needed the data of the objects they refer to.
    await waitFor(
      'the staple reconciled with its certificate read',
      async () => {
        const s = await client.get<KubeObject & { status?: { certificate?: { serial?: string } } }>(OcspStapleType, ns.name, 'web');
        return s.status?.certificate?.serial === web.serial.toLowerCase();
      },
      30_000,
    );
    const index = await waitFor(
      'the pool index with the in-scope Secret',
      async () => {
        const text = (await client.getOrUndefined<ConfigMap>(ConfigMapType, ns.name, 'p-index'))?.data?.['index.txt'];
        return text?.includes('\t') ? text : undefined;
      },
      30_000,
    );
    expect(
      index
        .trim()
        .split('\n')
        .map((l) => canonicalSerial(l.split('\t')[3] ?? '')),
    ).toEqual([canonicalSerial(pooled.serial)]);

    // Every unrelated object changes once the pool's scope was listed (a relist delivers no
    // change of an object nobody keeps, so none may fall in one): the watch delivers each of them.
    for (let i = 0; i < UNRELATED; i++) {
      await client.mergePatch(SecretType, { namespace: ns.name, name: unrelatedSecret(i) }, { metadata: { labels: { touched: 'yes' } } });
      await client.mergePatch(
        ConfigMapType,
        { namespace: ns.name, name: unrelatedConfigMap(i) },
        { metadata: { labels: { touched: 'yes' } } },
      );
    }
    await waitFor('every unrelated change delivered', () => unrelatedSeen.size === 2 * UNRELATED, 30_000).catch((err: unknown) => {
      throw new Error(`${String(err)}: ${unrelatedSeen.size} of ${2 * UNRELATED} seen`);
    });

    expect(heldWhenSeen).toEqual([]);
    const secretsFull = secrets
      .heldInFull()
      .map((k) => k.split('/')[1])
      .sort();
    expect(secretsFull.filter((n) => n?.startsWith('unrelated-'))).toEqual([]);
    expect(secretsFull).toEqual(expect.arrayContaining(['ca', 'pooled-tls']));
    // The staple's Secrets: known by their metadata, their data read (the staple Secret written)
    // and never held, at any delivery of them (counted: the watch delivered them) nor now.
    const stapleSecret = await client.get<Secret>(SecretType, ns.name, 'web-tls-ocsp');
    expect(Object.keys(stapleSecret.data ?? {})).toContain('tls.crt');
    // A delivery of each to check, made by a change of the test's own: the operator's own write
    // can reach the cache before its watch event, and a relist in between (the pool's scope
    // widened it) delivers no change of a version the cache already holds.
    for (const name of STAPLE_SECRETS)
      await client.mergePatch(SecretType, { namespace: ns.name, name }, { metadata: { labels: { checked: 'delivery' } } });
    await waitFor(
      'both staple Secrets delivered with the label the test put on them',
      () => STAPLE_SECRETS.every((name) => stapleSecretsSeen.includes(`${ns.name}/${name} checked`)),
      30_000,
    );
    expect(stapleDataHeld).toEqual([]);
    expect(secretsFull.filter((n) => STAPLE_SECRETS.includes(n ?? ''))).toEqual([]);
    for (const name of STAPLE_SECRETS) {
      const meta = secrets.get(ns.name, name);
      expect(meta?.metadata?.uid, name).toBeTruthy();
      expect(meta && 'data' in meta, name).toBe(false);
    }
    expect(secrets.list().filter(isUnrelated)).toEqual([]);
    const cmFull = configMaps.heldInFull().map((k) => k.split('/')[1]);
    expect(cmFull.filter((n) => n?.startsWith('unrelated-'))).toEqual([]);
    expect(cmFull).toContain('p-index');
    expect(configMaps.list().filter(isUnrelated)).toEqual([]);
    // The bytes: the held data is that of a handful of certificates, not of 60 × 4 KiB fillers.
    const held = secrets.stats().fullDataChars + configMaps.stats().fullDataChars;
    expect(held).toBeLessThan(UNRELATED * FILLER.length * 0.25);
    // And the operator's own metric says the same.
    const metrics = await (await fetch(`${manager.healthUrl()}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`ocsp_operator_cache_objects\\{resource="secrets",form="full"\\} ${secrets.stats().full}\\b`));
  }, 120_000);

  it('a Secret whose staple goes away is no longer held, its metadata gone at its next change', async () => {
    await client.delete(OcspStapleType, ns.name, 'web');
    await client.mergePatch(SecretType, { namespace: ns.name, name: 'web-tls' }, { metadata: { labels: { touched: 'yes' } } });
    await waitFor('web-tls dropped from the cache', () => !secrets.get(ns.name, 'web-tls'), 20_000);
    expect(secrets.heldInFull()).not.toContain(`${ns.name}/web-tls`);
  });

  it('tells a Secret that never existed from one that streamed past unkept, without holding either', async () => {
    await waitFor('the unrelated Secrets delivered', () => unrelatedSeen.has(`secrets/${ns.name}/${unrelatedSecret(3)}`), 30_000);
    expect(secrets.get(ns.name, unrelatedSecret(3))).toBeUndefined();
    expect(secrets.knownAbsent(ns.name, unrelatedSecret(3))).toBe(false);
    expect(secrets.knownAbsent(ns.name, 'never-created')).toBe(true);
    expect(secrets.knownAbsent(ns.name, 'ca')).toBe(false); // held
  });

  it("a new staple's Secret is written without a GET that would answer 404", async () => {
    const fresh = await issueLeaf(ca, { ocspUrl: 'http://127.0.0.1:9/', dnsNames: ['fresh.test'] });
    await putSecret(client, tlsSecret(ns.name, 'fresh-tls', { certPem: fresh.chainPem, keyPem: fresh.keyPem }));
    const from = requested.length;
    await client.create(OcspStapleType, {
      apiVersion: 'ocsp-operator.dev/v1alpha1',
      kind: 'OcspStaple',
      metadata: { name: 'fresh', namespace: ns.name },
      spec: { secretName: 'fresh-tls' },
    });
    // Polled with a client of the test's own: `requested` holds the operator's requests only.
    const probe = kubeClient();
    await waitFor('the staple Secret written', () => probe.getOrUndefined<Secret>(SecretType, ns.name, 'fresh-tls-ocsp'), 30_000);
    // A new staple Secret is created (POST to the collection): the only Secret the operator creates here.
    const create = `POST /api/v1/namespaces/${ns.name}/secrets`;
    const mine = requested.slice(from).filter((r) => r.includes('/secrets/fresh-tls') || r === create);
    const firstWrite = mine.indexOf(create);
    expect(firstWrite).toBeGreaterThanOrEqual(0);
    expect(mine.slice(0, firstWrite)).toContain(`GET /api/v1/namespaces/${ns.name}/secrets/fresh-tls`); // its certificate's data
    expect(mine.slice(0, firstWrite)).not.toContain(`GET /api/v1/namespaces/${ns.name}/secrets/fresh-tls-ocsp`);
  });

  it('a staple Secret someone else made before the staple was seen is still found, and not overwritten', async () => {
    const other = await issueLeaf(ca, { ocspUrl: 'http://127.0.0.1:9/', dnsNames: ['other.test'] });
    await putSecret(client, tlsSecret(ns.name, 'other-tls', { certPem: other.chainPem, keyPem: other.keyPem }));
    await putSecret(client, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'other-tls-ocsp', namespace: ns.name },
      data: { note: Buffer.from('mine').toString('base64') },
    });
    await waitFor('the foreign Secret delivered and dropped', () => !secrets.knownAbsent(ns.name, 'other-tls-ocsp'), 30_000);
    await client.create(OcspStapleType, {
      apiVersion: 'ocsp-operator.dev/v1alpha1',
      kind: 'OcspStaple',
      metadata: { name: 'other', namespace: ns.name },
      spec: { secretName: 'other-tls' },
    });
    const reason = await waitFor(
      'the staple refusing the Secret',
      async () => {
        const s = await client.get<KubeObject & { status?: { conditions?: { type: string; reason?: string }[] } }>(
          OcspStapleType,
          ns.name,
          'other',
        );
        return s.status?.conditions?.find((c) => c.type === 'Ready')?.reason;
      },
      30_000,
    );
    expect(reason).toBe('StapleSecretConflict');
    const foreign = await client.get<Secret>(SecretType, ns.name, 'other-tls-ocsp');
    expect(Object.keys(foreign.data ?? {})).toEqual(['note']);
  });
});
