// The public API of the OCSP protocol core.
export type { HashAlgorithm } from './oids.js';
export { OcspInputError } from './errors.js';
export {
  type CertificateBundle,
  parsePemChain,
  findIssuer,
  isIssuedBy,
  ocspUrls,
  serialHex,
  sha256Fingerprint,
  isMustStaple,
  keyMatchesCertificate,
} from './certificate.js';
export { type CertIdInfo, certIdFor, certIdEquals, issuerHashes } from './cert-id.js';
export { type OcspRequestInfo, buildOcspRequest, ocspGetUrl, parseOcspRequest } from './request.js';
