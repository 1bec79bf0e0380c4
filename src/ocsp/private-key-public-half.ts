// The public half a PEM private key carries inside itself: an RSA key's modulus and exponent, an EC
// key's curve and public point (SEC1 keys as OpenSSL, Go and cert-manager write them include it).
// Importing the key through node:crypto only to derive that half costs about 0.8 ms (OpenSSL 3's
// decoder lookup), the largest single cost of reading a certificate Secret; reading it from the
// DER costs microseconds. It is what the import would derive too: OpenSSL takes an EC key's public
// point from the encoding when present, and an RSA public key is (n, e) of the private key.
import { bitStringBytes, checkNull, DerFields, explicitInner, integerBytes, oidValue, smallInteger } from './der-fields.js';
import { readTlv, equalBytes, contentOf, type Tlv } from './der.js';
import { OID_RSA_ENCRYPTION } from './oids.js';

const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';

export type PublicHalf = { kind: 'rsa'; modulus: Uint8Array; exponent: Uint8Array } | { kind: 'ec'; curve: string; point: Uint8Array };

const KEY_BLOCK = /-----BEGIN ((?:RSA |EC )?PRIVATE KEY)-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END \1-----/g;

/**
 * The public half stated by the one unencrypted PKCS#8, PKCS#1 or SEC1 block of `pem`; undefined
 * for anything else (an encrypted or Ed25519 key, an EC key without its public point, two keys, a
 * structure that does not read): the caller then imports the key.
 */
export function statedPublicHalf(pem: string): PublicHalf | undefined {
  const blocks = [...pem.matchAll(KEY_BLOCK)];
  if (blocks.length !== 1 || /PRIVATE KEY-----/.test(pem.replace(blocks[0]![0], ''))) return undefined;
  const [, label, body] = blocks[0]!;
  const der = Buffer.from(body!.replace(/\s+/g, ''), 'base64');
  try {
    const top = readTlv(der, 0);
    if (top.tag !== 0x30 || top.end !== der.length) return undefined;
    if (label === 'RSA PRIVATE KEY') return rsaPrivateKey(der, top);
    if (label === 'EC PRIVATE KEY') return ecPrivateKey(der, top, undefined);
    return privateKeyInfo(der, top);
  } catch {
    return undefined; // not a structure read here: the import decides
  }
}

/** PKCS#8 PrivateKeyInfo / OneAsymmetricKey (RFC 5958). */
function privateKeyInfo(der: Uint8Array, top: Tlv): PublicHalf | undefined {
  const f = new DerFields(der, top, 'PrivateKeyInfo');
  f.take(0x02, 'version');
  const alg = new DerFields(der, f.take(0x30, 'privateKeyAlgorithm'), 'AlgorithmIdentifier');
  const oid = oidValue(der, alg.take(0x06, 'algorithm'));
  const inner = contentOf(der, f.take(0x04, 'privateKey'));
  f.optional(0xa0); // attributes
  f.optional(0x81); // the public key of RFC 5958 v2 (Ed25519 and the like; not read here)
  f.finish();
  const innerTop = readTlv(inner, 0);
  if (innerTop.tag !== 0x30 || innerTop.end !== inner.length) return undefined;
  if (oid === OID_RSA_ENCRYPTION) {
    checkNull(alg.take(0x05, 'parameters'));
    alg.finish();
    return rsaPrivateKey(inner, innerTop);
  }
  if (oid === OID_EC_PUBLIC_KEY) {
    const curve = oidValue(der, alg.take(0x06, 'namedCurve'));
    alg.finish();
    return ecPrivateKey(inner, innerTop, curve);
  }
  return undefined;
}

/** PKCS#1 RSAPrivateKey, two-prime: version 0, n, e and the six private values, all read as integers. */
function rsaPrivateKey(der: Uint8Array, top: Tlv): PublicHalf | undefined {
  const f = new DerFields(der, top, 'RSAPrivateKey');
  if (smallInteger(der, f.take(0x02, 'version')) !== 0) return undefined; // multi-prime: left to the import
  const modulus = integerBytes(der, f.take(0x02, 'modulus'));
  const exponent = integerBytes(der, f.take(0x02, 'publicExponent'));
  for (const name of ['privateExponent', 'prime1', 'prime2', 'exponent1', 'exponent2', 'coefficient'])
    integerBytes(der, f.take(0x02, name));
  f.finish();
  return { kind: 'rsa', modulus, exponent };
}

/** SEC1 ECPrivateKey: version 1, the scalar, [0] the curve (may be left to PKCS#8), [1] the public point. */
function ecPrivateKey(der: Uint8Array, top: Tlv, outerCurve: string | undefined): PublicHalf | undefined {
  const f = new DerFields(der, top, 'ECPrivateKey');
  if (smallInteger(der, f.take(0x02, 'version')) !== 1) return undefined;
  const scalar = f.take(0x04, 'privateKey');
  if (scalar.end === scalar.contentStart) return undefined;
  const params = f.optional(0xa0);
  const curve = params ? oidValue(der, explicitInner(der, params, 0x06, 'parameters')) : outerCurve;
  const publicKey = f.optional(0xa1);
  f.finish();
  if (!curve || !publicKey || (outerCurve && curve !== outerCurve)) return undefined;
  const point = bitStringBytes(der, explicitInner(der, publicKey, 0x03, 'publicKey'));
  return { kind: 'ec', curve, point };
}

/** Whether the public half is exactly the one a certificate's SubjectPublicKeyInfo holds. */
export function publicHalfMatches(half: PublicHalf, spki: Uint8Array): boolean {
  try {
    const f = new DerFields(spki, readTlv(spki, 0), 'SubjectPublicKeyInfo');
    const alg = new DerFields(spki, f.take(0x30, 'algorithm'), 'AlgorithmIdentifier');
    const oid = oidValue(spki, alg.take(0x06, 'algorithm'));
    const key = bitStringBytes(spki, f.take(0x03, 'subjectPublicKey'));
    if (half.kind === 'ec') {
      return oid === OID_EC_PUBLIC_KEY && oidValue(spki, alg.take(0x06, 'namedCurve')) === half.curve && equalBytes(key, half.point);
    }
    if (oid !== OID_RSA_ENCRYPTION) return false;
    const rsa = new DerFields(key, readTlv(key, 0), 'RSAPublicKey');
    return (
      equalBytes(integerBytes(key, rsa.take(0x02, 'modulus')), half.modulus) &&
      equalBytes(integerBytes(key, rsa.take(0x02, 'publicExponent')), half.exponent)
    );
  } catch {
    return false;
  }
}
