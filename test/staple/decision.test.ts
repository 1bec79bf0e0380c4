// The lockstep decision (src/staple/decision.ts) as a table: what the staple Secret publishes for
// every combination the reconciler meets (what is published, the certificate the source holds,
// the refresh attempt's answer), with real certificates and real signed OCSP responses judged by
// the real validation. Each row names its case; every row also checks the invariant itself: a
// staple that is published validates for the certificate beside it.
import { beforeAll, describe, expect, it } from 'vitest';
import { API_GROUP_VERSION, KIND_STAPLE } from '../../src/api/group.js';
import { parseOcspStaple, type OcspStapleSpec, type OcspStapleStatus } from '../../src/api/staple.js';
import { formatDateTime as iso } from '../../src/api/time.js';
import {
  certIdFor,
  errorResponse,
  signOcspResponse,
  softwareSigner,
  validateOcspResponse,
  type ValidatedResponse,
} from '../../src/ocsp/index.js';
import type { ResponseEntryStatus } from '../../src/ocsp/sign.js';
import type { Secret } from '../../src/kube/types.js';
import {
  decide,
  heldStaple,
  judgeResponse,
  nextLook,
  pairOf,
  publishedStaple,
  refreshDue,
  responseChecks,
  type Attempt,
  type Decision,
  type PublishAction,
} from '../../src/staple/decision.js';
import { readCertificateSecret, tlsCrtPem, type SourceCertificate } from '../../src/staple/source.js';
import { buildStapleSecret, readPublished, type Publication } from '../../src/staple/staple-secret.js';
import { createCa, issueLeaf, issueResponderCert, type Ca, type Issued } from '../support/pki.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
// Whole seconds: OCSP times are GeneralizedTime without fractions.
const NOW = Math.floor(Date.now() / 1000) * 1000;
const URL = 'http://127.0.0.1:9/ocsp';

function specWith(spec: Record<string, unknown> = {}): OcspStapleSpec {
  const parsed = parseOcspStaple({
    apiVersion: API_GROUP_VERSION,
    kind: KIND_STAPLE,
    metadata: { name: 's', namespace: 'ns' },
    spec: { secretName: 'tls', ...spec },
  });
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.value.spec;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const tlsSecret = (leaf: Issued, keyPem = leaf.keyPem): Secret => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'tls', namespace: 'ns' },
  data: { 'tls.crt': b64(leaf.chainPem), 'tls.key': b64(keyPem) },
});

function source(secret: Secret, at = NOW): SourceCertificate {
  const r = readCertificateSecret(secret, 'ns/tls', at);
  if (!r.ok) throw new Error(r.message);
  return r.source;
}

interface Fixtures {
  ca: Ca;
  /** the certificate before renewal, and the renewed one */
  a: SourceCertificate;
  b: SourceCertificate;
  /** a previous certificate that has expired since */
  expiredPrev: SourceCertificate;
  /** the certificate Secret whose key is not the certificate's */
  keyMismatch: Secret;
  res: Record<string, Uint8Array>;
}

let f: Fixtures;

