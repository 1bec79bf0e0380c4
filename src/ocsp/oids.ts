// Object identifiers and the small tables that map them. One place so the request, response and
// signing code agree on names.
export {
  id_pkix_ocsp_basic as OID_OCSP_BASIC,
  id_pkix_ocsp_nonce as OID_OCSP_NONCE,
  id_pkix_ocsp_nocheck as OID_OCSP_NOCHECK,
  id_kp_OCSPSigning as OID_KP_OCSP_SIGNING,
} from '@peculiar/asn1-ocsp';

export type HashAlgorithm = 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512';

export const OID_AIA = '1.3.6.1.5.5.7.1.1';
export const OID_AD_OCSP = '1.3.6.1.5.5.7.48.1';
export const OID_TLS_FEATURE = '1.3.6.1.5.5.7.1.24';
export const OID_EXT_KEY_USAGE = '2.5.29.37';

export const HASH_OIDS: Record<HashAlgorithm, string> = {
  'SHA-1': '1.3.14.3.2.26',
  'SHA-256': '2.16.840.1.101.3.4.2.1',
  'SHA-384': '2.16.840.1.101.3.4.2.2',
  'SHA-512': '2.16.840.1.101.3.4.2.3',
};

const HASH_BY_OID = new Map<string, HashAlgorithm>(Object.entries(HASH_OIDS).map(([name, oid]) => [oid, name as HashAlgorithm]));

export function hashAlgorithmFromOid(oid: string): HashAlgorithm | undefined {
  return HASH_BY_OID.get(oid);
}

/** node:crypto's digest name for a HashAlgorithm. */
export function nodeHashName(alg: HashAlgorithm): string {
  return alg.replace('-', '').toLowerCase();
}

export const OID_RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
export const OID_RSASSA_PSS = '1.2.840.113549.1.1.10';
export const OID_MGF1 = '1.2.840.113549.1.1.8';
export const OID_ED25519 = '1.3.101.112';

/** Signature algorithms whose parameters are fixed (everything except RSASSA-PSS). */
export const SIGNATURE_OIDS = {
  '1.2.840.113549.1.1.5': { kind: 'rsa', hash: 'SHA-1' },
  '1.2.840.113549.1.1.11': { kind: 'rsa', hash: 'SHA-256' },
  '1.2.840.113549.1.1.12': { kind: 'rsa', hash: 'SHA-384' },
  '1.2.840.113549.1.1.13': { kind: 'rsa', hash: 'SHA-512' },
  '1.2.840.10045.4.1': { kind: 'ecdsa', hash: 'SHA-1' },
  '1.2.840.10045.4.3.2': { kind: 'ecdsa', hash: 'SHA-256' },
  '1.2.840.10045.4.3.3': { kind: 'ecdsa', hash: 'SHA-384' },
  '1.2.840.10045.4.3.4': { kind: 'ecdsa', hash: 'SHA-512' },
  [OID_ED25519]: { kind: 'ed25519', hash: undefined },
} as const satisfies Record<string, { kind: 'rsa' | 'ecdsa' | 'ed25519'; hash: HashAlgorithm | undefined }>;

/** RFC 5280 CRLReason names, by code. */
export const CRL_REASON_BY_CODE: readonly (string | undefined)[] = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  undefined,
  'removeFromCRL',
  'privilegeWithdrawn',
  'aACompromise',
];
