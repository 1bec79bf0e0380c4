// Names of the API group, its version and its kinds, in one place so the CRD files, the zod
// schemas, the clients and the RBAC rules cannot spell them differently.

export const API_GROUP = 'ocsp-operator.dev';
export const API_VERSION = 'v1alpha1';
/** The `apiVersion` field of every object of this group. */
export const API_GROUP_VERSION = `${API_GROUP}/${API_VERSION}` as const;

export const KIND_STAPLE = 'OcspStaple';
export const PLURAL_STAPLES = 'ocspstaples';
export const SHORT_NAME_STAPLE = 'staple';

export const KIND_POOL = 'OcspResponderPool';
export const PLURAL_POOLS = 'ocspresponderpools';
export const SHORT_NAME_POOL = 'orp';

/** `kubectl get ocsp` lists both kinds. */
export const CATEGORY = 'ocsp';