beforeAll(async () => {
  const ca = await createCa();
  const other = await createCa();
  const leafA = await issueLeaf(ca, { ocspUrl: URL, notAfter: new Date(NOW + 30 * DAY) });
  const leafB = await issueLeaf(ca, { ocspUrl: URL, notAfter: new Date(NOW + 60 * DAY) });
  const leafOld = await issueLeaf(ca, { ocspUrl: URL, notBefore: new Date(NOW - 90 * DAY), notAfter: new Date(NOW - HOUR) });
  const stranger = await issueLeaf(ca, { ocspUrl: URL, freshKey: true });
  const signer = softwareSigner(ca.keyObject);
  const sign = (leaf: Issued, status: ResponseEntryStatus, thisUpdate: number, nextUpdate: number, by: Ca = ca) =>
    signOcspResponse({
      issuer: by.cert,
      signer: by === ca ? signer : softwareSigner(by.keyObject),
      entries: [{ certId: certIdFor(leaf.cert, ca.cert), status, thisUpdate: new Date(thisUpdate), nextUpdate: new Date(nextUpdate) }],
      producedAt: new Date(thisUpdate),
    });
  const good = { kind: 'good' } as const;
  const res: Record<string, Uint8Array> = {
    goodA: await sign(leafA, good, NOW - HOUR, NOW + 3 * DAY),
    newerA: await sign(leafA, good, NOW - 10 * MIN, NOW + 4 * DAY),
    olderA: await sign(leafA, good, NOW - 2 * HOUR, NOW + 2 * DAY),
    expiredA: await sign(leafA, good, NOW - 4 * DAY, NOW - HOUR),
    futureA: await sign(leafA, good, NOW + HOUR, NOW + 4 * DAY),
    otherCaA: await sign(leafA, good, NOW - HOUR, NOW + 3 * DAY, other),
    revokedA: await sign(
      leafA,
      { kind: 'revoked', revocationTime: new Date(NOW - DAY), reason: 'keyCompromise' },
      NOW - 5 * MIN,
      NOW + 3 * DAY,
    ),
    unknownA: await sign(leafA, { kind: 'unknown' }, NOW - 5 * MIN, NOW + 3 * DAY),
    goodB: await sign(leafB, good, NOW - HOUR, NOW + 3 * DAY),
    goodOld: await sign(leafOld, good, NOW - HOUR, NOW + 3 * DAY),
    tryLater: errorResponse('tryLater'),
    html: new Uint8Array(Buffer.from('<html><body>captive portal</body></html>')),
  };
  f = {
    ca,
    a: source(tlsSecret(leafA)),
    b: source(tlsSecret(leafB)),
    expiredPrev: source(tlsSecret(leafOld), NOW - 2 * DAY) /* read while it was valid */,
    keyMismatch: tlsSecret(leafA, stranger.keyPem),
    res,
  };
});

/** A staple Secret as the reconciler writes it, read back the way it reads it. */
function publishedOf(cert: SourceCertificate, staple?: { der: Uint8Array; thisUpdate: number; nextUpdate: number }): Publication {
  const s = staple && {
    der: staple.der,
    thisUpdate: iso(new Date(staple.thisUpdate)),
    nextUpdate: iso(new Date(staple.nextUpdate)),
    usableUntil: iso(new Date(Math.min(staple.nextUpdate, cert.leaf.notAfter.getTime()))),
  };
  const secret = buildStapleSecret({
    namespace: 'ns',
    name: 'tls-ocsp',
    owner: { name: 's', uid: 'u' },
    published: { pair: pairOf(cert), staple: s },
  });
  const p = readPublished(secret);
  if (!p) throw new Error('unreadable staple Secret');
  return p;
}

type Cert = 'a' | 'b' | 'expiredPrev';
/** a response in Fixtures['res'], by name */
type Res = string;
const WINDOWS: Record<string, [number, number]> = {
  goodA: [NOW - HOUR, NOW + 3 * DAY],
  expiredA: [NOW - 4 * DAY, NOW - HOUR],
  unknownA: [NOW - 5 * MIN, NOW + 3 * DAY],
  goodB: [NOW - HOUR, NOW + 3 * DAY],
  goodOld: [NOW - HOUR, NOW + 3 * DAY],
};

interface Row {
  name: string;
  /** what the staple Secret publishes: a certificate, and the response stapled to it */
  published?: { cert: Cert; staple?: Res };
  /** the certificate Secret: a certificate, or one that cannot be read (its key is another) */
  source: Cert | 'keyMismatch';
  /** no AIA OCSP URL and no spec.responderURL */
  noResponder?: boolean;
  spec?: Record<string, unknown>;
  /** this reconcile's attempt: a responder's answer (judged for real), a fetch failure, or none (not due) */
  answer?: Res | { fetchFailed: string };
  expect: {
    action: PublishAction;
    /** the attempt's verdict: 'ok' or its failure reason */
    attempt?: string;
    /** the certificate the Secret is to publish, and its staple (null: none) */
    pair?: Cert;
    staple?: Res | null;
    write: boolean;
    removedExpired?: boolean;
  };
}

