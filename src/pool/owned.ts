// What the pool reconciler does around its apply, for objects the spec stops rendering or a field
// it stops owning.
//
// Pruning: server-side apply never deletes. When the user removes responder.ingress or
// autoscaling, drops a Redis replica, or changes the store type, the objects rendered before stay
// behind (an Ingress still publishing, an HPA still scaling, a second writer's workload still
// running). After each apply, the objects of the types the operator renders that carry the pool's
// label and name the pool as their controller, and that the rendering no longer contains, are
// deleted. Only those: the generated ConfigMaps and the store's volume claims are not of these
// types, and an object someone else made is not controlled by the pool.
//
// Replicas handed to an HPA: when autoscaling is set, the operator's apply leaves a responder
// Deployment's `replicas` out so that the HPA owns it. Dropping a field from an apply that was its
// only owner resets it (to 1, the default), which would take the responders down to one pod until
// the HPA scales them up again. So before that first apply without it, the field is handed to a
// manager of its own with its current value (the "transferring ownership" procedure of the
// server-side apply documentation), and the HPA takes it from there.
import type { Logger } from 'pino';
import type { KubeApi } from '../kube/api.js';
import type { KubeObject } from '../kube/types.js';
import { LABEL_POOL } from '../api/annotations.js';
import {
  DeploymentType,
  StatefulSetType,
  HorizontalPodAutoscalerType,
  IngressType,
  PodDisruptionBudgetType,
  RoleBindingType,
  RoleType,
  ServiceAccountType,
  ServiceType,
} from '../kube/types.js';
import { type Workload } from './workload.js';

/** Every type poolWorkloads renders, and so every type a change of spec may leave behind. */
export const PRUNED_TYPES = [
  DeploymentType,
  StatefulSetType,
  ServiceType,
  ServiceAccountType,
  RoleType,
  RoleBindingType,
  IngressType,
  HorizontalPodAutoscalerType,
  PodDisruptionBudgetType,
];

/** The field manager that holds a Deployment's replicas between the operator's last apply of them and the HPA's first scale. */
export const REPLICAS_HANDOVER_MANAGER = 'ocsp-operator-replicas-handover';

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  fieldsV1?: { 'f:spec'?: Record<string, unknown> };
}

type Live = KubeObject & { metadata?: { managedFields?: ManagedFieldsEntry[] }; spec?: { replicas?: number } };

const id = (kind: string | undefined, name: string | undefined) => `${kind ?? ''} ${name ?? ''}`;

/**
 * Deletes what the pool controls and `workloads` (everything it renders now) no longer holds.
 * Returns what it deleted, as `Kind name`.
 */
export async function pruneOwned(
  client: KubeApi,
  pool: { namespace: string; name: string; uid: string },
  workloads: Workload[],
  log: Logger,
): Promise<string[]> {
  if (!pool.uid) return []; // without the pool's uid nothing can be shown to be its own
  const wanted = new Set(workloads.map((w) => id(w.type.kind, w.object.metadata?.name)));
  const deleted: string[] = [];
  for (const type of PRUNED_TYPES) {
    const { items } = await client.list(type, {
      namespace: pool.namespace,
      labelSelector: `${LABEL_POOL}=${pool.name},app.kubernetes.io/managed-by=ocsp-operator`,
    });
    for (const o of items) {
      const controlled = o.metadata?.ownerReferences?.some((r) => r.controller && r.uid === pool.uid);
      if (!controlled || o.metadata?.deletionTimestamp || wanted.has(id(type.kind, o.metadata?.name))) continue;
      await client.delete(type, pool.namespace, o.metadata?.name ?? '');
      deleted.push(id(type.kind, o.metadata?.name));
    }
  }
  if (deleted.length) log.info({ deleted }, 'deleted what the pool no longer renders');
  return deleted;
}

/**
 * For each Deployment rendered without `replicas` (an HPA owns them) whose live `replicas` the
 * operator's apply still owns: hand the field, at its current value, to REPLICAS_HANDOVER_MANAGER,
 * so that the apply that leaves it out does not reset it. Returns the Deployments handed over.
 */
export async function handOverReplicas(client: KubeApi, workloads: Workload[], fieldManager: string, log: Logger): Promise<string[]> {
  const handed: string[] = [];
  for (const w of workloads) {
    if (w.type !== DeploymentType || (w.object as { spec?: { replicas?: number } }).spec?.replicas !== undefined) continue;
    const { namespace, name = '' } = w.object.metadata ?? {};
    const live = await client.getOrUndefined<Live>(DeploymentType, namespace, name);
    const owned = live?.metadata?.managedFields?.some(
      (f) => f.manager === fieldManager && f.operation === 'Apply' && f.fieldsV1?.['f:spec']?.['f:replicas'] !== undefined,
    );
    if (!live || !owned || live.spec?.replicas === undefined) continue;
    await client.apply(
      DeploymentType,
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace }, spec: { replicas: live.spec.replicas } } as KubeObject,
      REPLICAS_HANDOVER_MANAGER,
    );
    handed.push(name);
  }
  if (handed.length) log.info({ deployments: handed }, 'responder replicas handed to their autoscaler');
  return handed;
}
