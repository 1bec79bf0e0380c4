// The certificates a response includes (BasicOCSPResponse.certs), as validation needs them. One
// responder sends the same certificate in every response, so each is checked and read once per
// content, without building an X.509 object: the few fields a delegated signer is judged by
// (validity, extendedKeyUsage) come straight from its DER.
import { BytesCache } from './bytes-cache.js';
import { certDerFromBytes, readCertificate, type CertDer } from './cert-der.js';
import { assertStrictDer, children, readTlv } from './der.js';
import { DerFields, oidValue } from './der-fields.js';
import { nameString } from './dn.js';
import { OID_EXT_KEY_USAGE, OID_KP_OCSP_SIGNING } from './oids.js';
import type { Extension } from './x509-der.js';

export interface IncludedCert {
  der: CertDer;
  notBefore: Date;
  notAfter: Date;
  /** extendedKeyUsage lists id-kp-OCSPSigning (RFC 6960 4.2.2.2) */
  ocspSigning: boolean;
  /** as X509Certificate.subject prints it */
  subject: string;
}

export interface IncludedEntry {
  /** strict DER throughout; a response carrying anything else is malformed */
  strictDer: boolean;
  /** undefined when the DER is not an X.509 certificate */
  cert: IncludedCert | undefined;
}

const cache = new BytesCache<IncludedEntry>(256);

export function includedCert(raw: Uint8Array): IncludedEntry {
  return cache.get(raw, read);
}

function read(der: Uint8Array): IncludedEntry {
  try {
    assertStrictDer(der);
  } catch {
    return { strictDer: false, cert: undefined };
  }
  try {
    const d = certDerFromBytes(der);
    const { notBefore, notAfter, extensions } = readCertificate(der);
    const cert: IncludedCert = {
      der: d,
      notBefore,
      notAfter,
      ocspSigning: listsOcspSigning(extensions),
      subject: nameString(d.subjectName),
    };
    return { strictDer: true, cert };
  } catch {
    return { strictDer: true, cert: undefined };
  }
}

/** ExtendedKeyUsage ::= SEQUENCE OF KeyPurposeId (OBJECT IDENTIFIER), in the first extendedKeyUsage extension. An unreadable one lists nothing. */
function listsOcspSigning(extensions: Extension[]): boolean {
  const ext = extensions.find((e) => e.extnID === OID_EXT_KEY_USAGE);
  if (!ext) return false;
  const v = ext.extnValue;
  try {
    const top = readTlv(v, 0);
    if (top.tag !== 0x30 || top.end !== v.length) return false;
    const purposes = new DerFields(v, top, 'ExtendedKeyUsage');
    let found = false;
    while (purposes.more) {
      if (oidValue(v, purposes.take(0x06, 'KeyPurposeId')) === OID_KP_OCSP_SIGNING) found = true;
    }
    return found;
  } catch {
    return false;
  }
}

/** The DER of the first certificate included in an OCSPResponse, or undefined when there is none. */
export function includedSignerCert(der: Uint8Array): Uint8Array | undefined {
  const top = readTlv(der, 0);
  const [, bytesT] = children(der, top); // responseStatus, [0] responseBytes
  if (!bytesT || bytesT.tag !== 0xa0) return undefined;
  const rb = readTlv(der, bytesT.contentStart, bytesT.end); // ResponseBytes SEQUENCE
  const [, octetT] = children(der, rb); // responseType, response OCTET STRING
  if (!octetT || octetT.tag !== 0x04) return undefined;
  const basic = readTlv(der, octetT.contentStart, octetT.end);
  const certsT = children(der, basic)[3]; // tbsResponseData, signatureAlgorithm, signature, [0] certs
  if (!certsT || certsT.tag !== 0xa0) return undefined;
  const seq = readTlv(der, certsT.contentStart, certsT.end);
  if (seq.contentStart >= seq.end) return undefined;
  const first = readTlv(der, seq.contentStart, seq.end);
  return der.subarray(first.start, first.end);
}
