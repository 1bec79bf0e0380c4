import { describe, expect, it } from 'vitest';
import { poolConditions, type PoolObservation, type PoolThresholds } from '../../src/pool/thresholds.js';

const H = 3_600_000;
const now = Date.UTC(2026, 10, 22);
const t: PoolThresholds = {
  freshnessWarningAgeMs: 96 * H,
  freshnessCriticalAgeMs: 144 * H,
  signerExpiryWarningMs: 72 * H,
  issuerExpiryWarningMs: 720 * H,
  newCertificateTargetMs: 5 * 60_000,
  maxReplicationLagMs: 10_000,
  responseValidityMs: 168 * H,
};
const healthy: PoolObservation = {
  now,
  certificates: 1000,
  missing: 0,
  oldestThisUpdate: now - 50 * H,
  soonestNextUpdate: now + 118 * H,
  outlivingTheirSigner: 0,
  signerNotAfter: now + 30 * 24 * H,
  signerSubject: 'CN=OCSP Signer',
  issuerNotAfter: now + 365 * 24 * H,
  replicas: [{ name: 'r1', lagMs: 200, detached: false }],
};
const get = (o: PoolObservation, type: string) => poolConditions(o, t).find((c) => c.type === type)!;

describe('pool conditions', () => {
  it('a healthy pool is Ready', () => {
    expect(get(healthy, 'Ready')).toMatchObject({ status: 'True', reason: 'Serving' });
  });

  it('freshness looks at the oldest of all responses: warning, then critical', () => {
    expect(get({ ...healthy, oldestThisUpdate: now - 100 * H, soonestNextUpdate: now + 68 * H }, 'Fresh')).toMatchObject({ status: 'False', reason: 'ResponsesStale' });
    const critical = get({ ...healthy, oldestThisUpdate: now - 150 * H, soonestNextUpdate: now + 18 * H }, 'Fresh');
    expect(critical).toMatchObject({ status: 'False', reason: 'ResponsesCritical' });
    expect(critical.message).toContain('150h');
    expect(get({ ...healthy, oldestThisUpdate: now - 150 * H }, 'Ready').status).toBe('False');
  });

  it('Baseline Requirements: 4 days after thisUpdate, 8 hours before nextUpdate, 15 minutes for a new certificate', () => {
    expect(get({ ...healthy, oldestThisUpdate: now - 97 * H }, 'BaselineRequirements').status).toBe('False');
    expect(get({ ...healthy, soonestNextUpdate: now + 7 * H }, 'BaselineRequirements').message).toContain('8h');
    expect(get({ ...healthy, missing: 1, oldestMissing: { serial: 'abcd', since: now - 16 * 60_000 } }, 'BaselineRequirements').message).toContain('abcd');
    // short-lived responses (< 16 h) are not held to the 4-day / 8-hour rules
    expect(poolConditions({ ...healthy, soonestNextUpdate: now + H }, { ...t, responseValidityMs: 12 * H }).find((c) => c.type === 'BaselineRequirements')?.status).toBe('True');
  });

  it('signer, issuer and responses that outlive their signer', () => {
    expect(get({ ...healthy, signerNotAfter: now + 24 * H }, 'SignerCertificateExpiring')).toMatchObject({ status: 'True', reason: 'SignerExpiresSoon' });
    expect(get({ ...healthy, signerNotAfter: now + 24 * H }, 'SignerCertificateExpiring').message).toContain('CN=OCSP Signer');
    expect(get({ ...healthy, issuerNotAfter: now + 10 * 24 * H }, 'SignerCertificateExpiring').message).toContain('issuer');
    expect(get({ ...healthy, outlivingTheirSigner: 3 }, 'SignerCertificateExpiring').message).toContain('3 responses');
  });

  it('replication names the replicas out of rotation', () => {
    const c = get({ ...healthy, replicas: [{ name: 'r1', lagMs: 100, detached: false }, { name: 'r2', lagMs: 60_000, detached: false }, { name: 'r3', lagMs: 0, detached: true }] }, 'Replicated');
    expect(c).toMatchObject({ status: 'False', reason: 'ReplicaLagging' });
    expect(c.message).toContain('r2 (1m behind)');
    expect(c.message).toContain('r3 (not replicating)');
    expect(c.message).not.toContain('r1');
  });

  it('new certificates waiting past the target', () => {
    expect(get({ ...healthy, missing: 2, oldestMissing: { serial: 'ff01', since: now - 6 * 60_000 } }, 'NewCertificatesServed')).toMatchObject({ status: 'False', reason: 'NewCertificateWaiting' });
    expect(get({ ...healthy, missing: 2, oldestMissing: { serial: 'ff01', since: now - 60_000 } }, 'NewCertificatesServed').status).toBe('True');
  });
});
