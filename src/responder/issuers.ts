// Maps a request's CertID to the issuer id the store is keyed by. A client may hash the issuer
// name and key with SHA-1, SHA-256, SHA-384 or SHA-512; all four name the same issuer, so each
// configured issuer is indexed under all four. A CertID matching none is another CA's: refused.
import type { X509Certificate } from '@peculiar/x509';
import { issuerHashes, type CertIdInfo, type HashAlgorithm } from '../ocsp/index.js';
import { issuerIdFromKeyHash, hexOf } from '../store/keys.js';

const ALGS: readonly HashAlgorithm[] = ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'];

/** The store key for an issuer: the SHA-256 hash of its public key, hex. */
export function issuerIdOf(issuer: X509Certificate): string {
  return issuerIdFromKeyHash(issuerHashes(issuer, 'SHA-256').keyHash);
}

export class IssuerIndex {
  private readonly byHashes = new Map<string, string>();

  constructor(issuers: readonly X509Certificate[]) {
    for (const issuer of issuers) {
      const id = issuerIdOf(issuer);
      for (const alg of ALGS) {
        const { nameHash, keyHash } = issuerHashes(issuer, alg);
        this.byHashes.set(key(alg, nameHash, keyHash), id);
      }
    }
  }

  /** The issuer id, or undefined when the CertID names an issuer this responder does not serve. */
  resolve(id: CertIdInfo): string | undefined {
    return this.byHashes.get(key(id.hashAlgorithm, id.issuerNameHash, id.issuerKeyHash));
  }
}

function key(alg: HashAlgorithm, nameHash: Uint8Array, keyHash: Uint8Array): string {
  return `${alg}:${hexOf(nameHash)}:${hexOf(keyHash)}`;
}