const rows: Row[] = [
  // first look
  {
    name: 'first look: a good response is published with its certificate',
    source: 'a',
    answer: 'goodA',
    expect: { action: 'PublishStaple', attempt: 'ok', pair: 'a', staple: 'goodA', write: true },
  },
  {
    name: 'first look, responder unreachable: the certificate goes out alone',
    source: 'a',
    answer: { fetchFailed: 'ResponderUnreachable' },
    expect: { action: 'PublishWithoutStaple', pair: 'a', staple: null, write: true },
  },
  {
    name: 'first look, tryLater: the certificate goes out alone',
    source: 'a',
    answer: 'tryLater',
    expect: { action: 'PublishWithoutStaple', attempt: 'TryLater', pair: 'a', staple: null, write: true },
  },
  // steady state
  {
    name: 'not due, staple held: nothing to write',
    published: { cert: 'a', staple: 'goodA' },
    source: 'a',
    expect: { action: 'KeepStaple', pair: 'a', staple: 'goodA', write: false },
  },
  {
    name: 'a newer response replaces the held one',
    published: { cert: 'a', staple: 'goodA' },
    source: 'a',
    answer: 'newerA',
    expect: { action: 'PublishStaple', attempt: 'ok', pair: 'a', staple: 'newerA', write: true },
  },
  {
    name: 'the same response again: nothing to write',
    published: { cert: 'a', staple: 'goodA' },
    source: 'a',
    answer: 'goodA',
    expect: { action: 'PublishStaple', attempt: 'ok', pair: 'a', staple: 'goodA', write: false },
  },
  // bad answers never replace a good staple
  {
    name: 'responder times out: the good staple stays',
    published: { cert: 'a', staple: 'goodA' },
    source: 'a',
    answer: { fetchFailed: 'ResponderTimeout' },
    expect: { action: 'KeepStaple', pair: 'a', staple: 'goodA', write: false },
  },
  {
    name: 'tryLater: the good staple stays',
    published: { cert: 'a', staple: 'goodA' },
    source: 'a',
    answer: 'tryLater',
    expect: { action: 'KeepStaple', attempt: 'TryLater', pair: 'a', staple: 'goodA', write: false },
  },
  {
    name: 'an older response (NotNewer): the held one stays',
    published: { cert: 'a', staple: 'goodA' },
    source: 'a',
    answer: 'olderA',
    expect: { action: 'KeepStaple', attempt: 'NotNewer', pair: 'a', staple: 'goodA', write: false },
  },
  {
    name: 'an expired response: refused, the good staple stays',
    published: { cert: 'a', staple: 'goodA' },
    source: 'a',
    answer: 'expiredA',
    expect: { action: 'KeepStaple', attempt: 'Expired', pair: 'a', staple: 'goodA', write: false },
  },
  {
    name: 'a response from the future: refused, the good staple stays',
    published: { cert: 'a', staple: 'goodA' },
    source: 'a',
    answer: 'futureA',
    expect: { action: 'KeepStaple', attempt: 'NotYetValid', pair: 'a', staple: 'goodA', write: false },
  },
  {
    name: 'a response signed by another CA: refused, the good staple stays',
    published: { cert: 'a', staple: 'goodA' },
    source: 'a',
    answer: 'otherCaA',
    expect: { action: 'KeepStaple', attempt: 'SignerNotAuthorized', pair: 'a', staple: 'goodA', write: false },
  },
  {
    name: 'a response for another certificate: refused, the good staple stays',
    published: { cert: 'a', staple: 'goodA' },
    source: 'a',
    answer: 'goodB',
    expect: { action: 'KeepStaple', attempt: 'CertIdMismatch', pair: 'a', staple: 'goodA', write: false },
  },
  {
    name: 'HTML from a captive proxy: refused, the good staple stays',
    published: { cert: 'a', staple: 'goodA' },
    source: 'a',
    answer: 'html',
    expect: { action: 'KeepStaple', attempt: 'NotOcsp', pair: 'a', staple: 'goodA', write: false },
  },
  // revoked and unknown
  {
    name: 'revoked: the truthful revoked response replaces the good one',
    published: { cert: 'a', staple: 'goodA' },
    source: 'a',
    answer: 'revokedA',
    expect: { action: 'PublishStaple', attempt: 'ok', pair: 'a', staple: 'revokedA', write: true },
  },
  {
    name: 'unknown: refused by default, the good staple stays',
    published: { cert: 'a', staple: 'goodA' },
    source: 'a',
    answer: 'unknownA',
    expect: { action: 'KeepStaple', attempt: 'ResponderSaysUnknown', pair: 'a', staple: 'goodA', write: false },
  },
  {
    name: 'unknown with nothing held: the certificate goes out alone',
    source: 'a',
    answer: 'unknownA',
    expect: { action: 'PublishWithoutStaple', attempt: 'ResponderSaysUnknown', pair: 'a', staple: null, write: true },
  },
  {
    name: 'publishUnknown: the unknown response is published',
    source: 'a',
    spec: { publishUnknown: true },
    answer: 'unknownA',
    expect: { action: 'PublishStaple', attempt: 'ok', pair: 'a', staple: 'unknownA', write: true },
  },
  {
    name: 'publishUnknown, a published unknown: it stays',
    published: { cert: 'a', staple: 'unknownA' },
    source: 'a',
    spec: { publishUnknown: true },
    expect: { action: 'KeepStaple', pair: 'a', staple: 'unknownA', write: false },
  },
  {
    name: 'publishUnknown turned off: the published unknown is taken down (not as expired)',
    published: { cert: 'a', staple: 'unknownA' },
    source: 'a',
    answer: 'unknownA',
    expect: {
      action: 'PublishWithoutStaple',
      attempt: 'ResponderSaysUnknown',
      pair: 'a',
      staple: null,
      write: true,
      removedExpired: false,
    },
  },
  // expiry
  {
    name: 'the staple passed its usable-until and the refresh fails: removed, the certificate stays',
    published: { cert: 'a', staple: 'expiredA' },
    source: 'a',
    answer: 'tryLater',
    expect: { action: 'RemoveExpiredStaple', attempt: 'TryLater', pair: 'a', staple: null, write: true, removedExpired: true },
  },
  {
    name: 'the staple passed its usable-until and a new one arrives: published',
    published: { cert: 'a', staple: 'expiredA' },
    source: 'a',
    answer: 'goodA',
    expect: { action: 'PublishStaple', attempt: 'ok', pair: 'a', staple: 'goodA', write: true },
  },
  {
    name: "the Secret staples another certificate's response beside this one: taken down",
    published: { cert: 'a', staple: 'goodB' },
    source: 'a',
    answer: { fetchFailed: 'ResponderUnreachable' },
    expect: { action: 'RemoveExpiredStaple', pair: 'a', staple: null, write: true, removedExpired: true },
  },
  // renewal
  {
    name: 'renewal with a good staple for the new certificate: the new pair with its staple',
    published: { cert: 'a', staple: 'goodA' },
    source: 'b',
    answer: 'goodB',
    expect: { action: 'PublishStaple', attempt: 'ok', pair: 'b', staple: 'goodB', write: true },
  },
  {
    name: 'renewal, the responder answers for the previous certificate: never stapled to the new one (KeepPreviousPair)',
    published: { cert: 'a', staple: 'goodA' },
    source: 'b',
    answer: 'goodA',
    expect: { action: 'KeepPreviousPair', attempt: 'CertIdMismatch', pair: 'a', staple: 'goodA', write: false },
  },
  {
    name: 'renewal, the responder answers for the previous certificate: never stapled to the new one (PublishWithoutStaple)',
    published: { cert: 'a', staple: 'goodA' },
    source: 'b',
    spec: { onRenewal: 'PublishWithoutStaple' },
    answer: 'goodA',
    expect: { action: 'PublishWithoutStaple', attempt: 'CertIdMismatch', pair: 'b', staple: null, write: true },
  },
  {
    name: 'renewal, no staple obtainable, KeepPreviousPair: the previous pair stays',
    published: { cert: 'a', staple: 'goodA' },
    source: 'b',
    answer: 'tryLater',
    expect: { action: 'KeepPreviousPair', attempt: 'TryLater', pair: 'a', staple: 'goodA', write: false },
  },
  {
    name: 'renewal, no staple obtainable, PublishWithoutStaple: the new certificate alone',
    published: { cert: 'a', staple: 'goodA' },
    source: 'b',
    spec: { onRenewal: 'PublishWithoutStaple' },
    answer: 'tryLater',
    expect: { action: 'PublishWithoutStaple', attempt: 'TryLater', pair: 'b', staple: null, write: true },
  },
  {
    name: 'renewal, KeepPreviousPair, the previous staple expired: the previous certificate stays without it',
    published: { cert: 'a', staple: 'expiredA' },
    source: 'b',
    answer: 'tryLater',
    expect: { action: 'KeepPreviousPair', attempt: 'TryLater', pair: 'a', staple: null, write: true },
  },
  {
    name: 'renewal, KeepPreviousPair, the previous pair had no staple: it stays',
    published: { cert: 'a' },
    source: 'b',
    answer: 'tryLater',
    expect: { action: 'KeepPreviousPair', attempt: 'TryLater', pair: 'a', staple: null, write: false },
  },
  {
    name: 'renewal, KeepPreviousPair, the previous certificate expired: the new one goes out alone',
    published: { cert: 'expiredPrev', staple: 'goodOld' },
    source: 'b',
    answer: 'tryLater',
    expect: { action: 'PublishWithoutStaple', attempt: 'TryLater', pair: 'b', staple: null, write: true },
  },
  // the source cannot be read
  {
    name: 'key mismatch: the published pair and its staple stay',
    published: { cert: 'a', staple: 'goodA' },
    source: 'keyMismatch',
    expect: { action: 'KeepPublished', pair: 'a', staple: 'goodA', write: false },
  },
  {
    name: 'key mismatch, the published staple expired: removed, the certificate stays',
    published: { cert: 'a', staple: 'expiredA' },
    source: 'keyMismatch',
    expect: { action: 'RemoveExpiredStaple', pair: 'a', staple: null, write: true },
  },
  { name: 'key mismatch, nothing published: nothing to do', source: 'keyMismatch', expect: { action: 'Nothing', write: false } },
  // no OCSP
  {
    name: 'no OCSP URL (NotApplicable): the certificate alone',
    source: 'a',
    noResponder: true,
    expect: { action: 'PublishWithoutStaple', pair: 'a', staple: null, write: true },
  },
  {
    name: 'no OCSP URL, a staple was published: taken down',
    published: { cert: 'a', staple: 'goodA' },
    source: 'a',
    noResponder: true,
    expect: { action: 'PublishWithoutStaple', pair: 'a', staple: null, write: true },
  },
  {
    name: 'no OCSP URL, already published alone: nothing to write',
    published: { cert: 'a' },
    source: 'a',
    noResponder: true,
    expect: { action: 'PublishWithoutStaple', pair: 'a', staple: null, write: false },
  },
];

