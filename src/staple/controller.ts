// Wires the staple reconciler into a manager: it watches OcspStaples and Secrets, and maps a
// Secret change to the staples that read it (source certificate, issuer) or own it (staple Secret).
// Only those Secrets are held (their metadata, and their data once read): see kube/object-cache.ts.
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

  constructor(private readonly released: (secretKey: string) => void) {}

  update(kind: string, staple: StapleRefs): void {
    const key = objectKey(staple);
    const before = this.byStaple.get(key) ?? [];
    for (const s of before) {
      const set = this.bySecret.get(s);
      set?.delete(key);
      if (set?.size === 0) this.bySecret.delete(s);
    }
    this.byStaple.delete(key);
    // A Secret no staple reads any more need not be held (checked once the new refs are in).
    const release = () => {
      for (const s of before) if (!this.bySecret.has(s)) this.released(s);
    };
    if (kind === 'delete') return release();
    const ns = staple.metadata?.namespace ?? '';
    const spec = staple.spec ?? {};
    const names = [spec.secretName, spec.issuerSecretRef?.name];
    if (spec.secretName) names.push(stapleSecretNameFor({ secretName: spec.secretName, stapleSecretName: spec.stapleSecretName }));
    const secrets = names.filter((n): n is string => !!n).map((n) => `${ns}/${n}`);
    this.byStaple.set(key, secrets);
    for (const s of secrets) {
      let set = this.bySecret.get(s);
      if (!set) this.bySecret.set(s, (set = new Set()));
      set.add(key);
    }
    release();
  }

  has(secretKey: string): boolean {
    return this.bySecret.has(secretKey);
  }

  staplesOf(secret: KubeObject): string[] {
    return [...(this.bySecret.get(objectKey(secret)) ?? [])];
  }
}

export function addStapleController(manager: Manager, opts: { workers: number }): Controller {
  const staples = manager.informer<StapleRefs>(OcspStapleType);
  const secrets = manager.objectCache<Secret>(SecretType);
  const index = new SecretIndex((key) => {
    const { namespace, name } = splitKey(key);
    secrets.recheck(namespace, name);
  });
  secrets.want((s) => index.has(objectKey(s)));
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
  const controller = new Controller({
    name: 'staple',
    reconciler,
    workers: opts.workers,
    clock: manager.clock,
    log: manager.log,
    metrics: manager.metrics,
  });
  controller.watch(staples, (s) => [objectKey(s)], specOrMetadataChanged);
  controller.watch(secrets, (s) => index.staplesOf(s));
  manager.add(controller);
  return controller;
}
