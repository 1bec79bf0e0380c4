// What a pool runs, as Kubernetes objects, from its spec. Pure: the reconciler applies the result.
//
// Embedded store (one machine): one Deployment whose pod has a signer and a responder container
// sharing the store on a volume. Redis store: a signer StatefulSet (its pods split the
// certificates by ordinal of the replica count they watch, scaled on the backlog) and one
// responder Deployment per Redis replica, so a lagging replica takes exactly its responders out of rotation. Both shapes read the
// certificates from one generated index ConfigMap and report to `<pool>-report`. Each component's
// pod shape (spec.signers.pod, spec.responder.pod) adds to what the operator renders; with the
// embedded store the one pod takes its pod-level fields from responder.pod.
import { POD_LEVEL_FIELDS, type PodShape } from '../api/pod.js';
import { METRICS_PORTS, type OcspResponderPool } from '../api/pool.js';
import { API_GROUP_VERSION, KIND_POOL } from '../api/group.js';
import { DeploymentType, RoleBindingType, RoleType, ServiceAccountType, ServiceType, StatefulSetType } from '../kube/types.js';
import { exposureWorkloads } from './exposure.js';
import { heapEnv } from './heap.js';
import type { Workload } from './workload.js';
import { ANNOTATION_REDIS_REPLICA, LABEL_POOL, LABEL_REPLICA } from '../api/annotations.js';
import { reportConfigMapName } from '../report/protocol.js';
import { threadpoolSizeFor } from '../signer/threadpool.js';

export interface PoolImages {
  operator: string;
  /** The image with SoftHSM's / the vendor's PKCS#11 module, for PKCS#11 keys. */
  signer: string;
}

export const indexConfigMapName = (pool: string): string => `${pool}-index`;
/** The index ConfigMap's key with the declared revocations, for signers that read a source themselves. */
export const REVOCATIONS_KEY = 'revocations.json';
export const signerWorkloadName = (pool: string): string => `${pool}-signer`;
export const responderWorkloadName = (pool: string, replica?: number): string =>
  replica === undefined ? `${pool}-responder` : `${pool}-responder-${replica}`;

// PodSecurity `restricted` asks for all of these; pool pods need no capability and no writable root.
const CONTAINER_SECURITY = {
  runAsNonRoot: true,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
};

const MOUNT = {
  issuer: '/etc/ocsp/issuer',
  key: '/etc/ocsp/key',
  index: '/etc/ocsp/index',
  data: '/var/lib/ocsp',
  responder: '/etc/ocsp/responder',
};

