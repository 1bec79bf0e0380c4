// The API of ocsp-operator.dev/v1alpha1: names, schemas, inferred types and parsers.
export * from './group.js';
export * from './duration.js';
export * from './time.js';
export * from './condition.js';
export * from './meta.js';
export * from './parse.js';
export * from './revocation.js';
export * from './staple.js';
export * from './pod.js';
export * from './pool.js';
