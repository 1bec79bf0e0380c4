// OcspStaple: "keep a validated OCSP staple next to this certificate". The zod schema mirrors
// crds/ocsp-operator.dev_ocspstaples.yaml field by field (test/api/schema-drift.test.ts holds
// them together); the CEL rules there are the `.refine`s here.

import { z } from 'zod';
import { conditionList } from './condition.js';
import { compareDurations, durationString } from './duration.js';
import { API_GROUP_VERSION, KIND_STAPLE } from './group.js';
import { ObjectMetaSchema, dataKey, secretName } from './meta.js';
import { parseWith, type ParseResult } from './parse.js';
import { CrlReasonSchema, SERIAL_HEX_PATTERN } from './revocation.js';
import { dateTime } from './time.js';

/** http or https, with a host; the override of the certificate's AIA OCSP URL. */
export const RESPONDER_URL_PATTERN = '^https?://[^\\s/?#]+([/?#][^\\s]*)?$';
export const SHA256_HEX_PATTERN = '^[0-9a-f]{64}$';

/** The derived staple Secret name is `<secretName>-ocsp`; it must still fit in 253 characters. */
export const STAPLE_SECRET_SUFFIX = '-ocsp';
const MAX_SOURCE_NAME_FOR_DERIVED = 253 - STAPLE_SECRET_SUFFIX.length;

export const HASH_ALGORITHMS = ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'] as const;
export const FETCH_METHODS = ['POST', 'GET'] as const;
/**
 * What the staple Secret holds while a renewed certificate has no validated staple yet. Both keep
 * the lockstep invariant: never the new certificate with the old staple.
 */
export const ON_RENEWAL_POLICIES = ['KeepPreviousPair', 'PublishWithoutStaple'] as const;
export const CERT_STATUSES = ['good', 'revoked', 'unknown'] as const;

export const StapleRefreshSchema = z
  .object({
    /** Refresh once this fraction of the response's validity window (thisUpdate→nextUpdate) has passed. */
    fraction: z.number().min(0.1).max(0.9).default(0.5),
    /** Spread refreshes by up to this fraction of the window, so staples do not refresh in step. */
    jitter: z.number().min(0).max(0.5).default(0.1),
    retryInitial: durationString().default('10s'),
    retryMax: durationString().default('10m'),
    /** Never fetch more often than this, whatever a short-lived response asks for. */
    minInterval: durationString().default('1m'),
  })
  .refine((r) => (compareDurations(r.retryInitial, r.retryMax) ?? 0) <= 0, {
    path: ['retryInitial'],
    message: 'retryInitial must not be longer than retryMax',
  });

export const OcspStapleSpecSchema = z
  .object({
    /** Source certificate Secret in the same namespace (tls.crt with chain, tls.key, maybe ca.crt). */
    secretName: secretName(),
    /** Output Secret; default `<secretName>-ocsp` (see stapleSecretNameFor). */
    stapleSecretName: secretName().optional(),
    /** Where the issuer certificate is when tls.crt holds only the leaf. */
    issuerSecretRef: z.object({ name: secretName(), key: dataKey().default('ca.crt') }).optional(),
    responderURL: z.string().max(2048).regex(new RegExp(RESPONDER_URL_PATTERN)).optional(),
    method: z.enum(FETCH_METHODS).default('POST'),
    /** CertID hash; SHA-1 is what RFC 5019 responders are required to understand. */
    hashAlgorithm: z.enum(HASH_ALGORITHMS).default('SHA-1'),
    nonce: z.boolean().default(false),
    onRenewal: z.enum(ON_RENEWAL_POLICIES).default('KeepPreviousPair'),
    refresh: StapleRefreshSchema.prefault({}),
    /** Tolerated clock difference with the responder when judging thisUpdate/nextUpdate. */
    clockSkew: durationString().default('5m'),
    /** A response whose signer certificate expires sooner than this is refused. */
    signerMinRemaining: durationString().default('1h'),
    requestTimeout: durationString().default('10s'),
    /** Fresh turns False when the staple has less validity left than this. */
    freshnessWarning: durationString().default('24h'),
    /** SignerCertificateExpiring turns True when the delegated responder's certificate has less left than this. */
    signerExpiryWarning: durationString().default('168h'),
    onRevoked: z.object({ reissue: z.boolean().default(false) }).prefault({}),
    /**
     * Publish a response whose certStatus is `unknown`. Off by default: browsers treat a stapled
     * `unknown` as an error, so it is handled as a failed refresh (ResponderSaysUnknown).
     */
    publishUnknown: z.boolean().default(false),
    paused: z.boolean().default(false),
  })
  .refine((s) => s.stapleSecretName === undefined || s.stapleSecretName !== s.secretName, {
    path: ['stapleSecretName'],
    message: 'stapleSecretName must differ from secretName',
  })
  .refine((s) => s.stapleSecretName !== undefined || s.secretName.length <= MAX_SOURCE_NAME_FOR_DERIVED, {
    path: ['secretName'],
    message: `secretName longer than ${MAX_SOURCE_NAME_FOR_DERIVED} characters needs an explicit stapleSecretName`,
  });

