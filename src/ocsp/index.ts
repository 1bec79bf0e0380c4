// The public API of the OCSP protocol core.
export type { HashAlgorithm } from './oids.js';
export { OcspInputError } from './errors.js';
export {
  type CertificateBundle,
  parsePemChain,
  parsePemViews,
  findIssuer,
  isIssuedBy,
  ocspUrls,
  serialHex,
  serialBytesToHex,
  sha256Fingerprint,
  isMustStaple,
  keyMatchesCertificate,
  certificateView,
  certificatePem,
} from './certificate.js';
export type { CertificateView } from './cert-der.js';
export { type CertIdInfo, certIdFor, certIdEquals, issuerHashes, fromAsn1CertId } from './cert-id.js';
export { decodeResponse, describeBody } from './response.js';
export { equalBytes } from './der.js';
export { type OcspRequestInfo, buildOcspRequest, ocspGetUrl, parseOcspRequest } from './request.js';
export {
  type FailureReason,
  type CertStatus,
  type ValidatedResponse,
  type Verdict,
  type ValidationOptions,
  validateOcspResponse,
} from './validate.js';
export {
  type OcspSigner,
  type SignatureAlgorithmName,
  type ResponseEntry,
  type ResponseEntryStatus,
  type SignOptions,
  softwareSigner,
  rsaPssSigner,
  signatureAlgorithmIdentifier,
  signOcspResponse,
  errorResponse,
} from './sign.js';
export { decodeOcspGetPath } from './get-path.js';
