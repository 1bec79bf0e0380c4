// One set of OcspStaple and OcspResponderPool objects, each with the verdict every layer must
// reach: zod (src/api), the CRD's structural schema (schema-drift.test.ts, locally) and the real
// apiserver with its CEL rules (crd.k8s.test.ts). Each invalid sample breaks exactly one thing, because
// the apiserver skips CEL rules once the schema check has failed, and names the field whose path the
// rejection must mention.

import { API_GROUP_VERSION, KIND_POOL, KIND_STAPLE } from '../../src/api/index.js';
import { fullPodShape } from '../support/pod-shape.js';
import type { ApiKind } from './crds.js';

export interface Sample {
  /** Unique; also the object's metadata.name, so it is a DNS-1123 label. */
  name: string;
  kind: ApiKind;
  /** The full manifest without metadata.namespace (the test chooses the namespace). */
  object: Record<string, unknown>;
  expect: 'accept' | 'reject';
  /** For rejections: the field path (apiserver spelling) the error must name. */
  field?: string;
  /**
   * For rejections: which apiserver layer refuses it. `cel` samples pass the structural schema and
   * are refused only by an x-kubernetes-validations rule (zod has the same rule as a refine).
   */
  rule?: 'schema' | 'cel';
  /**
   * `status`: the sample's point is its `.status`; create the object without it, then write the
   * status through the status subresource (the apiserver ignores status on create).
   */
  via: 'create' | 'status';
}

type Json = Record<string, unknown>;

function manifest(kind: ApiKind, name: string, spec: Json, status?: Json): Json {
  const obj = { apiVersion: API_GROUP_VERSION, kind, metadata: { name }, spec, ...(status ? { status } : {}) };
  // A round trip through JSON drops the `undefined` used above to delete a field, so every layer
  // (and the wire) sees the same object.
  return JSON.parse(JSON.stringify(obj)) as Json;
}

// ---------------------------------------------------------------------------------------------
// OcspStaple

export function minimalStapleSpec(): Json {
  return { secretName: 'web-tls' };
}

function staple(name: string, patch: Json, expect: Sample['expect'], field?: string, rule?: Sample['rule']): Sample {
  return {
    name,
    kind: KIND_STAPLE,
    object: manifest(KIND_STAPLE, name, { ...minimalStapleSpec(), ...patch }),
    expect,
    ...(field ? { field } : {}),
    ...(rule ? { rule } : {}),
    via: 'create',
  };
}

function stapleStatus(name: string, status: Json, expect: Sample['expect'], field?: string): Sample {
  return {
    name,
    kind: KIND_STAPLE,
    object: manifest(KIND_STAPLE, name, minimalStapleSpec(), status),
    expect,
    ...(field ? { field, rule: 'schema' as const } : {}),
    via: 'status',
  };
}

const T0 = '2025-06-01T12:00:00Z';
const T1 = '2025-06-08T12:00:00Z';

function condition(over: Json = {}): Json {
  return {
    type: 'Ready',
    status: 'True',
    reason: 'StapleValid',
    message: 'staple valid until 2025-06-08T12:00:00Z',
    lastTransitionTime: T0,
    observedGeneration: 1,
    ...over,
  };
}

export const STAPLE_FULL_SPEC: Json = {
  secretName: 'web-tls',
  stapleSecretName: 'web-staple',
  issuerSecretRef: { name: 'web-issuer', key: 'issuer.pem' },
  responderURL: 'http://ocsp.example.test:8080/ocsp',
  method: 'GET',
  hashAlgorithm: 'SHA-256',
  nonce: true,
  onRenewal: 'PublishWithoutStaple',
  refresh: { fraction: 0.25, jitter: 0.2, retryInitial: '1m30s', retryMax: '1h30m', minInterval: '30s' },
  clockSkew: '2m',
  signerMinRemaining: '2h',
  requestTimeout: '5s',
  freshnessWarning: '12h',
  onRevoked: { reissue: true },
  publishUnknown: true,
  paused: true,
};

