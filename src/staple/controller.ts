// Wires the staple reconciler into a manager: it watches OcspStaples and Secrets, and maps a
// Secret change to the staples that read it (source certificate, issuer) or own it (staple Secret).
import { stapleSecretNameFor } from '../api/staple.js';
import { OcspStapleType, SecretType, objectKey, type KubeObject, type Secret } from '../kube/types.js';
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

  update(kind: string, staple: StapleRefs): void {
    const key = objectKey(staple);
    for (const s of this.byStaple.get(key) ?? []) this.bySecret.get(s)?.delete(key);
    this.byStaple.delete(key);
    if (kind === 'delete') return;
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
  }

  staplesOf(secret: Secret): string[] {
    return [...(this.bySecret.get(objectKey(secret)) ?? [])];
  }
}

export function addStapleController(manager: Manager, opts: { workers: number }): Controller {
  const staples = manager.informer<StapleRefs>(OcspStapleType);
  const secrets = manager.informer<Secret>(SecretType);
  const index = new SecretIndex();
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
