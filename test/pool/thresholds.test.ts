import { describe, expect, it } from 'vitest';
import { PoolConditionType as T, PoolReason as R, READY_GATES, readyFrom } from '../../src/pool/conditions.js';
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
    expect(get({ ...healthy, oldestThisUpdate: now - 100 * H, soonestNextUpdate: now + 68 * H }, 'Fresh')).toMatchObject({
      status: 'False',
      reason: 'ResponsesStale',
    });
    const critical = get({ ...healthy, oldestThisUpdate: now - 150 * H, soonestNextUpdate: now + 18 * H }, 'Fresh');
    expect(critical).toMatchObject({ status: 'False', reason: 'ResponsesCritical' });
    // the instant, not the age: the message stays the same while the response ages
    expect(critical.message).toContain(new Date(now - 150 * H).toISOString().replace('.000Z', 'Z'));
    expect(get({ ...healthy, now: now + H, oldestThisUpdate: now - 150 * H, soonestNextUpdate: now + 18 * H }, 'Fresh').message).toBe(
      critical.message,
    );
    expect(get({ ...healthy, oldestThisUpdate: now - 150 * H }, 'Ready').status).toBe('False');
  });

  it('Baseline Requirements: 4 days after thisUpdate, 8 hours before nextUpdate, 15 minutes for a new certificate', () => {
    expect(get({ ...healthy, oldestThisUpdate: now - 97 * H }, 'BaselineRequirements').status).toBe('False');
    expect(get({ ...healthy, soonestNextUpdate: now + 7 * H }, 'BaselineRequirements').message).toContain('8h');
    expect(
      get({ ...healthy, missing: 1, oldestMissing: { serial: 'abcd', since: now - 16 * 60_000 } }, 'BaselineRequirements').message,
    ).toContain('abcd');
    // short-lived responses (< 16 h) are not held to the 4-day / 8-hour rules
    expect(
      poolConditions({ ...healthy, soonestNextUpdate: now + H }, { ...t, responseValidityMs: 12 * H }).find(
        (c) => c.type === 'BaselineRequirements',
      )?.status,
    ).toBe('True');
  });

  it('signer, issuer and responses that outlive their signer', () => {
    expect(get({ ...healthy, signerNotAfter: now + 24 * H }, 'SignerCertificateExpiring')).toMatchObject({
      status: 'True',
      reason: 'SignerExpiresSoon',
    });
    expect(get({ ...healthy, signerNotAfter: now + 24 * H }, 'SignerCertificateExpiring').message).toContain('CN=OCSP Signer');
    expect(get({ ...healthy, issuerNotAfter: now + 10 * 24 * H }, 'SignerCertificateExpiring').message).toContain('issuer');
    expect(get({ ...healthy, outlivingTheirSigner: 3 }, 'SignerCertificateExpiring').message).toContain('3 responses');
  });

  it('replication names the replicas out of rotation', () => {
    const c = get(
      {
        ...healthy,
        replicas: [
          { name: 'r1', lagMs: 100, detached: false },
          { name: 'r2', lagMs: 60_000, detached: false },
          { name: 'r3', lagMs: 0, detached: true },
        ],
      },
      'Replicated',
    );
    expect(c).toMatchObject({ status: 'False', reason: 'ReplicaLagging' });
    expect(c.message).toContain('r2 (1m behind)');
    expect(c.message).toContain('r3 (not replicating)');
    expect(c.message).not.toContain('r1');
  });

  it('new certificates waiting past the target', () => {
    expect(
      get({ ...healthy, missing: 2, oldestMissing: { serial: 'ff01', since: now - 6 * 60_000 } }, 'NewCertificatesServed'),
    ).toMatchObject({ status: 'False', reason: 'NewCertificateWaiting' });
    expect(get({ ...healthy, missing: 2, oldestMissing: { serial: 'ff01', since: now - 60_000 } }, 'NewCertificatesServed').status).toBe(
      'True',
    );
  });
});

