// Signature verification over raw bytes with node:crypto, for OCSP responses and certificates alike.
// Synchronous on purpose: validateOcspResponse is a pure function of bytes and time.
import { verify as nodeVerify, constants, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { BytesCache } from './bytes-cache.js';
import { children, contentOf, readTlv } from './der.js';
import { hashAlgorithmFromOid, nodeHashName, OID_MGF1, OID_RSASSA_PSS, SIGNATURE_OIDS, type HashAlgorithm } from './oids.js';

export type SignatureCheck = { ok: true } | { ok: false; unsupported: boolean; message: string };

interface Scheme {
  kind: 'rsa' | 'rsa-pss' | 'ecdsa' | 'ed25519';
  hash?: HashAlgorithm;
  saltLength?: number;
}

/** Parses a DER AlgorithmIdentifier into a verification scheme, or a message saying why not. */
export function signatureScheme(algIdDer: Uint8Array): Scheme | string {
  // A handful of distinct identifiers exist in practice; parsing each once keeps validation cheap.
  return schemes.get(algIdDer, parseScheme);
}

const schemes = new BytesCache<Scheme | string>(64);

function parseScheme(algIdDer: Uint8Array): Scheme | string {
  let alg: AlgorithmIdentifier;
  try {
    alg = AsnConvert.parse(algIdDer, AlgorithmIdentifier);
  } catch {
    return 'signature algorithm identifier does not parse';
  }
  const params = alg.parameters ? new Uint8Array(alg.parameters) : undefined;
  const isNull = params !== undefined && params.length === 2 && params[0] === 0x05 && params[1] === 0x00;
  if (alg.algorithm === OID_RSASSA_PSS) return pssScheme(params);
  const fixed = (SIGNATURE_OIDS as Record<string, { kind: 'rsa' | 'ecdsa' | 'ed25519'; hash: HashAlgorithm | undefined }>)[alg.algorithm];
  if (!fixed) return `signature algorithm ${alg.algorithm} is not supported`;
  // RFC 4055: PKCS#1 v1.5 takes NULL (absent tolerated); RFC 5758 / 8410: ECDSA and Ed25519 take none.
  if (fixed.kind === 'rsa' ? params !== undefined && !isNull : params !== undefined) {
    return `signature algorithm ${alg.algorithm} carries unexpected parameters`;
  }
  return fixed.hash ? { kind: fixed.kind, hash: fixed.hash } : { kind: fixed.kind };
}

function pssScheme(params: Uint8Array | undefined): Scheme | string {
  // RSASSA-PSS-params ::= SEQUENCE { [0] hash DEFAULT sha1, [1] mgf DEFAULT mgf1SHA1, [2] saltLength DEFAULT 20, [3] trailer DEFAULT 1 }
  let hash: HashAlgorithm = 'SHA-1';
  let mgfHash: HashAlgorithm = 'SHA-1';
  let saltLength = 20;
  if (!params) return 'RSASSA-PSS without parameters';
  try {
    const top = readTlv(params, 0);
    if (top.tag !== 0x30 || top.end !== params.length) return 'RSASSA-PSS parameters are not a SEQUENCE';
    for (const f of children(params, top)) {
      const [inner] = children(params, f);
      if (!inner) return 'empty RSASSA-PSS parameter';
      const innerBytes = params.subarray(inner.start, inner.end);
      if (f.tag === 0xa0) {
        const h = hashAlgorithmFromOid(AsnConvert.parse(innerBytes, AlgorithmIdentifier).algorithm);
        if (!h) return 'RSASSA-PSS with an unsupported hash';
        hash = h;
      } else if (f.tag === 0xa1) {
        const mgf = AsnConvert.parse(innerBytes, AlgorithmIdentifier);
        if (mgf.algorithm !== OID_MGF1 || !mgf.parameters) return 'RSASSA-PSS with an unsupported mask generation function';
        const h = hashAlgorithmFromOid(AsnConvert.parse(mgf.parameters, AlgorithmIdentifier).algorithm);
        if (!h) return 'RSASSA-PSS MGF1 with an unsupported hash';
        mgfHash = h;
      } else if (f.tag === 0xa2) {
        const c = contentOf(params, inner);
        if (inner.tag !== 0x02 || c.length < 1 || c.length > 2) return 'RSASSA-PSS salt length out of range';
        saltLength = c.reduce((a, b) => a * 256 + b, 0);
      } else if (f.tag === 0xa3) {
        const c = contentOf(params, inner);
        if (inner.tag !== 0x02 || c.length !== 1 || c[0] !== 1) return 'RSASSA-PSS trailer field must be 1';
      } else return 'unknown RSASSA-PSS parameter';
    }
  } catch {
    return 'RSASSA-PSS parameters do not parse';
  }
  // node:crypto (OpenSSL) uses the message hash for MGF1 too.
  if (mgfHash !== hash) return `RSASSA-PSS with MGF1-${mgfHash} and ${hash} is not supported`;
  return { kind: 'rsa-pss', hash, saltLength };
}

const KEY_TYPES: Record<Scheme['kind'], readonly string[]> = {
  rsa: ['rsa'],
  'rsa-pss': ['rsa', 'rsa-pss'],
  ecdsa: ['ec'],
  ed25519: ['ed25519'],
};

/** Verifies `signature` over `data` with `key` under the DER AlgorithmIdentifier `algIdDer`. Never throws. */
export function verifySignature(algIdDer: Uint8Array, data: Uint8Array, signature: Uint8Array, key: KeyObject): SignatureCheck {
  const scheme = signatureScheme(algIdDer);
  if (typeof scheme === 'string') return { ok: false, unsupported: true, message: scheme };
  const keyType = key.asymmetricKeyType ?? 'unknown';
  if (!KEY_TYPES[scheme.kind].includes(keyType)) {
    return { ok: false, unsupported: false, message: `a ${scheme.kind} signature cannot come from a ${keyType} key` };
  }
  const hash = scheme.hash ? nodeHashName(scheme.hash) : null;
  let ok: boolean;
  try {
    switch (scheme.kind) {
      case 'rsa':
        ok = nodeVerify(hash, data, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
        break;
      case 'rsa-pss':
        ok = nodeVerify(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: scheme.saltLength ?? 20 }, signature);
        break;
      case 'ecdsa':
        ok = nodeVerify(hash, data, { key, dsaEncoding: 'der' }, signature);
        break;
      case 'ed25519':
        ok = nodeVerify(null, data, key, signature);
        break;
    }
  } catch (e) {
    return { ok: false, unsupported: false, message: `signature check failed: ${(e as Error).message}` };
  }
  return ok ? { ok: true } : { ok: false, unsupported: false, message: 'signature does not verify' };
}
