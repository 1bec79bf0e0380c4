// Canonical key parts. Serial numbers reach the store from several places (a signer's view of a
// certificate, a CertID in a request); they must compare equal whatever their spelling, so every
// entry point funnels through canonicalSerial.

const HEX = /^[0-9a-f]+$/;

/** Lowercase hex without leading zeros ("0" for zero); throws on anything that is not hex. */
export function canonicalSerial(serial: string | Uint8Array): string {
  const hex = typeof serial === 'string' ? serial.toLowerCase().replace(/^0x/, '').replace(/:/g, '') : hexOf(serial);
  if (hex.length === 0 || !HEX.test(hex)) throw new Error(`serial is not hex: ${JSON.stringify(serial)}`);
  const trimmed = hex.replace(/^0+/, '');
  return trimmed === '' ? '0' : trimmed;
}

/**
 * An issuer is named by the SHA-256 hash of its public key (the SHA-256 CertID issuerKeyHash):
 * stable across re-issued CA certificates with the same key, and independent of the hash
 * algorithm a client happened to use in its request.
 */
export function issuerIdFromKeyHash(sha256KeyHash: Uint8Array): string {
  if (sha256KeyHash.length !== 32) throw new Error(`issuer key hash must be SHA-256 (32 bytes), got ${sha256KeyHash.length}`);
  return hexOf(sha256KeyHash);
}

export function isIssuerId(s: string): boolean {
  return s.length === 64 && HEX.test(s);
}

export function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