/** Runs one row the way the reconciler does: read the source, re-check what is held, judge the answer, decide. */
function run(row: Row): { decision: Decision; attempt?: Attempt } {
  const cert = (c: Cert) => f[c];
  const published =
    row.published &&
    publishedOf(
      cert(row.published.cert),
      row.published.staple
        ? {
            der: f.res[row.published.staple]!,
            thisUpdate: WINDOWS[row.published.staple]![0],
            nextUpdate: WINDOWS[row.published.staple]![1],
          }
        : undefined,
    );
  const spec = specWith(row.spec);
  const src = readCertificateSecret(
    row.source === 'keyMismatch'
      ? f.keyMismatch
      : { data: { 'tls.crt': b64(tlsCrtPem(cert(row.source))), 'tls.key': b64(cert(row.source).keyPem) } },
    'ns/tls',
    NOW,
  );
  if (!src.ok) {
    expect(src.reason).toBe('KeyMismatch');
    return { decision: decide({ now: NOW, published, hasResponder: false, onRenewal: spec.onRenewal }) };
  }
  const current = src.source;
  const checks = responseChecks(current, spec);
  const held = heldStaple({ published, certSha256: current.sha256, checks, now: NOW, publishUnknown: spec.publishUnknown });
  let attempt: Attempt | undefined;
  if (typeof row.answer === 'string') {
    attempt = judgeResponse({
      body: f.res[row.answer]!,
      url: URL,
      serial: current.serial,
      checks,
      now: NOW,
      held: held.response,
      publishUnknown: spec.publishUnknown,
    });
  } else if (row.answer) {
    attempt = { ok: false, reason: row.answer.fetchFailed, message: `responder ${URL}: ${row.answer.fetchFailed}` };
  }
  return {
    decision: decide({
      now: NOW,
      published,
      current: pairOf(current),
      hasResponder: !row.noResponder,
      onRenewal: spec.onRenewal,
      held,
      attempt,
    }),
    attempt,
  };
}

