// RFC 5280 CRLReason names (section 5.3.1), spelled as the RFC spells them, which is also how
// `openssl ca -crl_reason` and index.txt write them.

import { z } from 'zod';

/** Every CRLReason a response can carry (value 7 is unused in the RFC). */
export const CRL_REASONS = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  'removeFromCRL',
  'privilegeWithdrawn',
  'aACompromise',
] as const;
export const CrlReasonSchema = z.enum(CRL_REASONS);
export type CrlReason = z.infer<typeof CrlReasonSchema>;

/**
 * Reasons a revocation declared in a pool spec may use: removeFromCRL is left out because it only
 * means something in a delta CRL ("no longer on hold"); to un-revoke, delete the entry.
 */
export const DECLARED_REVOCATION_REASONS = CRL_REASONS.filter((r): r is Exclude<CrlReason, 'removeFromCRL'> => r !== 'removeFromCRL');
export const DeclaredRevocationReasonSchema = z.enum(DECLARED_REVOCATION_REASONS);

/**
 * A certificate serial as hex, at most 20 octets (RFC 5280 4.1.2.2). Any case; colons are not
 * accepted so that a serial has one spelling per case and duplicates are easy to see.
 */
export const SERIAL_HEX_PATTERN = '^[0-9A-Fa-f]{1,40}$';

/** Canonical form used to compare serials: lower case, no leading zeros ("00AB" = "ab"). */
export function normalizeSerial(hex: string): string {
  const s = hex.toLowerCase().replace(/^0+/, '');
  return s === '' ? '0' : s;
}
