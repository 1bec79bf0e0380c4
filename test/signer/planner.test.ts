// The planner's order and counts, on hand-made certificates and responses.
import { describe, expect, it } from 'vitest';
import type { CertificateInfo } from '../../src/ca-db/index-txt.js';
import { createPlanner, type ResponseInfo } from '../../src/signer/planner.js';

const H = 3_600_000;
const NOW = Date.UTC(2026, 0, 10);
const policy = { refreshAgeMs: 72 * H, responseValidityMs: 168 * H, currentSignerSerial: 'cur' as string | undefined };
const cert = (serial: string, o: Partial<CertificateInfo> = {}): CertificateInfo => ({ serial, notAfter: NOW + 90 * 24 * H, ...o });
const resp = (serial: string, ageH: number, o: Partial<ResponseInfo> = {}): ResponseInfo => ({
  serial,
  thisUpdate: NOW - ageH * H,
  nextUpdate: NOW - ageH * H + 168 * H,
  status: 'good',
  signerSerial: 'cur',
  signerNotAfter: NOW + 60 * 24 * H,
  ...o,
});

describe('planner', () => {
  it('orders status changes, then new certificates, then oldest refreshes, then signer moves; skips expired and fresh', () => {
    const certs = [
      cert('01'), // fresh: nothing to do
      cert('02'), // new
      cert('03'), // refresh, 80h old
      cert('04', { revoked: { time: NOW - 2 * H, reason: 'keyCompromise' } }), // revoked, response good
      cert('05'), // refresh, 100h old (older: first among refreshes)
      cert('06'), // signed by a retired signer
      cert('07', { notAfter: NOW - 1 }), // expired: skipped even without a response
      cert('08', { revoked: { time: NOW - 5 * H } }), // revoked, no response at all
      cert('09'), // response says revoked, certificate no longer is (hold lifted)
      cert('0a'), // current signer expires before nextUpdate
      cert('0b', { revoked: { time: NOW - 9 * H } }), // revoked and already answered revoked: nothing
      cert('0c'), // fresh by age, but inside the margin before nextUpdate (validity - refreshAge = 96h)
    ];
    const responses = new Map(
      [
        resp('01', 1),
        resp('03', 80),
        resp('04', 10),
        resp('05', 100),
        resp('06', 5, { signerSerial: 'old', signerNotAfter: NOW + 20 * 24 * H }),
        resp('09', 3, { status: 'revoked' }),
        resp('0a', 2, { signerNotAfter: NOW + 24 * H }),
        resp('0b', 4, { status: 'revoked' }),
        resp('0c', 10, { nextUpdate: NOW + 90 * H }),
      ].map((r) => [r.serial, r]),
    );
    const p = createPlanner(certs, responses, policy);
    expect(p.plan(NOW).map((w) => `${w.reason}:${w.serial}`)).toEqual([
      'status:08', // revocations by revocation time, oldest first
      'status:04',
      'status:09',
      'new:02',
      'refresh:05',
      'refresh:03',
      'refresh:0c',
      'signer:0a', // soonest signer expiry first
      'signer:06',
    ]);
    expect(p.plan(NOW)[0]).toEqual({ serial: '08', reason: 'status', revoked: { time: NOW - 5 * H } });
    expect(p.plan(NOW, 2).map((w) => w.serial)).toEqual(['08', '04']);
    expect(p.backlog(NOW)).toEqual({
      certificates: 11,
      due: 9,
      missing: 2,
      status: 3,
      refresh: 3,
      signer: 2,
      revoked: 3,
      oldestAgeMs: 100 * H,
      oldestSerial: '05',
      nextChangeAt: NOW + 68 * H, // 0b, answered 4 h ago, turns due at refreshAge (72 h)
    });
  });

  it('a response signed by the issuer is "retired" once a delegated signer is current, and current when none is', () => {
    const certs = [cert('01')];
    const responses = new Map([['01', resp('01', 1, { signerSerial: undefined })]]);
    expect(
      createPlanner(certs, responses, policy)
        .plan(NOW)
        .map((w) => w.reason),
    ).toEqual(['signer']);
    expect(createPlanner(certs, responses, { ...policy, currentSignerSerial: undefined }).plan(NOW)).toEqual([]);
  });

  it('time moves work in: nothing due, then everything due at refreshAge', () => {
    const certs = [cert('01'), cert('02')];
    const responses = new Map([resp('01', 0), resp('02', 0)].map((r) => [r.serial, r]));
    const p = createPlanner(certs, responses, policy);
    expect(p.backlog(NOW).due).toBe(0);
    expect(p.backlog(NOW).nextChangeAt).toBe(NOW + 72 * H);
    expect(p.backlog(NOW + 72 * H - 1).due).toBe(0);
    expect(p.backlog(NOW + 72 * H).due).toBe(2);
  });

  it('says when the plan next changes: a response reaching its margin, a certificate expiring', () => {
    const responses = new Map([resp('01', 0, { nextUpdate: NOW + 100 * H }), resp('02', 0)].map((r) => [r.serial, r]));
    // 01 enters the margin (validity - refreshAge = 96 h) before it reaches refreshAge
    expect(createPlanner([cert('01'), cert('02')], responses, policy).backlog(NOW).nextChangeAt).toBe(NOW + 4 * H);
    // 03 expires in 2 h: the counts change then, though nothing turns due
    const expiring = createPlanner([cert('01'), cert('02'), cert('03', { notAfter: NOW + 2 * H })], responses, policy).backlog(NOW);
    expect(expiring.nextChangeAt).toBe(NOW + 2 * H);
    expect(createPlanner([], responses, policy).backlog(NOW).nextChangeAt).toBe(Infinity);
  });

  it('shards split the certificates without overlap', () => {
    const certs = Array.from({ length: 1000 }, (_, i) => cert(i.toString(16)));
    const parts = [0, 1, 2].map((index) =>
      createPlanner(certs, new Map(), { ...policy, shard: { index, count: 3 } })
        .plan(NOW)
        .map((w) => w.serial),
    );
    expect(parts.flat().sort()).toEqual(certs.map((c) => c.serial).sort());
    for (const p of parts) expect(p.length).toBeGreaterThan(250);
  });
});
