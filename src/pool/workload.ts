// One object a pool renders and applies: what workloads.ts and exposure.ts both produce.
import type { KubeObject, ResourceType } from '../kube/types.js';

export interface Workload {
  type: ResourceType;
  object: KubeObject & Record<string, unknown>;
}
