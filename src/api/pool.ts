// OcspResponderPool: "sign and serve OCSP responses for every certificate of this issuer". The
// zod schema mirrors crds/ocsp-operator.dev_ocspresponderpools.yaml field by field; each CEL rule
// there is a `.refine` here with the same field path, so an error names the same field whichever
// layer finds it.

import { z } from 'zod';
import { conditionList } from './condition.js';
import { compareDurations, durationString, parseDuration } from './duration.js';
import { API_GROUP_VERSION, KIND_POOL } from './group.js';
import { ABSOLUTE_PATH_PATTERN, ObjectMetaSchema, QUANTITY_PATTERN, dataKey, dnsLabel, secretName } from './meta.js';
import { parseWith, type ParseResult } from './parse.js';
import { POD_LEVEL_FIELDS, PodShapeSchema, type PodShape } from './pod.js';
import { DeclaredRevocationReasonSchema, SERIAL_HEX_PATTERN } from './revocation.js';
import { dateTime } from './time.js';

export const REDIS_URL_PATTERN = '^rediss?://[^\\s]+$';

export const DELEGATED_RESPONDER_MODES = ['Issue', 'FromSecret', 'None'] as const;
export const STORE_TYPES = ['Embedded', 'Redis'] as const;
export const LAG_POLICIES = ['ServeWhatItHas', 'Unauthorized', 'TryLater'] as const;

/**
 * Baseline Requirements 4.9.10: validity between 8 hours and 10 days. Enforced in the CRD with CEL
 * `duration()` and here, with the same bounds.
 */
export const RESPONSE_VALIDITY_MIN = '8h';
export const RESPONSE_VALIDITY_MAX = '240h';
/** BR: for validity >= 16h, re-sign no later than 4 days after thisUpdate and 8h before nextUpdate. */
export const BR_LONG_VALIDITY = '16h';
export const BR_MAX_REFRESH_AGE = '96h';
export const BR_MIN_MARGIN = '8h';
/** BR: an authoritative response within 15 minutes of issuance. */
export const BR_NEW_CERTIFICATE_MAX = '15m';

const ms = parseDuration;
/** `a < b`, or true when either is malformed (the field's own pattern check reports that). */
const lt = (a: string, b: string) => (compareDurations(a, b) ?? -1) < 0;
const le = (a: string, b: string) => (compareDurations(a, b) ?? -1) <= 0;

const SecretKeyRefSchema = (defaultKey: string) => z.object({ name: secretName(), key: dataKey().default(defaultKey) });

export const Pkcs11SigningSchema = z.object({
  module: z.string().max(4096).regex(new RegExp(ABSOLUTE_PATH_PATTERN)).default('/usr/lib/softhsm/libsofthsm2.so'),
  tokenLabel: z.string().min(1).max(32),
  keyLabel: z.string().min(1).max(256),
  pinSecretRef: SecretKeyRefSchema('pin'),
  /** One concurrent signing operation needs one session: this is the signer's parallelism. */
  sessions: z.int().min(1).max(256).default(4),
});

export const SigningSchema = z
  .object({
    pkcs11: Pkcs11SigningSchema.optional(),
    softwareKey: z.object({ secretName: secretName() }).optional(),
  })
  .refine((s) => (s.pkcs11 ? 1 : 0) + (s.softwareKey ? 1 : 0) === 1, {
    message: 'exactly one of pkcs11 or softwareKey must be set',
  });

export const DelegatedResponderSchema = z
  .object({
    mode: z.enum(DELEGATED_RESPONDER_MODES).default('Issue'),
    secretName: secretName().optional(),
    validity: durationString().default('720h'),
    renewBefore: durationString().default('168h'),
  })
  .refine((d) => d.mode !== 'FromSecret' || d.secretName !== undefined, {
    path: ['secretName'],
    message: 'secretName is required when mode is FromSecret',
  })
  .refine((d) => lt(d.renewBefore, d.validity), {
    path: ['renewBefore'],
    message: 'renewBefore must be shorter than validity',
  });

