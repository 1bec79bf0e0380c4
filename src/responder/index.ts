export { startResponder, type Responder } from './server.js';
export type { LagPolicy, ResponderConfig } from './config.js';
export { IssuerIndex, issuerIdOf } from './issuers.js';
export { lagPolicy, notExpired, storeSource, type Lookup, type Refusal, type Source } from './source.js';
export { ResponderMetrics } from './metrics.js';
