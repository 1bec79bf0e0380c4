// Rounds at rest cost nothing per certificate: when the source hands back the very same list and
// the last round left nothing due, the signer answers from what it knows (evaluated: 0) until a
// response ages into its refresh window, a certificate expires or the list changes. Software P-256
// key, the real embedded store, a ManualClock.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/base/clock.js';
import type { CertificateInfo } from '../../src/ca-db/index-txt.js';
import { softwareSigner } from '../../src/ocsp/index.js';
import { ResponseSigner, type RoundResult } from '../../src/signer/signer.js';
import { EmbeddedStore } from '../../src/store/index.js';
import { createCa, type Ca } from '../support/pki.js';

const H = 3_600_000;
const N = 5_000;
let ca: Ca;
let dir: string;

beforeAll(async () => {
  ca = await createCa({ keyAlg: 'P-256' });
  dir = await mkdtemp(join(tmpdir(), 'ocsp-quiet-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a signer at rest', () => {
  it('skips the planner while nothing changed and nothing is due, and plans again when something is', async () => {
    const clock = new ManualClock(Date.UTC(2026, 11, 1));
    const start = clock.now();
    const cert = (i: number, notAfter = start + 90 * 24 * H): CertificateInfo => ({ serial: (0x10000 + i).toString(16), notAfter });
    // One certificate expires 30 h in: the counts must change then, though nothing turns due.
    let list: CertificateInfo[] = [...Array.from({ length: N - 1 }, (_, i) => cert(i)), cert(N, start + 30 * H)];
    let reads = 0;
    const store = await EmbeddedStore.open({ path: join(dir, 'responses.log') });
    const signer = new ResponseSigner({
      issuer: ca.cert,
      identity: { signer: softwareSigner(ca.keyObject) },
      certificates: () => (reads++, list),
      store,
      responseValidityMs: 168 * H,
      refreshAgeMs: 72 * H,
      // No periodic re-read of the store (a new view, so a full plan) within the test's days:
      // what ends the quiet here is time and the list alone.
      rescanEveryMs: 1_000 * H,
      clock,
    });

    const first = await signer.runOnce();
    expect(first).toMatchObject({ signed: N, evaluated: N, after: { due: 0, certificates: N, nextChangeAt: start + 30 * H } });

    clock.advance(1 * H);
    const quiet = await signer.runOnce();
    expect(reads).toBe(2); // it did look: the source was read
    expect(quiet).toMatchObject({ planned: 0, signed: 0, evaluated: 0, after: { due: 0, certificates: N } });
    expect(quiet.after.oldestAgeMs).toBe(first.after.oldestAgeMs! + 1 * H);

    // The same list, one more certificate: a new array says it changed.
    list = [...list, cert(N + 1)];
    const added = await signer.runOnce();
    expect(added).toMatchObject({ signed: 1, byReason: { new: 1 }, evaluated: N + 1, after: { due: 0, certificates: N + 1 } });
    expect((await signer.runOnce()).evaluated).toBe(0);

    // A revocation is a changed list too.
    list = list.map((c) => (c.serial === cert(7).serial ? { ...c, revoked: { time: clock.now(), reason: 'keyCompromise' } } : c));
    expect(await signer.runOnce()).toMatchObject({ signed: 1, byReason: { status: 1 }, evaluated: N + 1 });
    expect(store.get(signer.issuerId, cert(7).serial)?.status).toBe('revoked');

    // 30 h: a certificate expires; the plan runs (the counts change) and finds nothing to sign.
    clock.advance(start + 30 * H - clock.now());
    expect(await signer.runOnce()).toMatchObject({ signed: 0, evaluated: N + 1, after: { certificates: N, due: 0 } });
    clock.advance(1 * H);
    expect((await signer.runOnce()).evaluated).toBe(0);

    // refreshAge after the first signatures: the first round's responses are due again, but for
    // the expired certificate's and the revoked one's (signed an hour later).
    clock.advance(start + 72 * H - clock.now());
    const refresh = await signer.runOnce();
    expect(refresh).toMatchObject({ evaluated: N + 1, byReason: { refresh: N - 2 } });
    await store.close();
  });

  it('a backlog larger than a round is planned once and signed slice by slice, the counts kept exact', async () => {
    const clock = new ManualClock(Date.UTC(2026, 11, 1));
    const start = clock.now();
    const list: CertificateInfo[] = Array.from({ length: N }, (_, i) => ({
      serial: (0x20000 + i).toString(16),
      notAfter: start + 90 * 24 * H,
    }));
    let current = list;
    const store = await EmbeddedStore.open({ path: join(dir, 'slices.log') });
    const signer = new ResponseSigner({
      issuer: ca.cert,
      identity: { signer: softwareSigner(ca.keyObject) },
      certificates: () => current,
      store,
      responseValidityMs: 168 * H,
      refreshAgeMs: 72 * H,
      maxPerRound: 1_000,
      rescanEveryMs: 1_000 * H,
      clock,
    });
    /** The counts a round derived, against a full look at every certificate and response. */
    const round = async () => {
      const r = await signer.runOnce();
      const { nextChangeAt: _a, ...derived } = r.after;
      const { nextChangeAt: _b, ...full } = signer.backlog(clock.now());
      expect(derived).toEqual(full);
      return r;
    };
    const fill: RoundResult[] = [];
    for (let i = 0; i < 6; i++) fill.push(await round());
    expect(fill.map((r) => [r.evaluated, r.signed, r.after.due, r.after.missing])).toEqual([
      [N, 1_000, 4_000, 4_000],
      [0, 1_000, 3_000, 3_000],
      [0, 1_000, 2_000, 2_000],
      [0, 1_000, 1_000, 1_000],
      [0, 1_000, 0, 0],
      [0, 0, 0, 0], // at rest
    ]);

    // A refresh wave re-signs the oldest first (so each slice looks at every response again for
    // the oldest one); a certificate added in mid-wave is a changed list: planned again, and
    // signed first (new before refresh).
    clock.advance(72 * H);
    const wave: RoundResult[] = [await round(), await round()];
    current = [...list, { serial: 'abcdef1', notAfter: start + 90 * 24 * H }];
    for (let i = 0; i < 4; i++) wave.push(await round());
    expect(wave.map((r) => [r.evaluated, r.signed, r.byReason.new, r.after.due])).toEqual([
      [N, 1_000, 0, 4_000],
      [0, 1_000, 0, 3_000],
      [N + 1, 1_000, 1, 2_001],
      [0, 1_000, 0, 1_001],
      [0, 1_000, 0, 1],
      [0, 1, 0, 0],
    ]);
    await store.close();
  });
});