export const ClusterSecretsSourceSchema = z.object({
  /** Empty: every namespace. */
  namespaces: z
    .array(dnsLabel())
    .max(256)
    .refine((l) => new Set(l).size === l.length, { message: 'duplicate namespace' })
    .optional(),
  /** Equality-based label selector (matchLabels semantics) on the Secrets. */
  labelSelector: z.record(z.string(), z.string()).optional(),
});

export const OpensslIndexSourceSchema = z.object({
  configMapName: secretName(),
  key: dataKey().default('index.txt'),
});

/** A PostgreSQL identifier as the source's SQL quotes it: letters, digits, `_` and `$`, not starting with a digit. */
export const SQL_IDENTIFIER_PATTERN = '^[A-Za-z_][A-Za-z0-9_$]*$';
/** A table, optionally schema-qualified. */
export const SQL_TABLE_PATTERN = '^[A-Za-z_][A-Za-z0-9_$]*(\\.[A-Za-z_][A-Za-z0-9_$]*)?$';
const sqlIdentifier = () => z.string().min(1).max(63).regex(new RegExp(SQL_IDENTIFIER_PATTERN));

/**
 * A CA's own PostgreSQL database (a replica is the usual choice), which the signers read
 * themselves each round: its certificates never pass through the pool's index ConfigMap. Rows:
 * serial (hex text), not_after, revoked_at (NULL: not revoked), reason (README: the table shape).
 */
export const PostgresSourceSchema = z
  .object({
    /** The connection URL (postgres://user:password@host:port/db?sslmode=...), from this Secret key. */
    urlSecretRef: SecretKeyRefSchema('url'),
    /** The table to read (unset: `certificates`), optionally `schema.table`. */
    table: z.string().min(1).max(127).regex(new RegExp(SQL_TABLE_PATTERN)).optional(),
    /** Column names where they differ from serial, not_after, revoked_at, reason. */
    columns: z
      .object({
        serial: sqlIdentifier().optional(),
        notAfter: sqlIdentifier().optional(),
        revokedAt: sqlIdentifier().optional(),
        reason: sqlIdentifier().optional(),
      })
      .optional(),
    /** Instead of table and columns: a SELECT returning serial, not_after, revoked_at, reason, one row per serial. */
    query: z.string().min(1).max(8192).optional(),
    /** A server lagging its primary by more than this is not signed from (nothing is, until it catches up). */
    maxReplicationLag: durationString().default('30s'),
    /** Rows per page of a read: the signer's memory per page. */
    pageSize: z.int().min(100).max(100000).default(5000),
    /** A timestamptz column set on every insert and update: reads after the first ask only for changed rows. */
    changedAt: sqlIdentifier().optional(),
    /** With changedAt, how often a full read still runs (deleted rows, changes without a stamp). */
    fullReadInterval: durationString().default('10m'),
  })
  .refine((p) => p.query === undefined || (p.table === undefined && p.columns === undefined), {
    path: ['query'],
    message: 'query excludes table and columns',
  });

export const CertificateSourceSchema = z
  .object({
    clusterSecrets: ClusterSecretsSourceSchema.optional(),
    opensslIndex: OpensslIndexSourceSchema.optional(),
    postgres: PostgresSourceSchema.optional(),
  })
  .refine((s) => [s.clusterSecrets, s.opensslIndex, s.postgres].filter((x) => x !== undefined).length === 1, {
    message: 'each source sets exactly one of clusterSecrets, opensslIndex or postgres',
  });

export const DeclaredRevocationSchema = z.object({
  serial: z.string().regex(new RegExp(SERIAL_HEX_PATTERN)),
  time: dateTime(),
  reason: DeclaredRevocationReasonSchema.default('unspecified'),
});

/**
 * Where the embedded store's log lives: by default a claim per pool made from a template (the
 * StatefulSet's volumeClaimTemplate), so a restarted pod finds every response it signed.
 */
