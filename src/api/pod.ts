// The shape of a pool's pods, set per component (`spec.signers.pod`, `spec.responder.pod`): where
// they run (nodeSelector, tolerations, affinity, topologySpreadConstraints, priorityClassName),
// what they carry (labels, annotations, imagePullSecrets) and what the component's container gets
// besides the operator's own arguments (resources, env, volumeMounts, with the pod's extra volumes
// and init containers). This is how a PKCS#11 token, or an HSM's client library and its
// configuration, reach the signer.
//
// Small core types are declared field by field, so a mistake is refused when the pool is applied.
// The deep ones (a volume's source, affinity terms, an init container) keep their Kubernetes shape
// unchecked here (x-kubernetes-preserve-unknown-fields, as operators do to keep a CRD small and
// independent of the cluster's version): the apiserver checks them when the operator applies the
// workload. The CRD mirrors this file field by field (test/api/schema-drift.test.ts).

import { z } from 'zod';
import { ABSOLUTE_PATH_PATTERN, QUANTITY_PATTERN, dataKey, dnsLabel, secretName } from './meta.js';
import { LABEL_POOL, LABEL_REPLICA } from './annotations.js';

/**
 * What the operator itself puts into a pool's pods. The pod shape may not reuse these: a second
 * volume or mount path of the same name is refused by the apiserver only when the workload is
 * applied, a second env var silently shadows the first, and a changed selector label would leave
 * the pods outside their own Deployment. test/pool/pod-shape.test.ts checks that every name the
 * rendered pods use is listed here.
 */
export const OPERATOR_POD_NAMES = {
  volumes: ['issuer', 'index', 'key', 'data', 'responder'],
  mountPaths: ['/etc/ocsp/issuer', '/etc/ocsp/index', '/etc/ocsp/key', '/etc/ocsp/responder', '/var/lib/ocsp'],
  env: ['POD_NAME', 'POD_NAMESPACE', 'OCSP_SIGNER_PIN', 'REDIS_PASSWORD', 'UV_THREADPOOL_SIZE'],
  labels: [LABEL_POOL, LABEL_REPLICA, 'app.kubernetes.io/component'],
  containers: ['signer', 'responder'],
} as const;

/**
 * The fields that shape the pod as a whole rather than the component's container. With the
 * embedded store one pod runs both containers, and these come from `responder.pod` alone.
 */
export const POD_LEVEL_FIELDS = [
  'labels',
  'annotations',
  'nodeSelector',
  'tolerations',
  'affinity',
  'topologySpreadConstraints',
  'imagePullSecrets',
  'priorityClassName',
] as const;

/** Label values as Kubernetes validates them. */
export const LABEL_VALUE_PATTERN = '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$';
/** Environment variable names: the rule Kubernetes applied before it relaxed it in 1.32. */
export const ENV_NAME_PATTERN = '^[-._a-zA-Z][-._a-zA-Z0-9]*$';

const reserved = (s: z.ZodString, names: readonly string[], what: string) =>
  s.refine((v) => !names.includes(v), { message: `${what} must not be one of the operator's own: ${names.join(', ')}` });

/** The zod twin of `x-kubernetes-list-type: map`: one item per key. */
const unique = <T extends z.ZodType>(item: T, max: number, key: (t: z.output<T>) => string, what: string) =>
  z
    .array(item)
    .max(max)
    .refine((l) => new Set(l.map(key)).size === l.length, { message: `duplicate ${what}` });

/** Kubernetes quantities are strings ("250m", "1Gi") or plain integers. */
const quantity = () => z.union([z.int(), z.string().regex(new RegExp(QUANTITY_PATTERN))]);

/** An object whose further fields are Kubernetes' own, kept as written and checked on apply. */
const kubernetesShaped = () => z.looseObject({});

export const ResourceRequirementsSchema = z.object({
  limits: z.record(z.string(), quantity()).optional(),
  requests: z.record(z.string(), quantity()).optional(),
});

export const TolerationSchema = z.object({
  key: z.string().max(316).optional(),
  operator: z.enum(['Exists', 'Equal']).optional(),
  value: z.string().max(63).optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
  tolerationSeconds: z.int().optional(),
});

export const LabelSelectorSchema = z.object({
  matchLabels: z.record(z.string(), z.string().max(63).regex(new RegExp(LABEL_VALUE_PATTERN))).optional(),
  matchExpressions: z
    .array(
      z.object({
        key: z.string().min(1).max(316),
        operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
        values: z.array(z.string().max(63)).max(64).optional(),
      }),
    )
    .max(16)
    .optional(),
});