// Each threshold of spec.thresholds (and the replication lag of spec.responder) on a moved clock:
// the same observation, the clock just before the threshold and just after it.
describe('each threshold on a moved clock', () => {
  const S = 1000;
  const at = (o: PoolObservation, ms: number) => ({ ...o, now: ms });
  const cases: Array<{ threshold: string; type: string; bad: string; observation: PoolObservation; crossesAt: number }> = [
    {
      threshold: 'freshnessWarningAge',
      type: T.Fresh,
      bad: R.ResponsesStale,
      observation: healthy,
      crossesAt: healthy.oldestThisUpdate! + t.freshnessWarningAgeMs,
    },
    {
      threshold: 'freshnessCriticalAge',
      type: T.Fresh,
      bad: R.ResponsesCritical,
      observation: { ...healthy, soonestNextUpdate: now + 500 * H },
      crossesAt: healthy.oldestThisUpdate! + t.freshnessCriticalAgeMs,
    },
    {
      threshold: 'signerExpiryWarning',
      type: T.SignerCertificateExpiring,
      bad: R.SignerExpiresSoon,
      observation: healthy,
      crossesAt: healthy.signerNotAfter! - t.signerExpiryWarningMs,
    },
    {
      threshold: 'issuerExpiryWarning',
      type: T.SignerCertificateExpiring,
      bad: R.SignerExpiresSoon,
      observation: { ...healthy, signerNotAfter: undefined },
      crossesAt: healthy.issuerNotAfter! - t.issuerExpiryWarningMs,
    },
    {
      threshold: 'newCertificateTarget',
      type: T.NewCertificatesServed,
      bad: R.NewCertificateWaiting,
      observation: { ...healthy, missing: 1, oldestMissing: { serial: 'ab', since: now } },
      crossesAt: now + t.newCertificateTargetMs,
    },
  ];
  for (const c of cases) {
    it(`${c.threshold}: ${c.type} turns ${c.bad} when the clock passes it`, () => {
      const before = poolConditions(at(c.observation, c.crossesAt - S), t).find((x) => x.type === c.type)!;
      const after = poolConditions(at(c.observation, c.crossesAt + S), t).find((x) => x.type === c.type)!;
      expect(before.reason).not.toBe(c.bad);
      expect(after.reason).toBe(c.bad);
    });
  }

  it('maxReplicationLag: a replica just under it is current, just over it lagging', () => {
    const lag = (ms: number) => get({ ...healthy, replicas: [{ name: 'r1', lagMs: ms, detached: false }] }, T.Replicated).reason;
    expect(lag(t.maxReplicationLagMs)).toBe(R.ReplicasCurrent);
    expect(lag(t.maxReplicationLagMs + S)).toBe(R.ReplicaLagging);
  });
});

describe('Ready from every gating condition', () => {
  it("each gate in its bad state makes Ready False with that gate's reason", () => {
    for (const g of READY_GATES) {
      const c = { type: g.type, status: g.bad, reason: 'SomeReason', message: 'm' } as const;
      const others = READY_GATES.filter((o) => o.type !== g.type).map(
        (o) => ({ type: o.type, status: o.bad === 'True' ? 'False' : 'True', reason: 'Fine', message: 'ok' }) as const,
      );
      expect(readyFrom([...others, c], 1), g.type).toMatchObject({ status: 'False', reason: 'SomeReason' });
    }
  });

  it('SourcesReadable=False makes Ready False', () => {
    const conditions = [
      ...poolConditions(healthy, t).filter((c) => c.type !== T.Ready),
      { type: T.SourcesReadable, status: 'False' as const, reason: R.SourceProblem, message: 'ConfigMap ca-db not found' },
    ];
    expect(readyFrom(conditions, 1000)).toMatchObject({ status: 'False', reason: R.SourceProblem });
  });
});