export const EmbeddedStoreSchema = z
  .object({
    /** Size of the claim the operator makes (or the emptyDir's limit when ephemeral). */
    storageSize: z.string().regex(new RegExp(QUANTITY_PATTERN)).default('1Gi'),
    /** StorageClass of the claim the operator makes; unset: the cluster's default class. */
    storageClassName: secretName().optional(),
    /** An existing PersistentVolumeClaim to use instead of one made from a template. */
    claimName: secretName().optional(),
    /** An emptyDir instead of a claim: every response is lost with the pod (demos, tests). */
    ephemeral: z.boolean().default(false),
  })
  .refine((e) => !(e.ephemeral && e.claimName !== undefined), {
    path: ['claimName'],
    message: 'claimName and ephemeral exclude each other',
  })
  .refine((e) => e.storageClassName === undefined || (!e.ephemeral && e.claimName === undefined), {
    path: ['storageClassName'],
    message: 'storageClassName applies only to the claim the operator makes (neither claimName nor ephemeral)',
  });

export const StoreSchema = z
  .object({
    type: z.enum(STORE_TYPES).default('Embedded'),
    embedded: EmbeddedStoreSchema.optional(),
    redis: z
      .object({
        primaryURL: z.string().max(2048).regex(new RegExp(REDIS_URL_PATTERN)),
        replicaURLs: z
          .array(z.string().max(2048).regex(new RegExp(REDIS_URL_PATTERN)))
          .max(32)
          .refine((l) => new Set(l).size === l.length, { message: 'duplicate replica URL' })
          .optional(),
        passwordSecretRef: SecretKeyRefSchema('password').optional(),
      })
      .optional(),
  })
  .refine((s) => (s.type === 'Redis') === (s.redis !== undefined), {
    path: ['redis'],
    message: 'redis is set exactly when type is Redis',
  })
  .refine((s) => s.type === 'Embedded' || s.embedded === undefined, {
    path: ['embedded'],
    message: 'embedded is only allowed when type is Embedded',
  });

/** The containers' metrics ports (named `metrics`, scraped by the chart's PodMonitor): distinct, as the Embedded store runs both in one pod. */
export const METRICS_PORTS = { signer: 9090, responder: 9091 } as const;
/** An Ingress host: a DNS name, or a wildcard one label deep (`*.example.com`). */
export const INGRESS_HOST_PATTERN = '^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
/** `/` or slash-separated plain segments: a Prefix path every Ingress controller takes as written. */
export const INGRESS_PATH_PATTERN = '^(/[A-Za-z0-9._~-]+)*/?$';

/**
 * The responders' public URL: a networking.k8s.io/v1 Ingress to the pool's Service. OCSP is plain
 * HTTP by design (RFC 6960 appendix A, RFC 5019, the Baseline Requirements): a client checking a
 * certificate must not need OCSP to check the responder's TLS certificate first, and the responses
 * are signed, so TLS adds no integrity. `tls` is optional and serves HTTPS beside HTTP.
 */
export const ResponderIngressSchema = z.object({
  /** The IngressClass; unset: the cluster's default class. */
  className: secretName().optional(),
  hosts: z
    .array(z.string().min(1).max(253).regex(new RegExp(INGRESS_HOST_PATTERN)))
    .min(1)
    .max(16)
    .refine((l) => new Set(l).size === l.length, { message: 'duplicate host' }),
  /** The path of the OCSP URL (a Prefix match); the responders serve under it. */
  path: z.string().max(256).regex(new RegExp(INGRESS_PATH_PATTERN)).default('/'),
  /** The Ingress controller's settings (for example, one that keeps HTTP from redirecting to HTTPS). */
  annotations: z.record(z.string(), z.string()).optional(),
  /** HTTPS as well, with this kubernetes.io/tls Secret, for the hosts above. */
  tls: z.object({ secretName: secretName() }).optional(),
});