export const CertificateInfoSchema = z.object({
  serial: z.string().regex(new RegExp(SERIAL_HEX_PATTERN)).optional(),
  sha256: z.string().regex(new RegExp(SHA256_HEX_PATTERN)).optional(),
  subject: z.string().optional(),
  issuer: z.string().optional(),
  notBefore: dateTime().optional(),
  notAfter: dateTime().optional(),
  ocspURL: z.string().optional(),
  mustStaple: z.boolean().optional(),
});

export const StapleInfoSchema = z.object({
  certStatus: z.enum(CERT_STATUSES).optional(),
  thisUpdate: dateTime().optional(),
  nextUpdate: dateTime().optional(),
  producedAt: dateTime().optional(),
  revocationTime: dateTime().optional(),
  revocationReason: CrlReasonSchema.optional(),
  signer: z
    .object({
      subject: z.string().optional(),
      notAfter: dateTime().optional(),
      /** True when signed by a delegated responder certificate rather than the issuer itself. */
      delegated: z.boolean().optional(),
    })
    .optional(),
  /** The earliest of nextUpdate, the signer's notAfter and the certificate's notAfter. */
  usableUntil: dateTime().optional(),
  /** SHA-256 of the DER response, to tell one staple from the next. */
  sha256: z.string().regex(new RegExp(SHA256_HEX_PATTERN)).optional(),
});

export const OcspStapleStatusSchema = z.object({
  observedGeneration: z.int().min(0).optional(),
  conditions: conditionList().optional(),
  /** The staple Secret actually written (spec.stapleSecretName or the derived default). */
  stapleSecretName: z.string().optional(),
  certificate: CertificateInfoSchema.optional(),
  staple: StapleInfoSchema.optional(),
  nextRefreshTime: dateTime().optional(),
  lastAttemptTime: dateTime().optional(),
  lastSuccessTime: dateTime().optional(),
  consecutiveFailures: z.int().min(0).optional(),
  lastFailure: z
    .object({
      reason: z.string().optional(),
      message: z.string().optional(),
      time: dateTime().optional(),
    })
    .optional(),
});

export const OcspStapleSchema = z.object({
  apiVersion: z.literal(API_GROUP_VERSION),
  kind: z.literal(KIND_STAPLE),
  metadata: ObjectMetaSchema,
  spec: OcspStapleSpecSchema,
  status: OcspStapleStatusSchema.optional(),
});

/** The spec with every default applied (what the controller works with). */
export type OcspStapleSpec = z.output<typeof OcspStapleSpecSchema>;
/** The spec as a user may write it (defaulted fields optional). */
export type OcspStapleSpecInput = z.input<typeof OcspStapleSpecSchema>;
export type OcspStapleStatus = z.output<typeof OcspStapleStatusSchema>;
export type OcspStaple = z.output<typeof OcspStapleSchema>;
export type OcspStapleInput = z.input<typeof OcspStapleSchema>;

export function parseOcspStaple(obj: unknown): ParseResult<OcspStaple> {
  return parseWith(OcspStapleSchema, KIND_STAPLE, obj);
}

/** The staple Secret's name: the explicit one, or `<secretName>-ocsp`. */
export function stapleSecretNameFor(spec: Pick<OcspStapleSpec, 'secretName' | 'stapleSecretName'>): string {
  return spec.stapleSecretName ?? `${spec.secretName}${STAPLE_SECRET_SUFFIX}`;
}
