// Every annotation and label key the operator reads or writes, defined once: on staple Secrets, on
// OcspStaples, on cert-manager's Secrets, and on a pool's objects and pods. Keys are part of the
// API (users, kubectl-ocsp and consumers of the staple Secret read them), so they live beside it.

// On the staple Secret: which certificate and staple it holds (src/staple/staple-secret.ts).
export const ANNOTATION_SERIAL = 'ocsp-operator.dev/certificate-serial';
export const ANNOTATION_SHA256 = 'ocsp-operator.dev/certificate-sha256';
export const ANNOTATION_THIS_UPDATE = 'ocsp-operator.dev/staple-this-update';
export const ANNOTATION_NEXT_UPDATE = 'ocsp-operator.dev/staple-next-update';
export const ANNOTATION_STAPLE_SHA256 = 'ocsp-operator.dev/staple-sha256';
/** When the staple must be gone: nextUpdate, or earlier if its signer or the certificate expires first. */
export const ANNOTATION_USABLE_UNTIL = 'ocsp-operator.dev/staple-usable-until';
/** Label on the staple Secret naming its OcspStaple. Same key as ANNOTATION_OPT_IN, other objects. */
export const LABEL_STAPLE = 'ocsp-operator.dev/staple';

// On an OcspStaple.
/** A person's (or kubectl-ocsp's) request for a fetch now (src/staple/refresh-request.ts). */
export const ANNOTATION_REFRESH_REQUESTED = 'ocsp-operator.dev/refresh-requested';
/** TLS servers that serve the staple Secret, for the prober (src/probe/discovery.ts). */
export const ANNOTATION_PROBE_ENDPOINTS = 'ocsp-operator.dev/probe-endpoints';

// On cert-manager's Secrets, read by auto-staple (src/staple/auto-staple.ts).
/** `"true"`: create an OcspStaple for this Secret. */
export const ANNOTATION_OPT_IN = 'ocsp-operator.dev/staple';
/** cert-manager's own key: the Certificate a Secret belongs to. */
export const ANNOTATION_CERT_MANAGER_NAME = 'cert-manager.io/certificate-name';
/** Optional: the renewal policy of the created OcspStaple (KeepPreviousPair | PublishWithoutStaple). */
export const ANNOTATION_ON_RENEWAL = 'ocsp-operator.dev/on-renewal';
/** Label on the OcspStaples auto-staple created. */
export const LABEL_AUTO = 'ocsp-operator.dev/auto';

// On a pool's objects and pods (src/pool/workloads.ts).
/** Label on everything a pool owns, and the key of its report ConfigMap's pods (src/report/protocol.ts). */
export const LABEL_POOL = 'ocsp-operator.dev/pool';
/** Label on a Redis-backed pool's per-replica responder pods. */
export const LABEL_REPLICA = 'ocsp-operator.dev/replica';
/** On a per-replica responder pod: the Redis replica it reads (credentials removed). */
export const ANNOTATION_REDIS_REPLICA = 'ocsp-operator.dev/redis-replica';