/** A HorizontalPodAutoscaler (autoscaling/v2) on CPU per responder Deployment; Redis store only. */
export const ResponderAutoscalingSchema = z
  .object({
    minReplicas: z.int().min(1).max(100).default(2),
    maxReplicas: z.int().min(1).max(100),
    /** Average CPU use, as a percentage of the responder container's CPU request. */
    targetCPUUtilizationPercentage: z.int().min(1).max(100).default(70),
  })
  .refine((a) => a.minReplicas <= a.maxReplicas, {
    path: ['minReplicas'],
    message: 'minReplicas must not exceed maxReplicas',
  });

/** A PodDisruptionBudget over the component's pods (Redis store only: the Embedded store's one pod gets none). */
export const DisruptionBudgetSchema = z.object({
  maxUnavailable: z.int().min(1).max(1000).default(1),
});

export const ResponderSchema = z.object({
  /** Responder pods (Redis store; unset: 2). With the Embedded store the responder runs beside the signer in one pod: unset or 1. */
  replicas: z.int().min(0).max(100).optional(),
  port: z
    .int()
    .min(1)
    .max(65535)
    .refine((p) => p !== METRICS_PORTS.signer && p !== METRICS_PORTS.responder, {
      message: 'port must not be 9090 or 9091: the signer and the responder serve metrics there',
    })
    .default(8080),
  /** A responder whose store replica lags more than this leaves rotation (readiness fails). */
  maxReplicationLag: durationString().default('10s'),
  /** What a lagging responder answers while out of rotation, for requests that still reach it. */
  lagPolicy: z.enum(LAG_POLICIES).default('TryLater'),
  /** Cap on Cache-Control max-age; unset: derived from nextUpdate as RFC 5019 describes. */
  cacheMaxAge: durationString().optional(),
  pod: PodShapeSchema.optional(),
  ingress: ResponderIngressSchema.optional(),
  /** Replaces `replicas`: each responder Deployment scales between minReplicas and maxReplicas. */
  autoscaling: ResponderAutoscalingSchema.optional(),
  disruptionBudget: DisruptionBudgetSchema.prefault({}),
});

export const SignersSchema = z
  .object({
    minReplicas: z.int().min(0).max(1000).default(1),
    maxReplicas: z.int().min(1).max(1000).default(10),
    stabilizationWindow: durationString().default('5m'),
    /** Scale so that the backlog drains within this time at the measured per-pod rate. */
    targetDrainTime: durationString().default('10m'),
    /** With the embedded store the signer shares the responder's pod: only its container fields, volumes and init containers apply. */
    pod: PodShapeSchema.optional(),
    disruptionBudget: DisruptionBudgetSchema.prefault({}),
  })
  .refine((s) => s.minReplicas <= s.maxReplicas, {
    path: ['minReplicas'],
    message: 'minReplicas must not exceed maxReplicas',
  });

export const ThresholdsSchema = z
  .object({
    /** Oldest response older than this (over all responses): Fresh goes False, Warning. */
    freshnessWarningAge: durationString().default('96h'),
    freshnessCriticalAge: durationString().default('144h'),
    /** Delegated responder certificate this close to notAfter: renewal has failed; warn. */
    signerExpiryWarning: durationString().default('72h'),
    /** CA certificate this close to notAfter. */
    issuerExpiryWarning: durationString().default('720h'),
    /** A certificate without a response for longer than this is a problem (BR: 15m at most). */
    newCertificateTarget: durationString()
      .refine((d) => le(d, BR_NEW_CERTIFICATE_MAX), { message: 'newCertificateTarget must be at most 15m' })
      .default('5m'),
  })
  .refine((t) => lt(t.freshnessWarningAge, t.freshnessCriticalAge), {
    path: ['freshnessCriticalAge'],
    message: 'freshnessCriticalAge must be longer than freshnessWarningAge',
  });

/** The refresh-age rule of the Baseline Requirements, given the validity. */
export function refreshAgeMeetsBaselineRequirements(refreshAge: string, responseValidity: string): boolean {
  const r = ms(refreshAge);
  const v = ms(responseValidity);
  if (v >= ms(BR_LONG_VALIDITY)) return r <= ms(BR_MAX_REFRESH_AGE) && r + ms(BR_MIN_MARGIN) <= v;
  return r + r <= v;
}