function ownerRef(pool: OcspResponderPool) {
  return {
    apiVersion: API_GROUP_VERSION,
    kind: KIND_POOL,
    name: pool.metadata.name ?? '',
    uid: pool.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** What selects a component's pods (the Service, the workloads' selectors) and so labels them. */
const podLabels = (pool: OcspResponderPool, component: string, extra: Record<string, string> = {}) => ({
  [LABEL_POOL]: pool.metadata.name ?? '',
  'app.kubernetes.io/component': component,
  ...extra,
});

function meta(pool: OcspResponderPool, name: string, component: string) {
  return {
    name,
    namespace: pool.metadata.namespace,
    labels: { ...podLabels(pool, component), 'app.kubernetes.io/managed-by': 'ocsp-operator' },
    ownerReferences: [ownerRef(pool)],
  };
}

type VolumeMount = NonNullable<PodShape['volumeMounts']>[number];
/** A container as the renderer adds to it: env and mounts are lists that pod shapes extend. */
interface Container {
  name: string;
  env: Array<Record<string, unknown>>;
  volumeMounts: VolumeMount[];
  [field: string]: unknown;
}

/** The signer container's arguments and what it mounts. */
function signerContainer(pool: OcspResponderPool, images: PoolImages, store: string[], shareOf?: string): Container {
  const spec = pool.spec;
  const env: Array<Record<string, unknown>> = [
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
  ];
  const args = [
    'signer',
    '--index',
    `${MOUNT.index}/index.txt`,
    '--ca-cert',
    `${MOUNT.issuer}/tls.crt`,
    '--validity',
    spec.responseValidity,
    '--refresh-age',
    spec.refreshAge,
    // A round with nothing due costs one pass over the index: look often, so a new certificate or
    // a revocation is signed within seconds of reaching the index.
    '--interval',
    '2s',
    '--metrics-addr',
    `0.0.0.0:${METRICS_PORTS.signer}`,
    '--report-pool',
    pool.metadata.name ?? '',
    ...store,
  ];
  const mounts: VolumeMount[] = [
    { name: 'issuer', mountPath: MOUNT.issuer, readOnly: true },
    { name: 'index', mountPath: MOUNT.index, readOnly: true },
  ];
  if (spec.signing.pkcs11) {
    const p = spec.signing.pkcs11;
    args.push(
      '--pkcs11-module',
      p.module,
      '--token-label',
      p.tokenLabel,
      '--key-label',
      p.keyLabel,
      '--sessions',
      String(p.sessions),
      '--pin-env',
      'OCSP_SIGNER_PIN',
    );
    env.push({ name: 'OCSP_SIGNER_PIN', valueFrom: { secretKeyRef: { name: p.pinSecretRef.name, key: p.pinSecretRef.key } } });
  } else {
    args.push('--key-file', `${MOUNT.key}/tls.key`);
    mounts.push({ name: 'key', mountPath: MOUNT.key, readOnly: true });
  }
  // A database source is read by the signer itself each round (src/signer/postgres-source.ts),
  // never through the index ConfigMap; its URL, credentials included, comes from the Secret
  // through the environment, never in the arguments.
  spec.sources.forEach((src, i) => {
    const p = src.postgres;
    if (!p) return;
    env.push({ name: 'OCSP_SOURCE_POSTGRES_URL', valueFrom: { secretKeyRef: { name: p.urlSecretRef.name, key: p.urlSecretRef.key } } });
    args.push(
      '--postgres-url-env',
      'OCSP_SOURCE_POSTGRES_URL',
      // spec.revocations over the database's certificates too (the index already has them over its own).
      '--revocations',
      `${MOUNT.index}/${REVOCATIONS_KEY}`,
      '--postgres-name',
      `${pool.metadata.namespace ?? ''}/${pool.metadata.name ?? ''} sources[${i}].postgres`,
      '--postgres-max-lag',
      p.maxReplicationLag,
      '--postgres-page-size',
      String(p.pageSize),
      ...(p.changedAt !== undefined ? ['--postgres-changed-at', p.changedAt, '--postgres-full-read-every', p.fullReadInterval] : []),
      ...(p.query !== undefined ? ['--postgres-query', p.query] : []),
      ...(p.table !== undefined ? ['--postgres-table', p.table] : []),
      ...(p.columns
        ? [
            '--postgres-columns',
            Object.entries(p.columns)
              .map(([k, c]) => `${k}=${c}`)
              .join(','),
          ]
        : []),
    );
  });
  // Sized here so the signer never re-executes itself in a pod (4: the CLI's default --sessions).
  env.push({ name: 'UV_THREADPOOL_SIZE', value: String(threadpoolSizeFor(spec.signing.pkcs11?.sessions ?? 4)) });
  const dr = spec.delegatedResponder;
  if (dr.mode === 'Issue') args.push('--issue-responder', '--responder-validity', dr.validity, '--responder-renew-before', dr.renewBefore);
  if (dr.mode === 'FromSecret') {
    // The spec's signing key is the delegated responder's own key (an HSM key can be one): the
    // Secret brings only the certificate, renewed elsewhere for that key.
    args.push('--responder-cert', `${MOUNT.responder}/tls.crt`);
    mounts.push({ name: 'responder', mountPath: MOUNT.responder, readOnly: true });
  }
  // The share is learned from the StatefulSet at run time, never written here: a scale change
  // then leaves the template, and every running signer, as they are.
  if (shareOf !== undefined) args.push('--shard-from-statefulset', shareOf);
  return {
    name: 'signer',
    image: spec.signing.pkcs11 ? images.signer : images.operator,
    // Images are pinned by tag or digest; pulling only when missing also lets preloaded images run.
    imagePullPolicy: 'IfNotPresent',
    args,
    env,
    ports: [{ name: 'metrics', containerPort: METRICS_PORTS.signer }],
    volumeMounts: mounts,
    readinessProbe: { httpGet: { path: '/readyz', port: 'metrics' } },
    livenessProbe: { httpGet: { path: '/healthz', port: 'metrics' }, periodSeconds: 30 },
    securityContext: CONTAINER_SECURITY,
  };
}

function responderContainer(pool: OcspResponderPool, images: PoolImages, store: string[]): Container {
  const r = pool.spec.responder;
  return {
    name: 'responder',
    image: images.operator,
    imagePullPolicy: 'IfNotPresent',
    args: [
      'responder',
      '--ca-cert',
      `${MOUNT.issuer}/tls.crt`,
      '--lag-policy',
      r.lagPolicy,
      '--max-lag',
      r.maxReplicationLag,
      '--listen',
      `0.0.0.0:${r.port}`,
      // Metrics off the public port, which an Ingress may publish; the PodMonitor scrapes `metrics`.
      '--metrics-addr',
      `0.0.0.0:${METRICS_PORTS.responder}`,
      // Behind an Ingress the OCSP URL's path reaches the responder unchanged.
      ...(r.ingress && r.ingress.path !== '/' ? ['--path-prefix', r.ingress.path] : []),
      ...(r.cacheMaxAge ? ['--cache-max-age', r.cacheMaxAge] : []),
      '--report-pool',
      pool.metadata.name ?? '',
      ...store,
    ],
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    ],
    ports: [
      { name: 'ocsp', containerPort: r.port },
      { name: 'metrics', containerPort: METRICS_PORTS.responder },
    ],
    volumeMounts: [{ name: 'issuer', mountPath: MOUNT.issuer, readOnly: true }],
    // Readiness is the lag check: a lagging responder leaves the Service's endpoints.
    readinessProbe: { httpGet: { path: '/readyz', port: 'ocsp' }, periodSeconds: 2 },
    livenessProbe: { httpGet: { path: '/healthz', port: 'ocsp' }, periodSeconds: 30 },
    securityContext: CONTAINER_SECURITY,
  };
}

