// CertID: which certificate a request or SingleResponse is about (RFC 6960 4.1.1).
import './reflect-polyfill.js';
import { createHash } from 'node:crypto';
import { OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { CertID } from '@peculiar/asn1-ocsp';
import type { X509Certificate } from '@peculiar/x509';
import { certDer, type CertDer } from './cert-der.js';
import { equalBytes } from './der.js';
import { HASH_OIDS, hashAlgorithmFromOid, nodeHashName, type HashAlgorithm } from './oids.js';

export interface CertIdInfo {
  hashAlgorithm: HashAlgorithm;
  issuerNameHash: Uint8Array;
  issuerKeyHash: Uint8Array;
  /** DER INTEGER content bytes of the serial */
  serialNumber: Uint8Array;
}

const hashCache = new WeakMap<CertDer, Map<HashAlgorithm, { nameHash: Uint8Array; keyHash: Uint8Array }>>();

/** The issuer name hash and key hash under `alg` (from the exact DER of the issuer's subject and key). */
export function issuerHashes(issuer: X509Certificate, alg: HashAlgorithm): { nameHash: Uint8Array; keyHash: Uint8Array } {
  return certHashes(certDer(issuer), alg);
}

/** issuerHashes for a certificate already split; computed once per certificate content and algorithm. */
export function certHashes(d: CertDer, alg: HashAlgorithm): { nameHash: Uint8Array; keyHash: Uint8Array } {
  let perAlg = hashCache.get(d);
  if (!perAlg) hashCache.set(d, (perAlg = new Map()));
  let h = perAlg.get(alg);
  if (!h) {
    h = { nameHash: digest(alg, d.subjectName), keyHash: digest(alg, d.publicKeyBits) };
    perAlg.set(alg, h);
  }
  return h;
}

export function digest(alg: HashAlgorithm, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(nodeHashName(alg)).update(data).digest());
}

export function certIdFor(cert: X509Certificate, issuer: X509Certificate, alg: HashAlgorithm = 'SHA-1'): CertIdInfo {
  const { nameHash, keyHash } = issuerHashes(issuer, alg);
  return { hashAlgorithm: alg, issuerNameHash: nameHash, issuerKeyHash: keyHash, serialNumber: certDer(cert).serial };
}

export function certIdEquals(a: CertIdInfo, b: CertIdInfo): boolean {
  return (
    a.hashAlgorithm === b.hashAlgorithm &&
    equalBytes(a.serialNumber, b.serialNumber) &&
    equalBytes(a.issuerNameHash, b.issuerNameHash) &&
    equalBytes(a.issuerKeyHash, b.issuerKeyHash)
  );
}

export function toAsn1CertId(id: CertIdInfo): CertID {
  return new CertID({
    // RFC 5019 / what OpenSSL sends: the hash AlgorithmIdentifier carries NULL parameters.
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: HASH_OIDS[id.hashAlgorithm], parameters: NULL_PARAMS }),
    issuerNameHash: new OctetString(id.issuerNameHash),
    issuerKeyHash: new OctetString(id.issuerKeyHash),
    serialNumber: copyBuffer(id.serialNumber),
  });
}

/** A CertIdInfo from a parsed CertID, or undefined when its hash algorithm is not one we know. */
export function fromAsn1CertId(id: CertID): CertIdInfo | undefined {
  const alg = hashAlgorithmFromOid(id.hashAlgorithm.algorithm);
  if (!alg) return undefined;
  return {
    hashAlgorithm: alg,
    issuerNameHash: new Uint8Array(id.issuerNameHash.buffer),
    issuerKeyHash: new Uint8Array(id.issuerKeyHash.buffer),
    serialNumber: new Uint8Array(id.serialNumber),
  };
}

const NULL_PARAMS = new Uint8Array([0x05, 0x00]).buffer;

export function copyBuffer(b: Uint8Array): ArrayBuffer {
  return b.slice().buffer;
}
