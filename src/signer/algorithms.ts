// The AlgorithmIdentifier of each signature algorithm the signer package signs with (responses,
// delegated responder certificates): the protocol core's, minus RSA-PSS, which the fast response
// encoder does not implement.
import { AsnConvert } from '@peculiar/asn1-schema';
import type { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { signatureAlgorithmIdentifier as coreIdentifier, type SignatureAlgorithmName } from '../ocsp/index.js';

export function signatureAlgorithmIdentifier(alg: SignatureAlgorithmName): AlgorithmIdentifier {
  if (alg === 'RSA-PSS-SHA256') throw new Error('RSA-PSS signing is not supported by the signer package; use an RSA PKCS#1, ECDSA or Ed25519 key');
  return coreIdentifier(alg);
}

export function signatureAlgorithmDer(alg: SignatureAlgorithmName): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(signatureAlgorithmIdentifier(alg)));
}
