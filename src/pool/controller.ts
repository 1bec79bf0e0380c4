// Wires the pool reconciler into a manager: pools, their issuer and source Secrets, their index
// and report ConfigMaps, their StatefulSets, Deployments and Services (so a deleted or edited one
// is put back), and their Services' EndpointSlices (the kubelet's word on readiness) all map back
// to the pool's key. Of Secrets and ConfigMaps only those a pool refers to are held (its issuer,
// its in-scope source Secrets, its opensslIndex sources, its own index and report): see
// kube/object-cache.ts.
import {
  DeploymentType,
  OcspResponderPoolType,
  SecretType,
  objectKey,
  StatefulSetType,
  ConfigMapType,
  EndpointSliceType,
  ServiceType,
  type KubeObject,
  type Secret,
} from '../kube/types.js';
import { Controller, specOrMetadataChanged } from '../runtime/controller.js';
import type { EndpointSlice } from './liveness.js';
import type { Manager } from '../runtime/manager.js';
import { ObjectConditionMetrics } from '../runtime/object-metrics.js';
import { PoolReconciler } from './reconciler.js';
import { LABEL_POOL } from '../api/annotations.js';
import type { ConfigMap } from '../report/protocol.js';
import type { PoolImages } from './workloads.js';

interface Scope {
  namespaces?: string[];
  labelSelector?: Record<string, string>;
}

interface PoolRefs extends KubeObject {
  spec?: { issuer?: { secretName?: string }; sources?: Array<{ clusterSecrets?: Scope; opensslIndex?: { configMapName?: string } }> };
}

const inScope = (cs: Scope, s: KubeObject) =>
  (!cs.namespaces?.length || cs.namespaces.includes(s.metadata?.namespace ?? '')) &&
  Object.entries(cs.labelSelector ?? {}).every(([k, v]) => s.metadata?.labels?.[k] === v);

/** The pool reads this Secret: its issuer, or one of its clusterSecrets sources selects it. */
const readsSecret = (p: PoolRefs, s: KubeObject) =>
  (p.metadata?.namespace === s.metadata?.namespace && p.spec?.issuer?.secretName === s.metadata?.name) ||
  !!p.spec?.sources?.some((src) => src.clusterSecrets && inScope(src.clusterSecrets, s));

const readsConfigMap = (p: PoolRefs, cm: KubeObject) =>
  p.metadata?.namespace === cm.metadata?.namespace && !!p.spec?.sources?.some((s) => s.opensslIndex?.configMapName === cm.metadata?.name);

const scopeKey = (cs: Scope) =>
  `${[...(cs.namespaces ?? [])].sort().join(',')}|${Object.entries(cs.labelSelector ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .sort()
    .join(',')}`;

export function addPoolController(manager: Manager, opts: { workers: number; images: PoolImages }): Controller {
  const pools = manager.informer<PoolRefs>(OcspResponderPoolType);
  const secrets = manager.objectCache<Secret>(SecretType);
  const configMaps = manager.objectCache<ConfigMap>(ConfigMapType);
  secrets.want((s) => pools.list().some((p) => readsSecret(p, s)));
  configMaps.want((cm) => !!cm.metadata?.labels?.[LABEL_POOL] || pools.list(cm.metadata?.namespace).some((p) => readsConfigMap(p, cm)));
  // A clusterSecrets scope selects by labels, not names: Secrets listed before it appeared were
  // dropped, and only a new list finds them. Remember how many lists the cache had completed
  // when each scope first appeared; the pool's reconcile waits for one more if none completed since.
  const scopeSince = new Map<string, number>();
  pools.onChange((kind, p) => {
    if (kind === 'delete') return;
    for (const src of p.spec?.sources ?? []) {
      if (src.clusterSecrets && !scopeSince.has(scopeKey(src.clusterSecrets)))
        scopeSince.set(scopeKey(src.clusterSecrets), secrets.listedCount());
    }
  });
  const scopeListed = (cs: Scope) => secrets.widen(scopeSince.get(scopeKey(cs)) ?? -1);
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
      scopeListed,
      statefulSets,
      deployments,
      services,
      endpointSlices,
      images: opts.images,
      conditionMetrics: new ObjectConditionMetrics(manager.metrics.registry, 'ocsp_operator_pool', 'OcspResponderPool'),
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
    return pools
      .list(cm.metadata?.namespace)
      .filter((p) => readsConfigMap(p, cm))
      .map(objectKey);
  });
  controller.watch(secrets, (s) =>
    pools
      .list()
      .filter((p) => readsSecret(p, s))
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
