// CertID: which certificate a request or SingleResponse is about (RFC 6960 4.1.1).
import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { CertID } from '@peculiar/asn1-ocsp';
import { certDer, type CertDer, type CertificateView } from './cert-der.js';
import { contentOf, equalBytes, type Tlv } from './der.js';
import { DerFields, integerBytes } from './der-fields.js';
import { readAlgorithmIdentifier, type AlgorithmIdentifierFields } from './x509-der.js';
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
export function issuerHashes(issuer: CertificateView, alg: HashAlgorithm): { nameHash: Uint8Array; keyHash: Uint8Array } {
  return certHashes(certDer(issuer), alg);
}

/** issuerHashes for a certificate already split; computed once per certificate content and algorithm. */
export function certHashes(d: CertDer, alg: HashAlgorithm): { nameHash: Uint8Array; keyHash: Uint8Array } {
  let perAlg = hashCache.get(d);
  if (!perAlg) hashCache.set(d, (perAlg = new Map<HashAlgorithm, { nameHash: Uint8Array; keyHash: Uint8Array }>()));
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

export function certIdFor(cert: CertificateView, issuer: CertificateView, alg: HashAlgorithm = 'SHA-1'): CertIdInfo {
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

/** CertID as a response or request carries it, before its hash algorithm is known to be one of ours. */
export interface CertIdFields {
  hashAlgorithm: AlgorithmIdentifierFields;
  issuerNameHash: Uint8Array;
  issuerKeyHash: Uint8Array;
  /** INTEGER content bytes */
  serialNumber: Uint8Array;
}

/** CertID ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, issuerNameHash OCTET STRING, issuerKeyHash OCTET STRING, serialNumber INTEGER } */
export function readCertId(buf: Uint8Array, t: Tlv): CertIdFields {
  const f = new DerFields(buf, t, 'CertID');
  const hashAlgorithm = readAlgorithmIdentifier(buf, f.take(0x30, 'hashAlgorithm'), 'CertID hashAlgorithm');
  const name = f.take(0x04, 'issuerNameHash');
  const key = f.take(0x04, 'issuerKeyHash');
  const serialNumber = integerBytes(buf, f.take(0x02, 'serialNumber'));
  f.finish();
  return { hashAlgorithm, issuerNameHash: contentOf(buf, name), issuerKeyHash: contentOf(buf, key), serialNumber };
}

/** A CertIdInfo from a CertID read from DER, or undefined when its hash algorithm is not one we know. */
export function fromAsn1CertId(id: CertIdFields): CertIdInfo | undefined {
  const alg = hashAlgorithmFromOid(id.hashAlgorithm.algorithm);
  if (!alg) return undefined;
  // Copies: the fields are views into a message buffer (a pooled request body may be reused).
  return {
    hashAlgorithm: alg,
    issuerNameHash: id.issuerNameHash.slice(),
    issuerKeyHash: id.issuerKeyHash.slice(),
    serialNumber: id.serialNumber.slice(),
  };
}

const NULL_PARAMS = new Uint8Array([0x05, 0x00]).buffer;

export function copyBuffer(b: Uint8Array): ArrayBuffer {
  return b.slice().buffer;
}