describe('the lockstep decision', () => {
  it.each(rows.map((r) => [r.name, r] as const))('%s', (_name, row) => {
    const { decision, attempt } = run(row);
    const e = row.expect;
    expect(decision.action).toBe(e.action);
    if (e.attempt) expect(attempt?.ok ? 'ok' : attempt?.reason).toBe(e.attempt);
    expect(decision.write).toBe(e.write);
    if (e.removedExpired !== undefined) expect(decision.removedExpired).toBe(e.removedExpired);
    if (!e.pair) {
      expect(decision.desired).toBeUndefined();
      return;
    }
    const desired = decision.desired!;
    expect(desired.pair.sha256).toBe(f[e.pair].sha256);
    if (e.staple === null) expect(desired.staple).toBeUndefined();
    else if (e.staple) expect(Buffer.from(desired.staple!.der).equals(Buffer.from(f.res[e.staple]!))).toBe(true);
    // The invariant: a published staple validates, now, for the certificate published beside it.
    if (desired.staple) {
      const leaf = [f.a, f.b, f.expiredPrev].find((c) => c.sha256 === desired.pair.sha256)!;
      const v = validateOcspResponse(desired.staple.der, { cert: leaf.leaf, issuer: f.ca.cert, now: new Date(NOW) });
      expect(v.ok, v.ok ? '' : v.message).toBe(true);
      expect(Date.parse(desired.staple.usableUntil)).toBeGreaterThan(NOW);
    }
    // served: the response beside the current certificate, exactly when one is published with it
    const servesCurrent = !!desired.staple && row.source !== 'keyMismatch' && desired.pair.sha256 === f[row.source].sha256;
    expect(!!decision.served, 'served').toBe(servesCurrent);
  });

  it('covers every action', () => {
    const actions: PublishAction[] = [
      'PublishStaple',
      'KeepStaple',
      'KeepPreviousPair',
      'PublishWithoutStaple',
      'RemoveExpiredStaple',
      'KeepPublished',
      'Nothing',
    ];
    for (const a of actions)
      expect(
        rows.some((r) => r.expect.action === a),
        a,
      ).toBe(true);
  });
});

