// What keeps a pod's report quiet at rest (lag below the heartbeat's sawtooth is 0, instants to
// the second, rates to two figures, `time` ignored) and which reports count by the EndpointSlices.
import { describe, expect, it } from 'vitest';
import { countedReports, endpointPods, LABEL_SERVICE_NAME, type EndpointSlice } from '../../src/pool/liveness.js';
import { lagBucketMs, quantizeReport, sameReport, type Report } from '../../src/report/protocol.js';

describe('a report says something new only when what it says changed', () => {
  it('lag: the sawtooth under 2 s is 0; above, the lower bound of a 1-2-5 bucket', () => {
    expect([0, 250, 1_100, 1_999].map(lagBucketMs)).toEqual([0, 0, 0, 0]);
    expect([2_000, 4_999, 5_000, 9_999, 10_000, 19_000, 60_000, 150_000].map(lagBucketMs)).toEqual([
      2_000, 2_000, 5_000, 5_000, 10_000, 10_000, 50_000, 100_000,
    ]);
    expect(lagBucketMs(Infinity)).toBeGreaterThan(0);
  });

  it('two looks at a pod at rest are the same report; a new figure is not', () => {
    const look = (now: number, lagMs: number): Report =>
      quantizeReport({ kind: 'responder', pod: 'p', time: now, ready: true, lagMs, detached: false });
    expect(sameReport(look(1_000, 120), look(3_000, 930))).toBe(true);
    expect(sameReport(look(1_000, 120), look(3_000, 12_000))).toBe(false);
    const signer = (now: number, over: Partial<Extract<Report, { kind: 'signer' }>> = {}): Report =>
      quantizeReport({
        kind: 'signer',
        pod: 's',
        time: now,
        certificates: 10,
        due: 0,
        missing: 0,
        revoked: 0,
        oldestThisUpdate: 1_700_000_000_000 + (now % 7),
        rate: 2348.7,
        outlivingTheirSigner: 0,
        ...over,
      });
    expect(sameReport(signer(1_001), signer(5_004, { rate: 2_310 }))).toBe(true);
    expect(sameReport(signer(1_001), signer(5_004, { due: 1 }))).toBe(false);
  });
});

describe('which reports count: the EndpointSlices, where there are any', () => {
  const slice = (service: string, endpoints: Array<[string, boolean]>): EndpointSlice => ({
    metadata: { name: `${service}-x`, labels: { [LABEL_SERVICE_NAME]: service } },
    endpoints: endpoints.map(([name, ready]) => ({ conditions: { ready }, targetRef: { kind: 'Pod', name } })),
  });
  const reports = {
    signers: [
      { kind: 'signer' as const, pod: 'pool-signer-0', time: 0, certificates: 1, due: 0, missing: 0, revoked: 0, outlivingTheirSigner: 0 },
    ],
    responders: [
      { kind: 'responder' as const, pod: 'r-a', time: 0, ready: true, lagMs: 0, detached: false },
      { kind: 'responder' as const, pod: 'r-gone', time: 0, ready: true, lagMs: 0, detached: false },
    ],
    unreadable: [],
  };

  it('no slice: the reports as written', () => {
    const c = countedReports(reports, { responders: endpointPods([], 'pool'), signers: endpointPods([], 'pool-signer'), embedded: false });
    expect(c.responders.map((r) => r.pod)).toEqual(['r-a', 'r-gone']);
    expect(c.signers).toHaveLength(1);
    expect(c.source).toEqual({ responders: 'reports', signers: 'reports' });
  });

  it("slices: a pod that is no endpoint does not count, readiness is the endpoint's, an unready signer does not count", () => {
    const slices = [slice('pool', [['r-a', false]]), slice('pool-signer', [['pool-signer-0', false]])];
    const c = countedReports(reports, {
      responders: endpointPods(slices, 'pool'),
      signers: endpointPods(slices, 'pool-signer'),
      embedded: false,
    });
    expect(c.responders).toEqual([expect.objectContaining({ pod: 'r-a', ready: false })]);
    expect(c.signers).toEqual([]);
  });
});
