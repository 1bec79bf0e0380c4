// The X.509 building blocks that OCSP messages and certificates share (RFC 5280 4.1), read strictly:
// AlgorithmIdentifier, Name and Extensions.
import { assertStrictTree, type Tlv } from './der.js';
import { booleanValue, checkOid, DerFields, oidValue } from './der-fields.js';

export interface AlgorithmIdentifierFields {
  /** dotted OID */
  algorithm: string;
}

/** AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL } */
export function readAlgorithmIdentifier(buf: Uint8Array, t: Tlv, what: string): AlgorithmIdentifierFields {
  const f = new DerFields(buf, t, what);
  const algorithm = oidValue(buf, f.take(0x06, 'algorithm'));
  if (f.more) assertStrictTree(buf, f.next('parameters'));
  f.finish();
  return { algorithm };
}

/**
 * Checks a Name ::= SEQUENCE OF SET OF SEQUENCE { type OBJECT IDENTIFIER, value ANY }. Names are
 * compared as bytes, never interpreted here, so nothing is returned.
 */
export function checkName(buf: Uint8Array, t: Tlv, what: string): void {
  const rdns = new DerFields(buf, t, what);
  while (rdns.more) {
    const rdn = new DerFields(buf, rdns.take(0x31, 'RelativeDistinguishedName'), what);
    while (rdn.more) {
      const atv = new DerFields(buf, rdn.take(0x30, 'AttributeTypeAndValue'), what);
      checkOid(buf, atv.take(0x06, 'attribute type'));
      assertStrictTree(buf, atv.next('attribute value'));
      atv.finish();
    }
  }
}

export interface Extension {
  /** dotted OID */
  extnID: string;
  critical: boolean;
  /** the OCTET STRING's content: the DER of the extension's own value */
  extnValue: Uint8Array;
}

/** Extensions ::= SEQUENCE OF Extension; Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } */
export function readExtensions(buf: Uint8Array, t: Tlv, what: string): Extension[] {
  const list = new DerFields(buf, t, what);
  const out: Extension[] = [];
  while (list.more) {
    const f = new DerFields(buf, list.take(0x30, 'Extension'), what);
    const extnID = oidValue(buf, f.take(0x06, 'extnID'));
    const c = f.optional(0x01);
    const critical = c ? booleanValue(buf, c) : false;
    const v = f.take(0x04, 'extnValue');
    f.finish();
    out.push({ extnID, critical, extnValue: buf.subarray(v.contentStart, v.end) });
  }
  return out;
}