function volumes(pool: OcspResponderPool, issuerSecret: string, extra: Array<Record<string, unknown>> = []) {
  const spec = pool.spec;
  const v: Array<Record<string, unknown>> = [
    { name: 'issuer', secret: { secretName: issuerSecret } },
    { name: 'index', configMap: { name: indexConfigMapName(pool.metadata.name ?? '') } },
    ...extra,
  ];
  if (spec.signing.softwareKey) v.push({ name: 'key', secret: { secretName: spec.signing.softwareKey.secretName } });
  if (spec.delegatedResponder.mode === 'FromSecret' && spec.delegatedResponder.secretName) {
    v.push({ name: 'responder', secret: { secretName: spec.delegatedResponder.secretName } });
  }
  return v;
}

/** The component's container with its shape's resources, and its env and mounts after the operator's own. */
function shaped(c: Container, shape: PodShape | undefined, operatorEnv: Array<Record<string, unknown>> = []): Container {
  return {
    ...c,
    env: [...c.env, ...operatorEnv, ...(shape?.env ?? [])],
    volumeMounts: [...c.volumeMounts, ...(shape?.volumeMounts ?? [])],
    ...(shape?.resources ? { resources: shape.resources } : {}),
  };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A user's init container runs under the restricted settings of the operator's own unless it says otherwise, field by field. */
function initContainer(c: NonNullable<PodShape['initContainers']>[number]) {
  return { ...c, securityContext: { ...CONTAINER_SECURITY, ...(isRecord(c.securityContext) ? c.securityContext : {}) } };
}

/**
 * A pod template: the operator's containers and volumes, and the shapes of the components whose
 * containers run in it: the volumes and init containers of each, the pod-level fields of the first.
 */
function podTemplate(
  pool: OcspResponderPool,
  labels: Record<string, string>,
  containers: Container[],
  vols: unknown[],
  members: Array<PodShape | undefined>,
) {
  const pod = members[0];
  // Labels and annotations go to the metadata, the other pod-level fields to the pod's spec.
  const podSpec = Object.fromEntries(
    POD_LEVEL_FIELDS.flatMap((f) => (f === 'labels' || f === 'annotations' || pod?.[f] === undefined ? [] : [[f, pod[f]]])),
  );
  const initContainers = members.flatMap((m) => m?.initContainers ?? []).map(initContainer);
  return {
    // The operator's labels last: the selectors rely on them (the CRD refuses them in pod.labels).
    metadata: { labels: { ...pod?.labels, ...labels }, ...(pod?.annotations ? { annotations: pod.annotations } : {}) },
    spec: {
      serviceAccountName: pool.metadata.name,
      automountServiceAccountToken: true,
      securityContext: { runAsNonRoot: true, runAsUser: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
      ...podSpec,
      ...(initContainers.length ? { initContainers } : {}),
      containers,
      volumes: [...vols, ...members.flatMap((m) => m?.volumes ?? [])],
    },
  };
}

export function poolWorkloads(pool: OcspResponderPool, o: { images: PoolImages; signerReplicas: number }): Workload[] {
  const name = pool.metadata.name ?? '';
  const spec = pool.spec;
  const out: Workload[] = [];
  const sa = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(pool, name, 'pool') };
  // The pool's pods may write their own reports and read their signer StatefulSet, nothing else.
  const role = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: meta(pool, name, 'pool'),
    rules: [
      { apiGroups: [''], resources: ['configmaps'], verbs: ['create'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'patch', 'update'], resourceNames: [reportConfigMapName(name)] },
      // Signers read their StatefulSet's replica count for their share (src/signer/shard-source.ts):
      // a get, and a watch that names it (fieldSelector metadata.name), of that one object.
      ...(spec.store.type === 'Redis'
        ? [{ apiGroups: ['apps'], resources: ['statefulsets'], verbs: ['get', 'watch'], resourceNames: [signerWorkloadName(name)] }]
        : []),
    ],
  };
  const binding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: meta(pool, name, 'pool'),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
    subjects: [{ kind: 'ServiceAccount', name, namespace: pool.metadata.namespace }],
  };
  out.push({ type: ServiceAccountType, object: sa }, { type: RoleType, object: role }, { type: RoleBindingType, object: binding });

  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(pool, name, 'responder'),
    spec: {
      selector: podLabels(pool, 'responder'),
      ports: [{ name: 'ocsp', port: 80, targetPort: 'ocsp' }],
    },
  };
  out.push({ type: ServiceType, object: service });

  if (spec.store.type === 'Embedded') {
    const embedded = spec.store.embedded ?? { storageSize: '1Gi', ephemeral: false };
    const store = ['--store-dir', MOUNT.data];
    const data = { name: 'data', mountPath: MOUNT.data };
    const withData = (c: Container) => ({ ...c, volumeMounts: [...c.volumeMounts, data] });
    const signer = shaped(withData(signerContainer(pool, o.images, store)), spec.signers.pod, heapEnv(spec.signers.pod));
    // Here the signer shares the responder's pod: its readiness (a signing round lately) must not
    // take a responder that still serves valid responses out of the Service; its liveness stays.
    delete signer.readinessProbe;
    const responder = shaped(withData(responderContainer(pool, o.images, store)), spec.responder.pod);
    // The log: on a claim (one the user names, or one per pool from the template) unless ephemeral.
    const dataVolume = embedded.ephemeral
      ? [{ name: 'data', emptyDir: { sizeLimit: embedded.storageSize } }]
      : embedded.claimName
        ? [{ name: 'data', persistentVolumeClaim: { claimName: embedded.claimName } }]
        : [];
    const claimTemplate =
      !embedded.ephemeral && !embedded.claimName
        ? [
            {
              metadata: { name: 'data', labels: podLabels(pool, 'responder') },
              spec: {
                accessModes: ['ReadWriteOnce'],
                resources: { requests: { storage: embedded.storageSize } },
                ...(embedded.storageClassName ? { storageClassName: embedded.storageClassName } : {}),
              },
            },
          ]
        : [];
    const statefulSet = {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: meta(pool, name, 'responder'),
      spec: {
        // One machine: the embedded store has one writer. A StatefulSet replaces its pod only
        // after the old one is gone, so two writers never overlap on the volume (the log's lock
        // makes a second one wait all the same).
        replicas: 1,
        serviceName: name,
        selector: { matchLabels: podLabels(pool, 'responder') },
        template: podTemplate(pool, podLabels(pool, 'responder'), [signer, responder], volumes(pool, spec.issuer.secretName, dataVolume), [
          spec.responder.pod,
          spec.signers.pod,
        ]),
        ...(claimTemplate.length
          ? { volumeClaimTemplates: claimTemplate, persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' } }
          : {}),
      },
    };
    out.push({ type: StatefulSetType, object: statefulSet });
    return [...out, ...exposureWorkloads(pool, out)];
  }

  const redis = spec.store.redis!;
  // The password reaches the processes through the environment, never in their arguments.
  const password = redis.passwordSecretRef
    ? [{ name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: redis.passwordSecretRef.name, key: redis.passwordSecretRef.key } } }]
    : [];
  const passwordArgs = redis.passwordSecretRef ? ['--redis-password-env', 'REDIS_PASSWORD'] : [];
  const signer = shaped(
    signerContainer(pool, o.images, ['--redis-url', redis.primaryURL, ...passwordArgs], signerWorkloadName(name)),
    spec.signers.pod,
    [...password, ...heapEnv(spec.signers.pod)],
  );
  const statefulSet = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta(pool, signerWorkloadName(name), 'signer'),
    spec: {
      replicas: o.signerReplicas,
      serviceName: signerWorkloadName(name),
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: podLabels(pool, 'signer') },
      template: podTemplate(pool, podLabels(pool, 'signer'), [signer], volumes(pool, spec.issuer.secretName), [spec.signers.pod]),
    },
  };
  out.push({ type: StatefulSetType, object: statefulSet });
  // The StatefulSet's governing Service, headless: its EndpointSlices carry the kubelet's word on
  // each signer pod's readiness, which decides whether the pod's report still counts.
  out.push({
    type: ServiceType,
    object: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(pool, signerWorkloadName(name), 'signer'),
      spec: {
        clusterIP: 'None',
        selector: podLabels(pool, 'signer'),
        ports: [{ name: 'metrics', port: METRICS_PORTS.signer, targetPort: 'metrics' }],
      },
    },
  });
  const replicas = redis.replicaURLs?.length ? redis.replicaURLs : [redis.primaryURL];
  const perReplica = Math.ceil((spec.responder.replicas ?? 2) / replicas.length);
  replicas.forEach((url, i) => {
    const responder = shaped(
      responderContainer(pool, o.images, ['--redis-url', url, '--redis-primary-url', redis.primaryURL, ...passwordArgs]),
      spec.responder.pod,
      password,
    );
    const labels = podLabels(pool, 'responder', { [LABEL_REPLICA]: String(i) });
    out.push({
      type: DeploymentType,
      object: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: {
          ...meta(pool, responderWorkloadName(name, i), 'responder'),
          annotations: { [ANNOTATION_REDIS_REPLICA]: url.replace(/\/\/[^@/]*@/, '//') },
        },
        spec: {
          // With an autoscaler the HPA owns replicas: the operator's apply leaves the field out.
          ...(spec.responder.autoscaling ? {} : { replicas: perReplica }),
          selector: { matchLabels: labels },
          template: podTemplate(pool, labels, [responder], volumes(pool, spec.issuer.secretName), [spec.responder.pod]),
        },
      },
    });
  });
  return [...out, ...exposureWorkloads(pool, out)];
}