/** Names that both pod shapes give in `list`: with the embedded store they would meet in one pod. */
function sharedNames(signers: PodShape | undefined, responder: PodShape | undefined, list: 'volumes' | 'initContainers'): boolean {
  const theirs = new Set((responder?.[list] ?? []).map((x) => x.name));
  return (signers?.[list] ?? []).some((x) => theirs.has(x.name));
}

function safely(f: () => boolean): boolean {
  try {
    return f();
  } catch {
    return true; // a malformed duration is reported by its own field
  }
}

export const OcspResponderPoolSpecSchema = z
  .object({
    /** The CA whose certificates this pool answers for: tls.crt (first certificate), else ca.crt. */
    issuer: z.object({ secretName: secretName() }),
    /** The key that signs responses (see the CRD description for each delegatedResponder mode). */
    signing: SigningSchema,
    delegatedResponder: DelegatedResponderSchema.prefault({}),
    responseValidity: durationString()
      .refine((d) => le(RESPONSE_VALIDITY_MIN, d) && le(d, RESPONSE_VALIDITY_MAX), {
        message: 'responseValidity must be between 8h and 240h (Baseline Requirements)',
      })
      .default('168h'),
    /** Re-sign a response once it is this old. */
    refreshAge: durationString().default('72h'),
    sources: z
      .array(CertificateSourceSchema)
      .min(1)
      .max(16)
      .refine((l) => l.filter((s) => s.postgres !== undefined).length <= 1, { message: 'at most one postgres source' }),
    revocations: z
      .array(DeclaredRevocationSchema)
      .max(10000)
      .refine((l) => new Set(l.map((r) => r.serial)).size === l.length, { message: 'duplicate serial' })
      .optional(),
    store: StoreSchema.prefault({}),
    responder: ResponderSchema.prefault({}),
    signers: SignersSchema.prefault({}),
    thresholds: ThresholdsSchema.prefault({}),
  })
  .refine((s) => safely(() => refreshAgeMeetsBaselineRequirements(s.refreshAge, s.responseValidity)), {
    path: ['refreshAge'],
    message:
      'refreshAge breaks the Baseline Requirements: at most 96h and 8h before expiry when responseValidity >= 16h, else at most half of responseValidity',
  })
  .refine((s) => lt(s.refreshAge, s.thresholds.freshnessWarningAge), {
    path: ['thresholds', 'freshnessWarningAge'],
    message: 'thresholds.freshnessWarningAge must be longer than refreshAge',
  })
  .refine((s) => lt(s.thresholds.freshnessCriticalAge, s.responseValidity), {
    path: ['thresholds', 'freshnessCriticalAge'],
    message: 'thresholds.freshnessCriticalAge must be shorter than responseValidity',
  })
  .refine((s) => s.delegatedResponder.mode !== 'Issue' || lt(s.thresholds.signerExpiryWarning, s.delegatedResponder.renewBefore), {
    path: ['thresholds', 'signerExpiryWarning'],
    message: 'thresholds.signerExpiryWarning must be shorter than delegatedResponder.renewBefore',
  })
  .refine((s) => s.store.type !== 'Embedded' || s.responder.autoscaling === undefined, {
    path: ['responder', 'autoscaling'],
    message: 'autoscaling needs the Redis store: the Embedded store runs one pod, its only writer',
  })
  .refine((s) => s.responder.autoscaling === undefined || s.responder.pod?.resources?.requests?.cpu !== undefined, {
    path: ['responder', 'autoscaling'],
    message: 'autoscaling on CPU needs responder.pod.resources.requests.cpu: utilization is measured against the request',
  })
  .refine((s) => s.store.type !== 'Embedded' || s.responder.replicas === undefined || s.responder.replicas === 1, {
    path: ['responder', 'replicas'],
    message:
      'with the Embedded store one pod holds the signer and the responder: responder.replicas must be 1 (use the Redis store for more responders)',
  })
  .refine((s) => s.store.type !== 'Embedded' || POD_LEVEL_FIELDS.every((f) => s.signers.pod?.[f] === undefined), {
    path: ['signers', 'pod'],
    message: `with the Embedded store the signer runs in the responder's pod: set ${POD_LEVEL_FIELDS.join(', ')} in responder.pod`,
  })
  .refine((s) => s.store.type !== 'Embedded' || !sharedNames(s.signers.pod, s.responder.pod, 'volumes'), {
    path: ['signers', 'pod', 'volumes'],
    message: 'with the Embedded store both pod shapes add volumes to one pod: their names must differ',
  })
  .refine((s) => s.store.type !== 'Embedded' || !sharedNames(s.signers.pod, s.responder.pod, 'initContainers'), {
    path: ['signers', 'pod', 'initContainers'],
    message: 'with the Embedded store both pod shapes add init containers to one pod: their names must differ',
  });