const stapleSamples: Sample[] = [
  staple('staple-minimal', {}, 'accept'),
  staple('staple-full', STAPLE_FULL_SPEC, 'accept'),
  staple('staple-partial-refresh', { refresh: { fraction: 0.75 } }, 'accept'),
  staple('staple-bounds-inclusive', { refresh: { fraction: 0.9, jitter: 0 } }, 'accept'),
  staple('staple-long-name-explicit', { secretName: 'a'.repeat(250), stapleSecretName: 'b' }, 'accept'),
  staple('staple-https-url-query', { responderURL: 'https://ocsp.example.test/?x=1' }, 'accept'),
  staple('staple-ms-duration', { requestTimeout: '1500ms' }, 'accept'),
  staple('staple-issuer-ref-default-key', { issuerSecretRef: { name: 'web-issuer' } }, 'accept'),
  // schema
  {
    name: 'staple-no-spec',
    kind: KIND_STAPLE,
    object: { apiVersion: API_GROUP_VERSION, kind: KIND_STAPLE, metadata: { name: 'staple-no-spec' } },
    expect: 'reject',
    field: 'spec',
    rule: 'schema',
    via: 'create',
  },
  staple('staple-no-secret-name', { secretName: undefined }, 'reject', 'spec.secretName', 'schema'),
  staple('staple-secret-name-upper', { secretName: 'Web-TLS' }, 'reject', 'spec.secretName', 'schema'),
  staple('staple-method-put', { method: 'PUT' }, 'reject', 'spec.method', 'schema'),
  staple('staple-hash-md5', { hashAlgorithm: 'MD5' }, 'reject', 'spec.hashAlgorithm', 'schema'),
  staple('staple-fraction-high', { refresh: { fraction: 0.95 } }, 'reject', 'spec.refresh.fraction', 'schema'),
  staple('staple-fraction-low', { refresh: { fraction: 0.05 } }, 'reject', 'spec.refresh.fraction', 'schema'),
  staple('staple-fraction-string', { refresh: { fraction: '0.5' } }, 'reject', 'spec.refresh.fraction', 'schema'),
  staple('staple-jitter-high', { refresh: { jitter: 0.6 } }, 'reject', 'spec.refresh.jitter', 'schema'),
  staple('staple-retry-words', { refresh: { retryMax: '10 minutes' } }, 'reject', 'spec.refresh.retryMax', 'schema'),
  staple('staple-skew-no-unit', { clockSkew: '5' }, 'reject', 'spec.clockSkew', 'schema'),
  staple('staple-skew-negative', { clockSkew: '-5m' }, 'reject', 'spec.clockSkew', 'schema'),
  staple('staple-warning-days', { freshnessWarning: '1d' }, 'reject', 'spec.freshnessWarning', 'schema'),
  staple('staple-url-ftp', { responderURL: 'ftp://ocsp.example.test/' }, 'reject', 'spec.responderURL', 'schema'),
  staple('staple-url-no-host', { responderURL: 'http:///ocsp' }, 'reject', 'spec.responderURL', 'schema'),
  staple('staple-onrenewal-unknown', { onRenewal: 'PublishWithOldStaple' }, 'reject', 'spec.onRenewal', 'schema'),
  staple('staple-nonce-string', { nonce: 'yes' }, 'reject', 'spec.nonce', 'schema'),
  staple('staple-issuer-ref-no-name', { issuerSecretRef: { key: 'ca.crt' } }, 'reject', 'spec.issuerSecretRef.name', 'schema'),
  staple('staple-reissue-string', { onRevoked: { reissue: 'true' } }, 'reject', 'spec.onRevoked.reissue', 'schema'),
  staple('staple-publish-unknown-string', { publishUnknown: 'false' }, 'reject', 'spec.publishUnknown', 'schema'),
  // CEL
  staple('staple-same-secret', { stapleSecretName: 'web-tls' }, 'reject', 'spec.stapleSecretName', 'cel'),
  staple('staple-retry-inverted', { refresh: { retryInitial: '1h' } }, 'reject', 'spec.refresh.retryInitial', 'cel'),
  staple('staple-long-name-derived', { secretName: 'a'.repeat(250) }, 'reject', 'spec.secretName', 'cel'),
  // status
  stapleStatus(
    'staple-status-full',
    {
      observedGeneration: 1,
      conditions: [condition(), condition({ type: 'Fresh', reason: 'Fresh' })],
      stapleSecretName: 'web-tls-ocsp',
      certificate: {
        serial: '03E8A1F2',
        sha256: 'a'.repeat(64),
        subject: 'CN=web.example.test',
        issuer: 'CN=Example Issuing CA',
        notBefore: T0,
        notAfter: '2025-09-01T12:00:00Z',
        ocspURL: 'http://ocsp.example.test',
        mustStaple: false,
      },
      staple: {
        certStatus: 'good',
        thisUpdate: T0,
        nextUpdate: T1,
        producedAt: T0,
        signer: { subject: 'CN=OCSP Responder', notAfter: '2025-07-01T00:00:00Z', delegated: true },
        usableUntil: T1,
        sha256: 'b'.repeat(64),
      },
      nextRefreshTime: '2025-06-04T20:00:00.5+02:00',
      lastAttemptTime: T0,
      lastSuccessTime: T0,
      consecutiveFailures: 0,
      lastFailure: { reason: 'TryLater', message: 'responder said tryLater', time: T0 },
    },
    'accept',
  ),
  stapleStatus(
    'staple-status-revoked',
    { staple: { certStatus: 'revoked', revocationTime: T0, revocationReason: 'keyCompromise' } },
    'accept',
  ),
  stapleStatus('staple-status-cond-maybe', { conditions: [condition({ status: 'Maybe' })] }, 'reject', 'status.conditions[0].status'),
  stapleStatus('staple-status-cond-reason', { conditions: [condition({ reason: 'not camel' })] }, 'reject', 'status.conditions[0].reason'),
  stapleStatus(
    'staple-status-cond-time',
    { conditions: [condition({ lastTransitionTime: 'yesterday' })] },
    'reject',
    'status.conditions[0].lastTransitionTime',
  ),
  stapleStatus('staple-status-cond-no-msg', { conditions: [condition({ message: undefined })] }, 'reject', 'status.conditions[0].message'),
  stapleStatus('staple-status-cond-dup', { conditions: [condition(), condition()] }, 'reject', 'status.conditions'),
  stapleStatus('staple-status-certstatus', { staple: { certStatus: 'expired' } }, 'reject', 'status.staple.certStatus'),
  stapleStatus('staple-status-failures-neg', { consecutiveFailures: -1 }, 'reject', 'status.consecutiveFailures'),
  stapleStatus('staple-status-serial-colons', { certificate: { serial: '03:E8' } }, 'reject', 'status.certificate.serial'),
];

