// The AlgorithmIdentifier of each signature algorithm the signer package signs with (responses,
// delegated responder certificates): the protocol core's, minus RSA-PSS, which the fast response
// encoder does not implement.
import { AsnConvert } from '@peculiar/asn1-schema';
import type { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { signatureAlgorithmIdentifier, type SignatureAlgorithmName } from './sign.js';

export function signerAlgorithmIdentifier(alg: SignatureAlgorithmName): AlgorithmIdentifier {
  if (alg === 'RSA-PSS-SHA256')
    throw new Error('RSA-PSS signing is not supported by the signer package; use an RSA PKCS#1, ECDSA or Ed25519 key');
  return signatureAlgorithmIdentifier(alg);
}

export function signerAlgorithmDer(alg: SignatureAlgorithmName): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(signerAlgorithmIdentifier(alg)));
}
