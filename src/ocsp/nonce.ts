// The OCSP nonce extension (RFC 8954): extnValue holds a DER OCTET STRING wrapping the nonce bytes.
import { randomBytes } from 'node:crypto';
import { OctetString } from '@peculiar/asn1-schema';
import { Extension as AsnExtension } from '@peculiar/asn1-x509';
import { contentOf, encodeTlv, readTlv } from './der.js';
import { OID_OCSP_NONCE } from './oids.js';
import type { Extension } from './x509-der.js';

export function nonceExtension(nonce: Uint8Array): AsnExtension {
  return new AsnExtension({ extnID: OID_OCSP_NONCE, critical: false, extnValue: new OctetString(encodeTlv(0x04, nonce)) });
}

export function newNonce(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}

/** The nonce in a list of extensions. Old responders put the bytes in extnValue unwrapped; both forms are read. */
export function findNonce(extensions: Extension[] | undefined): Uint8Array | undefined {
  const ext = extensions?.find((e) => e.extnID === OID_OCSP_NONCE);
  if (!ext) return undefined;
  const v = ext.extnValue;
  try {
    const t = readTlv(v, 0);
    if (t.tag === 0x04 && t.end === v.length) return contentOf(v, t).slice();
  } catch {
    // fall through: not wrapped
  }
  return v.slice();
}