// ---------------------------------------------------------------------------------------------
// OcspResponderPool

export function minimalPoolSpec(): Json {
  return {
    issuer: { secretName: 'example-ca' },
    signing: { pkcs11: { tokenLabel: 'ocsp', keyLabel: 'ocsp-signer', pinSecretRef: { name: 'hsm-pin' } } },
    sources: [{ clusterSecrets: {} }],
  };
}

function pool(name: string, patch: Json, expect: Sample['expect'], field?: string, rule?: Sample['rule']): Sample {
  const spec: Json = { ...minimalPoolSpec(), ...patch };
  return {
    name,
    kind: KIND_POOL,
    object: manifest(KIND_POOL, name, spec),
    expect,
    ...(field ? { field } : {}),
    ...(rule ? { rule } : {}),
    via: 'create',
  };
}

function poolStatus(name: string, status: Json, expect: Sample['expect'], field?: string): Sample {
  return {
    name,
    kind: KIND_POOL,
    object: manifest(KIND_POOL, name, minimalPoolSpec(), status),
    expect,
    ...(field ? { field, rule: 'schema' as const } : {}),
    via: 'status',
  };
}

export const POOL_FULL_SPEC: Json = {
  issuer: { secretName: 'example-ca' },
  signing: { softwareKey: { secretName: 'ocsp-responder-tls' } },
  delegatedResponder: { mode: 'FromSecret', secretName: 'ocsp-responder-tls', validity: '2160h', renewBefore: '720h' },
  responseValidity: '96h',
  refreshAge: '48h',
  sources: [
    { clusterSecrets: { namespaces: ['team-a', 'team-b'], labelSelector: { 'pki.example.test/issuer': 'example-ca' } } },
    { opensslIndex: { configMapName: 'legacy-ca-db', key: 'index.txt.attr' } },
  ],
  revocations: [
    { serial: '03E8A1F2', time: T0, reason: 'keyCompromise' },
    { serial: 'ab', time: '2025-06-02T00:00:00.123Z', reason: 'superseded' },
  ],
  store: {
    type: 'Redis',
    redis: {
      primaryURL: 'redis://redis-primary:6379/0',
      replicaURLs: ['redis://redis-replica-0:6379/0', 'rediss://redis-replica-1:6380/0'],
      passwordSecretRef: { name: 'redis-auth', key: 'pw' },
    },
  },
  responder: { replicas: 3, port: 9080, maxReplicationLag: '5s', lagPolicy: 'ServeWhatItHas', cacheMaxAge: '1h' },
  signers: { minReplicas: 2, maxReplicas: 20, stabilizationWindow: '10m', targetDrainTime: '5m' },
  thresholds: {
    freshnessWarningAge: '60h',
    freshnessCriticalAge: '80h',
    signerExpiryWarning: '240h',
    issuerExpiryWarning: '2160h',
    newCertificateTarget: '15m',
  },
};

const pkcs11 = (over: Json): Json => ({
  pkcs11: { tokenLabel: 'ocsp', keyLabel: 'ocsp-signer', pinSecretRef: { name: 'hsm-pin' }, ...over },
});

const REDIS_STORE: Json = { type: 'Redis', redis: { primaryURL: 'redis://p:6379' } };

/** What an HPA on CPU measures against. */
const CPU_REQUEST: Json = { resources: { requests: { cpu: '250m' } } };

/** The responders published and scaled: every field of ingress, autoscaling and disruptionBudget. */
export const EXPOSURE_FULL: Json = {
  ingress: {
    className: 'public',
    hosts: ['ocsp.example.test', '*.ocsp.example.test'],
    path: '/ocsp',
    annotations: { 'nginx.ingress.kubernetes.io/ssl-redirect': 'false' },
    tls: { secretName: 'ocsp-web-tls' },
  },
  autoscaling: { minReplicas: 3, maxReplicas: 12, targetCPUUtilizationPercentage: 60 },
  disruptionBudget: { maxUnavailable: 2 },
  pod: CPU_REQUEST,
};

/** A Redis pool (each component has pods of its own) whose `section` pod shape is `pod`. */
const podShape = (section: 'signers' | 'responder', pod: Json): Json => ({ store: REDIS_STORE, [section]: { pod } });

