// Wires the pool reconciler into a manager: pools, their issuer and source Secrets, their index
// and report ConfigMaps, and their signer StatefulSets all map back to the pool's key.
import { OcspResponderPoolType, SecretType, objectKey, type KubeObject, type Secret } from '../kube/types.js';
import { Controller, specOrMetadataChanged } from '../runtime/controller.js';
import type { Manager } from '../runtime/manager.js';
import { PoolReconciler } from './reconciler.js';
import { ConfigMapType, LABEL_POOL, type ConfigMap } from './report.js';
import { StatefulSetType, type PoolImages } from './workloads.js';

interface PoolRefs extends KubeObject {
  spec?: { issuer?: { secretName?: string }; sources?: Array<{ clusterSecrets?: { namespaces?: string[] }; opensslIndex?: { configMapName?: string } }> };
}

export function addPoolController(manager: Manager, opts: { workers: number; images: PoolImages }): Controller {
  const pools = manager.informer<PoolRefs>(OcspResponderPoolType);
  const secrets = manager.informer<Secret>(SecretType);
  const configMaps = manager.informer<ConfigMap>(ConfigMapType);
  const statefulSets = manager.informer<KubeObject & { spec?: { replicas?: number } }>(StatefulSetType, `${LABEL_POOL}`);
  const controller = new Controller({
    name: 'pool',
    reconciler: new PoolReconciler({
      client: manager.client,
      clock: manager.clock,
      log: manager.log.child({ controller: 'pool' }),
      events: manager.events,
      pools,
      secrets,
      configMaps,
      statefulSets,
      images: opts.images,
    }),
    workers: opts.workers,
    clock: manager.clock,
    log: manager.log,
    metrics: manager.metrics,
  });
  const poolKey = (namespace: string | undefined, name: string | undefined) => (namespace && name ? [`${namespace}/${name}`] : []);
  controller.watch(pools, (p) => [objectKey(p)], specOrMetadataChanged);
  controller.watch(configMaps, (cm) => {
    const owner = cm.metadata?.labels?.[LABEL_POOL];
    if (owner) return poolKey(cm.metadata?.namespace, owner);
    const ns = cm.metadata?.namespace;
    return pools
      .list(ns)
      .filter((p) => p.spec?.sources?.some((s) => s.opensslIndex?.configMapName === cm.metadata?.name))
      .map(objectKey);
  });
  controller.watch(secrets, (s) =>
    pools
      .list()
      .filter(
        (p) =>
          (p.metadata?.namespace === s.metadata?.namespace && p.spec?.issuer?.secretName === s.metadata?.name) ||
          p.spec?.sources?.some((src) => src.clusterSecrets && (!src.clusterSecrets.namespaces?.length || src.clusterSecrets.namespaces.includes(s.metadata?.namespace ?? ''))),
      )
      .map(objectKey),
  );
  controller.watch(statefulSets, (s) => poolKey(s.metadata?.namespace, s.metadata?.labels?.[LABEL_POOL]));
  manager.add(controller);
  return controller;
}