describe('when a refresh is due', () => {
  let held: ValidatedResponse;
  beforeAll(() => {
    const v = validateOcspResponse(f.res.goodA!, { cert: f.a.leaf, issuer: f.ca.cert, now: new Date(NOW) });
    if (!v.ok) throw new Error(v.message);
    held = v.response;
  });
  const settled = (o: Partial<OcspStapleStatus> = {}): OcspStapleStatus => ({
    observedGeneration: 1,
    certificate: { serial: '', sha256: 'A' },
    nextRefreshTime: iso(new Date(NOW + HOUR)),
    consecutiveFailures: 0,
    ...o,
  });
  const cases: Array<
    [
      string,
      { prev: OcspStapleStatus; sha?: string; generation?: number; held?: boolean; refresh?: { value: string; notBefore: number } },
      boolean,
    ]
  > = [
    ['planned time not reached, staple held: not due', { prev: settled() }, false],
    ['planned time reached: due', { prev: settled({ nextRefreshTime: iso(new Date(NOW)) }) }, true],
    ['a new certificate: due at once', { prev: settled(), sha: 'B' }, true],
    ['a new spec generation: due at once', { prev: settled(), generation: 2 }, true],
    ['nothing held and no backoff running: due', { prev: settled(), held: false }, true],
    ['nothing held, backoff running: waits for the retry', { prev: settled({ consecutiveFailures: 2 }), held: false }, false],
    ['a refresh request past minInterval: due', { prev: settled(), refresh: { value: 'r', notBefore: NOW - 1 } }, true],
    ['a refresh request within minInterval: waits', { prev: settled(), refresh: { value: 'r', notBefore: NOW + MIN } }, false],
    ['never looked at: due', { prev: {} }, true],
  ];
  it.each(cases)('%s', (_name, c, due) => {
    const r = refreshDue({
      now: NOW,
      prev: c.prev,
      certSha256: c.sha ?? 'A',
      generation: c.generation ?? 1,
      held: c.held === false ? undefined : held,
      refresh: c.refresh,
    });
    expect(r.due).toBe(due);
  });
});