/** The pod shape's own rules, broken once in each section (both carry the same schema). */
const podShapeRejections: Sample[] = (['signers', 'responder'] as const).flatMap((section) => {
  const at = `spec.${section}.pod`;
  const p = (name: string, pod: Json, field: string, rule: Sample['rule']) =>
    pool(`pool-${section}-${name}`, podShape(section, pod), 'reject', `${at}${field}`, rule);
  return [
    // schema
    p('quantity-words', { resources: { requests: { memory: 'lots' } } }, '.resources.requests.memory', 'schema'),
    p('quantity-bool', { resources: { limits: { cpu: true } } }, '.resources.limits.cpu', 'schema'),
    p('toleration-op', { tolerations: [{ key: 'k', operator: 'Matches' }] }, '.tolerations[0].operator', 'schema'),
    p('affinity-string', { affinity: { nodeAffinity: 'zone-a' } }, '.affinity.nodeAffinity', 'schema'),
    p(
      'spread-no-key',
      { topologySpreadConstraints: [{ maxSkew: 1, whenUnsatisfiable: 'DoNotSchedule' }] },
      '.topologySpreadConstraints[0].topologyKey',
      'schema',
    ),
    p(
      'spread-skew-0',
      { topologySpreadConstraints: [{ maxSkew: 0, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule' }] },
      '.topologySpreadConstraints[0].maxSkew',
      'schema',
    ),
    p('label-value', { labels: { team: 'p k i' } }, '.labels.team', 'schema'),
    p('pull-secret-upper', { imagePullSecrets: [{ name: 'Registry' }] }, '.imagePullSecrets[0].name', 'schema'),
    p('priority-upper', { priorityClassName: 'High' }, '.priorityClassName', 'schema'),
    p('volume-no-name', { volumes: [{ emptyDir: {} }] }, '.volumes[0].name', 'schema'),
    p(
      'volume-dup',
      {
        volumes: [
          { name: 'a', emptyDir: {} },
          { name: 'a', emptyDir: {} },
        ],
      },
      '.volumes',
      'schema',
    ),
    p('mount-relative', { volumeMounts: [{ name: 'a', mountPath: 'tokens' }] }, '.volumeMounts[0].mountPath', 'schema'),
    p('mount-no-name', { volumeMounts: [{ mountPath: '/tokens' }] }, '.volumeMounts[0].name', 'schema'),
    p('env-name', { env: [{ name: 'A=B', value: 'x' }] }, '.env[0].name', 'schema'),
    p(
      'env-dup',
      {
        env: [
          { name: 'A', value: 'x' },
          { name: 'A', value: 'y' },
        ],
      },
      '.env',
      'schema',
    ),
    p('init-no-image', { initContainers: [{ name: 'copy' }] }, '.initContainers[0].image', 'schema'),
    // CEL
    p('volume-reserved', { volumes: [{ name: 'issuer', emptyDir: {} }] }, '.volumes[0].name', 'cel'),
    p('mount-reserved', { volumeMounts: [{ name: 'a', mountPath: '/var/lib/ocsp' }] }, '.volumeMounts[0].mountPath', 'cel'),
    p('env-reserved', { env: [{ name: 'OCSP_SIGNER_PIN', value: '1234' }] }, '.env[0].name', 'cel'),
    p(
      'env-value-and-from',
      { env: [{ name: 'A', value: 'x', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }] },
      '.env[0]',
      'cel',
    ),
    p(
      'env-from-two',
      { env: [{ name: 'A', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' }, configMapKeyRef: { name: 'c', key: 'k' } } }] },
      '.env[0].valueFrom',
      'cel',
    ),
    p('label-reserved', { labels: { 'app.kubernetes.io/component': 'x' } }, '.labels', 'cel'),
    p('init-reserved', { initContainers: [{ name: 'signer', image: 'x' }] }, '.initContainers[0].name', 'cel'),
  ];
});

const poolSamples: Sample[] = [
  pool('pool-minimal', {}, 'accept'),
  pool('pool-full', POOL_FULL_SPEC, 'accept'),
  pool('pool-embedded-explicit', { store: { type: 'Embedded', embedded: { storageSize: '500Mi' } } }, 'accept'),
  pool('pool-embedded-empty', { store: { embedded: {} } }, 'accept'),
  pool(
    'pool-embedded-claim-class',
    { store: { embedded: { storageClassName: 'fast-ssd', storageSize: '5Gi' } }, responder: { replicas: 1 } },
    'accept',
  ),
  pool('pool-embedded-claim-named', { store: { embedded: { claimName: 'ocsp-responses' } } }, 'accept'),
  pool('pool-embedded-ephemeral', { store: { embedded: { ephemeral: true } } }, 'accept'),
  pool(
    'pool-short-validity',
    { responseValidity: '12h', refreshAge: '6h', thresholds: { freshnessWarningAge: '8h', freshnessCriticalAge: '10h' } },
    'accept',
  ),
  pool('pool-validity-bounds', { responseValidity: '240h' }, 'accept'),
  pool('pool-mode-none', { delegatedResponder: { mode: 'None' }, thresholds: { signerExpiryWarning: '1000h' } }, 'accept'),
  pool('pool-mode-issue-secret', { delegatedResponder: { mode: 'Issue', secretName: 'pool-responder' } }, 'accept'),
  pool(
    'pool-nested-defaults',
    {
      sources: [{ opensslIndex: { configMapName: 'ca-db' } }],
      revocations: [{ serial: '0A', time: T0 }],
      store: { type: 'Redis', redis: { primaryURL: 'redis://p:6379', passwordSecretRef: { name: 'redis-auth' } } },
    },
    'accept',
  ),
  pool('pool-postgres-defaults', { sources: [{ postgres: { urlSecretRef: { name: 'ca-db' } } }] }, 'accept'),
  pool(
    'pool-postgres-full',
    {
      sources: [
        { clusterSecrets: {} },
        {
          postgres: {
            urlSecretRef: { name: 'ca-db', key: 'replica-url' },
            table: 'pki.certs',
            columns: { serial: 'sn', notAfter: 'expires', revokedAt: 'revoked', reason: 'why' },
            maxReplicationLag: '10s',
            pageSize: 1000,
          },
        },
      ],
    },
    'accept',
  ),
  pool(
    'pool-postgres-query',
    {
      sources: [
        {
          postgres: {
            urlSecretRef: { name: 'ca-db' },
            query: "SELECT encode(sn, 'hex') AS serial, expires AS not_after, revoked AS revoked_at, why AS reason FROM certs;",
          },
        },
      ],
    },
    'accept',
  ),
  pool('pool-software-key', { signing: { softwareKey: { secretName: 'ca-key' } }, delegatedResponder: { mode: 'None' } }, 'accept'),
  pool('pool-revocation-time-lower', { revocations: [{ serial: 'ab', time: '2025-06-01t12:00:00z' }] }, 'accept'),
  pool('pool-refresh-br-edge', { refreshAge: '96h', thresholds: { freshnessWarningAge: '100h' } }, 'accept'),
  pool(
    'pool-pod-full',
    { store: REDIS_STORE, signers: { pod: fullPodShape('signer') }, responder: { pod: fullPodShape('responder') } },
    'accept',
  ),
  pool(
    'pool-exposure-full',
    { store: REDIS_STORE, responder: EXPOSURE_FULL, signers: { disruptionBudget: { maxUnavailable: 2 } } },
    'accept',
  ),
  pool(
    'pool-exposure-defaults',
    { store: REDIS_STORE, responder: { ingress: { hosts: ['ocsp.example.test'] }, autoscaling: { maxReplicas: 4 }, pod: CPU_REQUEST } },
    'accept',
  ),
  // Embedded: the signer's container fields, volumes and init containers join the responder's pod.
  pool(
    'pool-pod-embedded-softhsm',
    {
      signers: {
        pod: {
          resources: { requests: { cpu: 1 } },
          volumes: [{ name: 'tokens', persistentVolumeClaim: { claimName: 'softhsm-tokens' } }],
          volumeMounts: [{ name: 'tokens', mountPath: '/var/lib/softhsm/tokens' }],
          env: [{ name: 'SOFTHSM2_CONF', value: '/etc/softhsm/softhsm2.conf' }],
        },
      },
      responder: { pod: { nodeSelector: { 'kubernetes.io/hostname': 'hsm-node' }, volumes: [{ name: 'scratch', emptyDir: {} }] } },
    },
    'accept',
  ),
  // schema
  pool('pool-no-issuer', { issuer: undefined }, 'reject', 'spec.issuer', 'schema'),
  pool('pool-no-signing', { signing: undefined }, 'reject', 'spec.signing', 'schema'),
  pool('pool-no-sources', { sources: undefined }, 'reject', 'spec.sources', 'schema'),
  pool('pool-sources-empty', { sources: [] }, 'reject', 'spec.sources', 'schema'),
  pool(
    'pool-pkcs11-no-token',
    { signing: { pkcs11: { keyLabel: 'k', pinSecretRef: { name: 'p' } } } },
    'reject',
    'spec.signing.pkcs11.tokenLabel',
    'schema',
  ),
  pool('pool-pkcs11-sessions-0', { signing: pkcs11({ sessions: 0 }) }, 'reject', 'spec.signing.pkcs11.sessions', 'schema'),
  pool('pool-pkcs11-sessions-frac', { signing: pkcs11({ sessions: 1.5 }) }, 'reject', 'spec.signing.pkcs11.sessions', 'schema'),
  pool('pool-pkcs11-module-rel', { signing: pkcs11({ module: 'libsofthsm2.so' }) }, 'reject', 'spec.signing.pkcs11.module', 'schema'),
  pool(
    'pool-pkcs11-pin-no-name',
    { signing: pkcs11({ pinSecretRef: { key: 'pin' } }) },
    'reject',
    'spec.signing.pkcs11.pinSecretRef.name',
    'schema',
  ),
  pool('pool-mode-unknown', { delegatedResponder: { mode: 'Auto' } }, 'reject', 'spec.delegatedResponder.mode', 'schema'),
  pool('pool-validity-days', { responseValidity: '7d' }, 'reject', 'spec.responseValidity', 'schema'),
  pool('pool-serial-not-hex', { revocations: [{ serial: 'XYZ', time: T0 }] }, 'reject', 'spec.revocations[0].serial', 'schema'),
  pool('pool-serial-too-long', { revocations: [{ serial: 'a'.repeat(41), time: T0 }] }, 'reject', 'spec.revocations[0].serial', 'schema'),
  pool(
    'pool-reason-remove',
    { revocations: [{ serial: 'ab', time: T0, reason: 'removeFromCRL' }] },
    'reject',
    'spec.revocations[0].reason',
    'schema',
  ),
  pool('pool-revocation-time-bad', { revocations: [{ serial: 'ab', time: 'yesterday' }] }, 'reject', 'spec.revocations[0].time', 'schema'),
  pool(
    'pool-revocation-feb-30',
    { revocations: [{ serial: 'ab', time: '2025-02-30T12:00:00Z' }] },
    'reject',
    'spec.revocations[0].time',
    'schema',
  ),
  pool(
    'pool-revocation-no-zone',
    { revocations: [{ serial: 'ab', time: '2025-06-01T12:00:00' }] },
    'reject',
    'spec.revocations[0].time',
    'schema',
  ),
  pool('pool-revocation-no-time', { revocations: [{ serial: 'ab' }] }, 'reject', 'spec.revocations[0].time', 'schema'),
  pool(
    'pool-revocation-dup',
    {
      revocations: [
        { serial: 'ab', time: T0 },
        { serial: 'ab', time: T1 },
      ],
    },
    'reject',
    'spec.revocations',
    'schema',
  ),
  pool('pool-store-type', { store: { type: 'Memcached' } }, 'reject', 'spec.store.type', 'schema'),
  pool(
    'pool-redis-http',
    { store: { type: 'Redis', redis: { primaryURL: 'http://redis:6379' } } },
    'reject',
    'spec.store.redis.primaryURL',
    'schema',
  ),
  pool(
    'pool-redis-replica-dup',
    { store: { type: 'Redis', redis: { primaryURL: 'redis://p:6379', replicaURLs: ['redis://r:6379', 'redis://r:6379'] } } },
    'reject',
    'spec.store.redis.replicaURLs',
    'schema',
  ),
  pool('pool-storage-size', { store: { embedded: { storageSize: 'lots' } } }, 'reject', 'spec.store.embedded.storageSize', 'schema'),
  pool('pool-port-high', { responder: { port: 70000 } }, 'reject', 'spec.responder.port', 'schema'),
  pool('pool-lag-policy', { responder: { lagPolicy: 'Ignore' } }, 'reject', 'spec.responder.lagPolicy', 'schema'),
  pool('pool-ingress-no-hosts', { responder: { ingress: { path: '/ocsp' } } }, 'reject', 'spec.responder.ingress.hosts', 'schema'),
  pool(
    'pool-ingress-host-upper',
    { responder: { ingress: { hosts: ['OCSP.example.test'] } } },
    'reject',
    'spec.responder.ingress.hosts[0]',
    'schema',
  ),
  pool(
    'pool-ingress-path-relative',
    { responder: { ingress: { hosts: ['ocsp.example.test'], path: 'ocsp' } } },
    'reject',
    'spec.responder.ingress.path',
    'schema',
  ),
  pool(
    'pool-ingress-tls-no-secret',
    { responder: { ingress: { hosts: ['ocsp.example.test'], tls: {} } } },
    'reject',
    'spec.responder.ingress.tls.secretName',
    'schema',
  ),
  pool(
    'pool-autoscaling-no-max',
    { store: REDIS_STORE, responder: { autoscaling: { minReplicas: 2 }, pod: CPU_REQUEST } },
    'reject',
    'spec.responder.autoscaling.maxReplicas',
    'schema',
  ),
  pool(
    'pool-autoscaling-target-0',
    { store: REDIS_STORE, responder: { autoscaling: { maxReplicas: 4, targetCPUUtilizationPercentage: 0 }, pod: CPU_REQUEST } },
    'reject',
    'spec.responder.autoscaling.targetCPUUtilizationPercentage',
    'schema',
  ),
  pool(
    'pool-responder-budget-0',
    { responder: { disruptionBudget: { maxUnavailable: 0 } } },
    'reject',
    'spec.responder.disruptionBudget.maxUnavailable',
    'schema',
  ),
  pool(
    'pool-signers-budget-0',
    { signers: { disruptionBudget: { maxUnavailable: 0 } } },
    'reject',
    'spec.signers.disruptionBudget.maxUnavailable',
    'schema',
  ),
  pool('pool-signers-max-0', { signers: { minReplicas: 0, maxReplicas: 0 } }, 'reject', 'spec.signers.maxReplicas', 'schema'),
  pool(
    'pool-namespace-bad',
    { sources: [{ clusterSecrets: { namespaces: ['Team_A'] } }] },
    'reject',
    'spec.sources[0].clusterSecrets.namespaces[0]',
    'schema',
  ),
  pool(
    'pool-namespace-dup',
    { sources: [{ clusterSecrets: { namespaces: ['a', 'a'] } }] },
    'reject',
    'spec.sources[0].clusterSecrets.namespaces',
    'schema',
  ),
  pool(
    'pool-label-not-string',
    { sources: [{ clusterSecrets: { labelSelector: { app: 1 } } }] },
    'reject',
    'spec.sources[0].clusterSecrets.labelSelector.app',
    'schema',
  ),
  pool(
    'pool-index-no-cm',
    { sources: [{ opensslIndex: { key: 'index.txt' } }] },
    'reject',
    'spec.sources[0].opensslIndex.configMapName',
    'schema',
  ),
  pool(
    'pool-postgres-no-url',
    { sources: [{ postgres: { table: 'certs' } }] },
    'reject',
    'spec.sources[0].postgres.urlSecretRef',
    'schema',
  ),
  pool(
    'pool-postgres-table-sql',
    { sources: [{ postgres: { urlSecretRef: { name: 'ca-db' }, table: 'certs; DROP TABLE certs' } }] },
    'reject',
    'spec.sources[0].postgres.table',
    'schema',
  ),
  pool(
    'pool-postgres-column-quote',
    { sources: [{ postgres: { urlSecretRef: { name: 'ca-db' }, columns: { serial: 'sn"' } } }] },
    'reject',
    'spec.sources[0].postgres.columns.serial',
    'schema',
  ),
  pool(
    'pool-postgres-page-small',
    { sources: [{ postgres: { urlSecretRef: { name: 'ca-db' }, pageSize: 10 } }] },
    'reject',
    'spec.sources[0].postgres.pageSize',
    'schema',
  ),
  pool(
    'pool-postgres-lag-words',
    { sources: [{ postgres: { urlSecretRef: { name: 'ca-db' }, maxReplicationLag: 'a while' } }] },
    'reject',
    'spec.sources[0].postgres.maxReplicationLag',
    'schema',
  ),
  pool('pool-target-words', { thresholds: { newCertificateTarget: 'soon' } }, 'reject', 'spec.thresholds.newCertificateTarget', 'schema'),
  // CEL
  pool('pool-signing-both', { signing: { ...pkcs11({}), softwareKey: { secretName: 'k' } } }, 'reject', 'spec.signing', 'cel'),
  pool('pool-signing-none', { signing: {} }, 'reject', 'spec.signing', 'cel'),
  pool(
    'pool-source-both',
    { sources: [{ clusterSecrets: {}, opensslIndex: { configMapName: 'db' } }] },
    'reject',
    'spec.sources[0]',
    'cel',
  ),
  pool('pool-source-none', { sources: [{ clusterSecrets: {} }, {}] }, 'reject', 'spec.sources[1]', 'cel'),
  pool(
    'pool-source-postgres-and-index',
    { sources: [{ postgres: { urlSecretRef: { name: 'ca-db' } }, opensslIndex: { configMapName: 'db' } }] },
    'reject',
    'spec.sources[0]',
    'cel',
  ),
  pool(
    'pool-postgres-two',
    { sources: [{ postgres: { urlSecretRef: { name: 'a' } } }, { postgres: { urlSecretRef: { name: 'b' } } }] },
    'reject',
    'spec.sources',
    'cel',
  ),
  pool(
    'pool-postgres-query-and-table',
    {
      sources: [
        { postgres: { urlSecretRef: { name: 'ca-db' }, query: 'SELECT serial, not_after, revoked_at, reason FROM c', table: 'c' } },
      ],
    },
    'reject',
    'spec.sources[0].postgres.query',
    'cel',
  ),
  pool('pool-fromsecret-no-name', { delegatedResponder: { mode: 'FromSecret' } }, 'reject', 'spec.delegatedResponder.secretName', 'cel'),
  pool(
    'pool-renew-before-long',
    { delegatedResponder: { validity: '168h', renewBefore: '168h' } },
    'reject',
    'spec.delegatedResponder.renewBefore',
    'cel',
  ),
  pool(
    'pool-validity-short',
    { responseValidity: '7h', refreshAge: '3h', thresholds: { freshnessWarningAge: '4h', freshnessCriticalAge: '5h' } },
    'reject',
    'spec.responseValidity',
    'cel',
  ),
  pool('pool-validity-long', { responseValidity: '241h' }, 'reject', 'spec.responseValidity', 'cel'),
  pool('pool-refresh-br-4days', { refreshAge: '97h', thresholds: { freshnessWarningAge: '100h' } }, 'reject', 'spec.refreshAge', 'cel'),
  pool(
    'pool-refresh-br-margin',
    { responseValidity: '20h', refreshAge: '13h', thresholds: { freshnessWarningAge: '14h', freshnessCriticalAge: '16h' } },
    'reject',
    'spec.refreshAge',
    'cel',
  ),
  pool(
    'pool-refresh-br-half',
    { responseValidity: '12h', refreshAge: '7h', thresholds: { freshnessWarningAge: '8h', freshnessCriticalAge: '10h' } },
    'reject',
    'spec.refreshAge',
    'cel',
  ),
  pool(
    'pool-warning-below-refresh',
    { thresholds: { freshnessWarningAge: '72h' } },
    'reject',
    'spec.thresholds.freshnessWarningAge',
    'cel',
  ),
  pool(
    'pool-critical-below-warning',
    { thresholds: { freshnessWarningAge: '100h', freshnessCriticalAge: '100h' } },
    'reject',
    'spec.thresholds.freshnessCriticalAge',
    'cel',
  ),
  pool(
    'pool-critical-past-validity',
    { thresholds: { freshnessCriticalAge: '168h' } },
    'reject',
    'spec.thresholds.freshnessCriticalAge',
    'cel',
  ),
  pool('pool-signer-warning-long', { thresholds: { signerExpiryWarning: '168h' } }, 'reject', 'spec.thresholds.signerExpiryWarning', 'cel'),
  pool('pool-new-cert-target', { thresholds: { newCertificateTarget: '16m' } }, 'reject', 'spec.thresholds.newCertificateTarget', 'cel'),
  pool('pool-redis-missing', { store: { type: 'Redis' } }, 'reject', 'spec.store.redis', 'cel'),
  pool('pool-embedded-replicas', { responder: { replicas: 2 } }, 'reject', 'spec.responder.replicas', 'cel'),
  pool(
    'pool-embedded-claim-ephemeral',
    { store: { embedded: { claimName: 'x', ephemeral: true } } },
    'reject',
    'spec.store.embedded.claimName',
    'cel',
  ),
  pool(
    'pool-embedded-class-named',
    { store: { embedded: { claimName: 'x', storageClassName: 'y' } } },
    'reject',
    'spec.store.embedded.storageClassName',
    'cel',
  ),
  pool('pool-redis-unwanted', { store: { redis: { primaryURL: 'redis://p:6379' } } }, 'reject', 'spec.store.redis', 'cel'),
  pool(
    'pool-embedded-with-redis',
    { store: { type: 'Redis', redis: { primaryURL: 'redis://p:6379' }, embedded: {} } },
    'reject',
    'spec.store.embedded',
    'cel',
  ),
  pool('pool-signers-min-max', { signers: { minReplicas: 5, maxReplicas: 3 } }, 'reject', 'spec.signers.minReplicas', 'cel'),
  pool('pool-port-metrics', { responder: { port: 9091 } }, 'reject', 'spec.responder.port', 'cel'),
  pool(
    'pool-autoscaling-min-max',
    { store: REDIS_STORE, responder: { autoscaling: { minReplicas: 5, maxReplicas: 3 }, pod: CPU_REQUEST } },
    'reject',
    'spec.responder.autoscaling.minReplicas',
    'cel',
  ),
  pool(
    'pool-autoscaling-embedded',
    { responder: { autoscaling: { maxReplicas: 3 }, pod: CPU_REQUEST } },
    'reject',
    'spec.responder.autoscaling',
    'cel',
  ),
  pool(
    'pool-autoscaling-no-cpu',
    { store: REDIS_STORE, responder: { autoscaling: { maxReplicas: 3 } } },
    'reject',
    'spec.responder.autoscaling',
    'cel',
  ),
  // pod shapes
  ...podShapeRejections,
  pool('pool-embedded-signer-pod-level', { signers: { pod: { nodeSelector: { hsm: 'yes' } } } }, 'reject', 'spec.signers.pod', 'cel'),
  pool(
    'pool-embedded-volume-twice',
    {
      signers: { pod: { volumes: [{ name: 'tokens', emptyDir: {} }] } },
      responder: { pod: { volumes: [{ name: 'tokens', emptyDir: {} }] } },
    },
    'reject',
    'spec.signers.pod.volumes',
    'cel',
  ),
  pool(
    'pool-embedded-init-twice',
    {
      signers: { pod: { initContainers: [{ name: 'copy', image: 'a' }] } },
      responder: { pod: { initContainers: [{ name: 'copy', image: 'b' }] } },
    },
    'reject',
    'spec.signers.pod.initContainers',
    'cel',
  ),
  // status
  poolStatus(
    'pool-status-full',
    {
      observedGeneration: 2,
      conditions: [condition({ reason: 'AllFresh', message: 'every response is fresh' })],
      certificates: 20000,
      backlog: 120,
      missing: 3,
      revoked: 7,
      signers: { desired: 4, ready: 3, signaturesPerSecond: 1523.5 },
      responders: { ready: 2, outOfRotation: ['pool-responder-7d9f-x2'] },
      oldestResponse: T0,
      oldestUnsigned: { serial: '7F', since: T0 },
      replication: [
        { replica: 'redis-replica-0', lagSeconds: 0.2, inRotation: true },
        { replica: 'redis-replica-1', lagSeconds: 42, inRotation: false },
      ],
      delegatedResponder: { serial: '1A2B', notAfter: T1 },
    },
    'accept',
  ),
  poolStatus('pool-status-backlog-neg', { backlog: -1 }, 'reject', 'status.backlog'),
  poolStatus('pool-status-oldest-words', { oldestResponse: '3 days ago' }, 'reject', 'status.oldestResponse'),
  poolStatus(
    'pool-status-replica-dup',
    {
      replication: [
        { replica: 'r0', lagSeconds: 1 },
        { replica: 'r0', lagSeconds: 2 },
      ],
    },
    'reject',
    'status.replication',
  ),
];

/** Every sample, staples first. */
export const samples: readonly Sample[] = [...stapleSamples, ...poolSamples];
export const acceptedSamples = samples.filter((s) => s.expect === 'accept');
export const rejectedSamples = samples.filter((s) => s.expect === 'reject');
