// The signer package's public API: what the `signer` command and the OcspResponderPool controller use.
export { openPkcs11Signer, type Pkcs11Signer, type Pkcs11SignerOptions } from './pkcs11-signer.js';
export {
  issueDelegatedResponder,
  lintResponderCert,
  needsRotation,
  generateResponderKey,
  ResponderRotator,
  type IssueResponderOptions,
  type ResponderLintCode,
  type ResponderLintProblem,
  type ResponderRotatorOptions,
  type SigningIdentity,
} from './delegated-responder.js';
export {
  createPlanner,
  type Backlog,
  type Planner,
  type PlannerPolicy,
  type ResponseInfo,
  type Shard,
  type WorkItem,
  type WorkReason,
} from './planner.js';
export {
  parseIndexTxt,
  readIndexTxt,
  applyDeclaredRevocations,
  type CertificateInfo,
  type IndexRevocation,
  type IndexParseResult,
  type IndexProblem,
} from '../ca-db/index-txt.js';
export { loadResponses, SignerIdentityReader, signerSerialOf } from './store-view.js';
export { ResponseSigner, type ResponseSignerOptions, type RoundResult } from './signer.js';
export { SignerMetrics } from './metrics.js';
export { ensureThreadpool, threadpoolSizeFor } from './threadpool.js';
