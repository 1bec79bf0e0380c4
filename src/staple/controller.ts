// Wires the staple reconciler into a manager: it watches OcspStaples and Secrets, and maps a
// Secret change to the staples that read it (source certificate, issuer) or own it (staple Secret).
// Only those Secrets are held: their metadata, and the data of issuer Secrets (few, read on every
// reconcile). Source and staple Secrets are many, one each per staple: the reconciler keeps what it
// derived from their data per version (source.ts, staple-secret.ts), so their data is not held.
// See kube/object-cache.ts.
import { stapleSecretNameFor } from '../api/staple.js';
import { OcspStapleType, SecretType, objectKey, splitKey, type KubeObject, type Secret } from '../kube/types.js';
import { Controller, specOrMetadataChanged } from '../runtime/controller.js';
import type { Manager } from '../runtime/manager.js';
import { StapleMetrics } from './metrics.js';
import { StapleReconciler } from './reconciler.js';

interface StapleRefs extends KubeObject {
  spec?: { secretName?: string; stapleSecretName?: string; issuerSecretRef?: { name?: string } };
}

/** Which Secrets each staple reads or writes, so a Secret event finds its staples in O(1). */
class SecretIndex {
  private readonly bySecret = new Map<string, Set<string>>();
  private readonly byStaple = new Map<string, string[]>();
  /** Issuer Secrets, by the staples that name them in spec.issuerSecretRef. */
  private readonly issuers = new Map<string, Set<string>>();

  constructor(private readonly released: (secretKey: string) => void) {}

  update(kind: string, staple: StapleRefs): void {
    const key = objectKey(staple);
    const before = this.byStaple.get(key) ?? [];
    for (const s of before) {
      remove(this.bySecret, s, key);
      remove(this.issuers, s, key);
    }
    this.byStaple.delete(key);
    // A Secret no staple reads any more need not be held (checked once the new refs are in).
    const release = () => {
      for (const s of before) if (!this.bySecret.has(s) || !this.issuers.has(s)) this.released(s);
    };
    if (kind === 'delete') return release();
    const ns = staple.metadata?.namespace ?? '';
    const spec = staple.spec ?? {};
    const names = [spec.secretName, spec.issuerSecretRef?.name];
    if (spec.secretName) names.push(stapleSecretNameFor({ secretName: spec.secretName, stapleSecretName: spec.stapleSecretName }));
    const secrets = names.filter((n): n is string => !!n).map((n) => `${ns}/${n}`);
    this.byStaple.set(key, secrets);
    for (const s of secrets) add(this.bySecret, s, key);
    if (spec.issuerSecretRef?.name) add(this.issuers, `${ns}/${spec.issuerSecretRef.name}`, key);
    release();
  }

  has(secretKey: string): boolean {
    return this.bySecret.has(secretKey);
  }

  isIssuer(secretKey: string): boolean {
    return this.issuers.has(secretKey);
  }

  staplesOf(secret: KubeObject): string[] {
    return [...(this.bySecret.get(objectKey(secret)) ?? [])];
  }
}

function add(map: Map<string, Set<string>>, secretKey: string, stapleKey: string): void {
  let set = map.get(secretKey);
  if (!set) map.set(secretKey, (set = new Set()));
  set.add(stapleKey);
}

function remove(map: Map<string, Set<string>>, secretKey: string, stapleKey: string): void {
  const set = map.get(secretKey);
  set?.delete(stapleKey);
  if (set?.size === 0) map.delete(secretKey);
}

export function addStapleController(manager: Manager, opts: { workers: number }): Controller {
  const staples = manager.informer<StapleRefs>(OcspStapleType);
  const secrets = manager.objectCache<Secret>(SecretType);
  const index = new SecretIndex((key) => {
    const { namespace, name } = splitKey(key);
    secrets.recheck(namespace, name);
  });
  secrets.want((s) => index.isIssuer(objectKey(s)));
  secrets.wantMetadata((s) => index.has(objectKey(s)));
  staples.onChange((kind, obj) => index.update(kind, obj));
  const reconciler = new StapleReconciler({
    client: manager.client,
    clock: manager.clock,
    log: manager.log.child({ controller: 'staple' }),
    events: manager.events,
    staples,
    secrets,
    metrics: new StapleMetrics(manager.metrics.registry, manager.clock),
  });
  staples.onChange((_kind, obj) => reconciler.cacheShows(obj));
  const controller = new Controller({
    name: 'staple',
    reconciler,
    workers: opts.workers,
    clock: manager.clock,
    log: manager.log,
    metrics: manager.metrics,
  });
  controller.watch(staples, (s) => [objectKey(s)], specOrMetadataChanged);
  // A version of a staple Secret the reconciler already read or wrote (its own write coming back
  // through the watch) is no news: the reconcile that wrote it decided with it.
  controller.watch(
    secrets,
    (s) => index.staplesOf(s),
    (kind, s) => !((kind === 'add' || kind === 'update') && index.staplesOf(s).every((k) => reconciler.knows(k, s))),
  );
  manager.add(controller);
  return controller;
}