export const TopologySpreadConstraintSchema = z.object({
  maxSkew: z.int().min(1),
  topologyKey: z.string().min(1).max(316),
  whenUnsatisfiable: z.enum(['DoNotSchedule', 'ScheduleAnyway']),
  /** Which pods count; usually this component's: `ocsp-operator.dev/pool` and `app.kubernetes.io/component`. */
  labelSelector: LabelSelectorSchema.optional(),
  minDomains: z.int().min(1).optional(),
  nodeAffinityPolicy: z.enum(['Honor', 'Ignore']).optional(),
  nodeTaintsPolicy: z.enum(['Honor', 'Ignore']).optional(),
  matchLabelKeys: z.array(z.string().min(1).max(316)).max(16).optional(),
});

const KeyRefSchema = z.object({ name: secretName(), key: dataKey(), optional: z.boolean().optional() });

export const EnvVarSourceSchema = z
  .object({
    secretKeyRef: KeyRefSchema.optional(),
    configMapKeyRef: KeyRefSchema.optional(),
    fieldRef: z.object({ apiVersion: z.string().max(64).optional(), fieldPath: z.string().min(1).max(256) }).optional(),
    resourceFieldRef: z
      .object({ containerName: z.string().max(63).optional(), resource: z.string().min(1).max(63), divisor: quantity().optional() })
      .optional(),
  })
  .refine((s) => [s.secretKeyRef, s.configMapKeyRef, s.fieldRef, s.resourceFieldRef].filter((x) => x !== undefined).length === 1, {
    message: 'valueFrom sets exactly one of secretKeyRef, configMapKeyRef, fieldRef or resourceFieldRef',
  });

export const EnvVarSchema = z
  .object({
    name: reserved(z.string().min(1).max(253).regex(new RegExp(ENV_NAME_PATTERN)), OPERATOR_POD_NAMES.env, 'env'),
    value: z.string().optional(),
    valueFrom: EnvVarSourceSchema.optional(),
  })
  .refine((e) => e.value === undefined || e.valueFrom === undefined, { message: 'value and valueFrom are exclusive' });

export const VolumeMountSchema = z.object({
  name: dnsLabel(),
  mountPath: reserved(z.string().min(1).max(4096).regex(new RegExp(ABSOLUTE_PATH_PATTERN)), OPERATOR_POD_NAMES.mountPaths, 'mountPath'),
  readOnly: z.boolean().optional(),
  subPath: z.string().max(4096).optional(),
  subPathExpr: z.string().max(4096).optional(),
});

/** A core/v1 Volume: its name here, its source (persistentVolumeClaim, csi, image, …) as Kubernetes has it. */
export const VolumeSchema = z.looseObject({ name: reserved(dnsLabel(), OPERATOR_POD_NAMES.volumes, 'volume') });

/** A core/v1 Container run before the component's container (e.g. one that copies an HSM client library). */
export const InitContainerSchema = z.looseObject({
  name: reserved(dnsLabel(), OPERATOR_POD_NAMES.containers, 'container'),
  image: z.string().min(1).max(4096),
});

export const PodShapeSchema = z.object({
  labels: z
    .record(z.string(), z.string().max(63).regex(new RegExp(LABEL_VALUE_PATTERN)))
    .refine((m) => OPERATOR_POD_NAMES.labels.every((k) => !(k in m)), {
      message: `labels ${OPERATOR_POD_NAMES.labels.join(', ')} are the operator's own`,
    })
    .optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  resources: ResourceRequirementsSchema.optional(),
  nodeSelector: z.record(z.string(), z.string().max(63)).optional(),
  tolerations: z.array(TolerationSchema).max(64).optional(),
  affinity: z
    .object({
      nodeAffinity: kubernetesShaped().optional(),
      podAffinity: kubernetesShaped().optional(),
      podAntiAffinity: kubernetesShaped().optional(),
    })
    .optional(),
  topologySpreadConstraints: z.array(TopologySpreadConstraintSchema).max(16).optional(),
  imagePullSecrets: unique(z.object({ name: secretName() }), 16, (s) => s.name, 'imagePullSecret').optional(),
  priorityClassName: secretName().optional(),
  volumes: unique(VolumeSchema, 32, (v) => v.name, 'volume').optional(),
  volumeMounts: unique(VolumeMountSchema, 32, (m) => m.mountPath, 'mountPath').optional(),
  env: unique(EnvVarSchema, 64, (e) => e.name, 'env').optional(),
  initContainers: unique(InitContainerSchema, 8, (c) => c.name, 'initContainer').optional(),
});

export type PodShape = z.output<typeof PodShapeSchema>;