describe('when to look again', () => {
  const validated = (der: Uint8Array, cert: SourceCertificate, issuer = f.ca.cert) => {
    const v = validateOcspResponse(der, { cert: cert.leaf, issuer, now: new Date(NOW), signerMinRemainingMs: 0 });
    if (!v.ok) throw new Error(v.message);
    return v.response;
  };
  const look = (o: {
    failures?: number;
    served?: ValidatedResponse;
    stapleUntil?: number;
    due?: boolean;
    scheduled?: number;
    waiting?: number;
    spec?: Record<string, unknown>;
  }) =>
    nextLook({
      now: NOW,
      spec: specWith(o.spec),
      seedKey: 'uid',
      certSha256: f.a.sha256,
      failures: o.failures ?? 0,
      decision: {
        served: o.served,
        desired: {
          pair: pairOf(f.a),
          staple:
            o.stapleUntil === undefined
              ? undefined
              : { der: new Uint8Array(), thisUpdate: '', nextUpdate: '', usableUntil: iso(new Date(o.stapleUntil)) },
        },
      },
      due: o.due ?? true,
      scheduled: o.scheduled ?? 0,
      waitingRefresh: o.waiting === undefined ? undefined : { value: 'r', notBefore: o.waiting },
    });

  it('a fresh response: refresh half-way through its window (±10% jitter); wake then', () => {
    const r = validated(f.res.goodA!, f.a);
    const l = look({ served: r, stapleUntil: r.usableUntil.getTime() });
    const window = r.nextUpdate.getTime() - r.thisUpdate.getTime();
    const mid = r.thisUpdate.getTime() + window / 2;
    expect(l.nextRefresh).toBeGreaterThanOrEqual(mid - 0.1 * window);
    expect(l.nextRefresh).toBeLessThanOrEqual(mid + 0.1 * window);
    expect(l.wake).toBe(l.nextRefresh);
  });

  it('after failures: the capped backoff, never past the moment the staple must go', () => {
    const l = look({ failures: 1, stapleUntil: NOW + DAY, spec: { refresh: { retryInitial: '30s', retryMax: '5m' } } });
    expect(l.nextRefresh - NOW).toBeGreaterThanOrEqual(0.9 * 30_000);
    expect(l.nextRefresh - NOW).toBeLessThanOrEqual(1.1 * 30_000);
    const capped = look({ failures: 20, stapleUntil: NOW + DAY, spec: { refresh: { retryInitial: '30s', retryMax: '5m' } } });
    expect(capped.nextRefresh - NOW).toBeLessThanOrEqual(1.1 * 300_000);
    const deadline = look({ failures: 20, stapleUntil: NOW + 10_000, spec: { refresh: { retryInitial: '30s', retryMax: '5m' } } });
    expect(deadline.nextRefresh).toBe(NOW + 10_000);
    expect(deadline.wake).toBe(NOW + 10_000);
  });

  it('nothing stapled and no failure: retryInitial', () => {
    expect(look({}).nextRefresh).toBe(NOW + 10_000);
  });

  it('not due: the plan made when the response arrived stands', () => {
    expect(look({ due: false, scheduled: NOW + HOUR }).nextRefresh).toBe(NOW + HOUR);
  });

  it('a refresh request waiting for minInterval: wake when it may be served', () => {
    const l = look({ due: false, scheduled: NOW + HOUR, waiting: NOW + MIN });
    expect(l.nextRefresh).toBe(NOW + HOUR);
    expect(l.wake).toBe(NOW + MIN);
  });

  it('a delegated signer: wake when it enters its warning window, so the condition turns on time', async () => {
    const responder = await issueResponderCert(f.ca, { notBefore: new Date(NOW - DAY), notAfter: new Date(NOW + 10 * DAY) });
    const leaf = f.a.leaf;
    const der = await signOcspResponse({
      issuer: f.ca.cert,
      signer: softwareSigner(responder.keyObject),
      responderCert: responder.cert,
      entries: [
        {
          certId: certIdFor(leaf, f.ca.cert),
          status: { kind: 'good' },
          thisUpdate: new Date(NOW - HOUR),
          nextUpdate: new Date(NOW + 9 * DAY),
        },
      ],
      producedAt: new Date(NOW - HOUR),
    });
    const r = validated(der, f.a);
    expect(r.signer.delegated).toBe(true);
    const l = look({ served: r, stapleUntil: r.usableUntil.getTime(), spec: { signerExpiryWarning: '168h' } });
    expect(l.wake).toBe(NOW + 10 * DAY - 7 * DAY);
    expect(l.nextRefresh).toBeGreaterThan(l.wake);
  });
});

