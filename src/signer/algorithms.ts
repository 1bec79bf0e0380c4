// The AlgorithmIdentifier DER of each signature algorithm an OcspSigner can report, for the
// structures this package signs itself (responses, delegated responder certificates).
import '../ocsp/reflect-polyfill.js';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import type { SignatureAlgorithmName } from '../ocsp/index.js';
import { OID_ED25519 } from '../ocsp/oids.js';

const NULL = new Uint8Array([0x05, 0x00]).buffer;

export function signatureAlgorithmIdentifier(alg: SignatureAlgorithmName): AlgorithmIdentifier {
  switch (alg) {
    case 'ECDSA-SHA256':
      return new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' });
    case 'ECDSA-SHA384':
      return new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.3' });
    case 'RSA-SHA256':
      // RFC 4055: sha256WithRSAEncryption parameters are NULL
      return new AlgorithmIdentifier({ algorithm: '1.2.840.113549.1.1.11', parameters: NULL });
    case 'Ed25519':
      return new AlgorithmIdentifier({ algorithm: OID_ED25519 });
    case 'RSA-PSS-SHA256':
      throw new Error('RSA-PSS signing is not supported by the signer package; use an RSA PKCS#1, ECDSA or Ed25519 key');
  }
}

export function signatureAlgorithmDer(alg: SignatureAlgorithmName): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(signatureAlgorithmIdentifier(alg)));
}