export const OcspResponderPoolStatusSchema = z.object({
  observedGeneration: z.int().min(0).optional(),
  conditions: conditionList().optional(),
  /** Unexpired certificates of the issuer found in the sources. */
  certificates: z.int().min(0).optional(),
  /** Certificates whose response is missing or older than refreshAge. */
  backlog: z.int().min(0).optional(),
  /** Certificates with no response at all (part of the backlog). */
  missing: z.int().min(0).optional(),
  revoked: z.int().min(0).optional(),
  signers: z
    .object({
      desired: z.int().min(0).optional(),
      ready: z.int().min(0).optional(),
      /** Measured pool-wide rate, the basis of the scaling decision. */
      signaturesPerSecond: z.number().min(0).optional(),
    })
    .optional(),
  responders: z
    .object({
      ready: z.int().min(0).optional(),
      outOfRotation: z.array(z.string()).optional(),
    })
    .optional(),
  /** thisUpdate of the oldest served response: an instant, so the status does not change as it ages. */
  oldestResponse: dateTime().optional(),
  /** The certificate that has waited longest for its first response. */
  oldestUnsigned: z.object({ serial: z.string().regex(new RegExp(SERIAL_HEX_PATTERN)), since: dateTime() }).optional(),
  replication: z
    .array(
      z.object({
        replica: z.string().min(1),
        lagSeconds: z.number().min(0).optional(),
        inRotation: z.boolean().optional(),
      }),
    )
    .refine((l) => new Set(l.map((r) => r.replica)).size === l.length, { message: 'duplicate replica' })
    .optional(),
  delegatedResponder: z
    .object({
      serial: z.string().regex(new RegExp(SERIAL_HEX_PATTERN)).optional(),
      notAfter: dateTime().optional(),
    })
    .optional(),
});

export const OcspResponderPoolSchema = z.object({
  apiVersion: z.literal(API_GROUP_VERSION),
  kind: z.literal(KIND_POOL),
  metadata: ObjectMetaSchema,
  spec: OcspResponderPoolSpecSchema,
  status: OcspResponderPoolStatusSchema.optional(),
});

export type OcspResponderPoolSpec = z.output<typeof OcspResponderPoolSpecSchema>;
export type OcspResponderPoolSpecInput = z.input<typeof OcspResponderPoolSpecSchema>;
export type OcspResponderPoolStatus = z.output<typeof OcspResponderPoolStatusSchema>;
export type OcspResponderPool = z.output<typeof OcspResponderPoolSchema>;
export type OcspResponderPoolInput = z.input<typeof OcspResponderPoolSchema>;
export type DeclaredRevocation = z.output<typeof DeclaredRevocationSchema>;
export type CertificateSource = z.output<typeof CertificateSourceSchema>;

export function parseOcspResponderPool(obj: unknown): ParseResult<OcspResponderPool> {
  return parseWith(OcspResponderPoolSchema, KIND_POOL, obj);
}