describe('the published staple, re-checked', () => {
  it('held only for the very certificate it was validated for', () => {
    const checksB = responseChecks(f.b, specWith());
    const published = publishedOf(f.a, { der: f.res.goodA!, thisUpdate: WINDOWS.goodA![0], nextUpdate: WINDOWS.goodA![1] });
    expect(heldStaple({ published, certSha256: f.b.sha256, checks: checksB, now: NOW, publishUnknown: false })).toEqual({ refused: false });
    const checksA = responseChecks(f.a, specWith());
    expect(heldStaple({ published, certSha256: f.a.sha256, checks: checksA, now: NOW, publishUnknown: false }).response?.certStatus).toBe(
      'good',
    );
    // and not once its window is over
    expect(
      heldStaple({ published, certSha256: f.a.sha256, checks: checksA, now: NOW + 4 * DAY, publishUnknown: false }).response,
    ).toBeUndefined();
  });

  it('a published staple is the validated response unchanged', () => {
    const v = validateOcspResponse(f.res.goodA!, { cert: f.a.leaf, issuer: f.ca.cert, now: new Date(NOW) });
    if (!v.ok) throw new Error(v.message);
    const s = publishedStaple(v.response);
    expect(Buffer.from(s.der).equals(Buffer.from(f.res.goodA!))).toBe(true);
    expect(s.usableUntil).toBe(iso(v.response.usableUntil));
  });
});
