// Wires the pool reconciler into a manager: pools, their issuer and source Secrets, their index
// and report ConfigMaps, their StatefulSets, Deployments and Services (so a deleted or edited one
// is put back), and their Services' EndpointSlices (the kubelet's word on readiness) all map back
// to the pool's key.
import { OcspResponderPoolType, SecretType, objectKey, type KubeObject, type Secret } from '../kube/types.js';
import { Controller, specOrMetadataChanged } from '../runtime/controller.js';
import { EndpointSliceType, type EndpointSlice } from './liveness.js';
import type { Manager } from '../runtime/manager.js';
import { PoolReconciler } from './reconciler.js';
import { ConfigMapType, LABEL_POOL, type ConfigMap } from './report.js';
import { DeploymentType, ServiceType, StatefulSetType, type PoolImages } from './workloads.js';

interface PoolRefs extends KubeObject {
  spec?: { issuer?: { secretName?: string }; sources?: Array<{ clusterSecrets?: { namespaces?: string[] }; opensslIndex?: { configMapName?: string } }> };
}

export function addPoolController(manager: Manager, opts: { workers: number; images: PoolImages }): Controller {
  const pools = manager.informer<PoolRefs>(OcspResponderPoolType);
  const secrets = manager.informer<Secret>(SecretType);
  const configMaps = manager.informer<ConfigMap>(ConfigMapType);
  const statefulSets = manager.informer<KubeObject & { spec?: { replicas?: number } }>(StatefulSetType, `${LABEL_POOL}`);
  const deployments = manager.informer<KubeObject>(DeploymentType, LABEL_POOL);
  const services = manager.informer<KubeObject>(ServiceType, LABEL_POOL);
  // The endpointslice controller copies a Service's labels onto its slices: LABEL_POOL selects ours.
  const endpointSlices = manager.informer<EndpointSlice>(EndpointSliceType, LABEL_POOL);
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
      deployments,
      services,
      endpointSlices,
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
  const owner = (o: KubeObject) => poolKey(o.metadata?.namespace, o.metadata?.labels?.[LABEL_POOL]);
  controller.watch(statefulSets, owner);
  // A Deployment's status moves with every rollout: only spec, metadata and deletion matter here.
  controller.watch(deployments, owner, specOrMetadataChanged);
  controller.watch(services, owner);
  controller.watch(endpointSlices, owner);
  manager.add(controller);
  return controller;
}
