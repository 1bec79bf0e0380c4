// What to sign next, and how far behind we are. Pure: certificates and the store's current
// responses in, an ordered list of work out; no I/O, no clock of its own.
//
// Order (a certificate appears once, under the first rule it meets):
//   1. status    the certificate is revoked and its response is not (or it has none), or the
//                response says revoked and the certificate no longer is (a lifted hold, a declared
//                revocation withdrawn): a wrong status is the most urgent thing a responder can serve
//   2. new       no response at all (BR: a response within 15 minutes of issuance)
//   3. refresh   the response is refreshAge old, or closer to its nextUpdate than the margin the
//                refresh age implies (validity - refreshAge): oldest thisUpdate first
//   4. signer    signed by a signer certificate that is no longer the current one (rotation: every
//                response must move to the new signer before the old one expires), or that expires
//                before the response's nextUpdate: soonest signer expiry first
// Expired certificates are skipped: nothing is signed for them and they are not counted.
import type { StoredStatus } from '../store/index.js';
import type { CertificateInfo } from '../ca-db/index-txt.js';

export interface ResponseInfo {
  serial: string;
  thisUpdate: number;
  nextUpdate: number;
  status: StoredStatus;
  /** serial of the delegated responder certificate included in the response; undefined: signed by the issuer */
  signerSerial?: string;
  /** notAfter of the certificate that signed it (epoch ms) */
  signerNotAfter: number;
}

export interface PlannerPolicy {
  refreshAgeMs: number;
  responseValidityMs: number;
  /** the signer certificate new responses are signed under: a responder serial, undefined for the issuer itself */
  currentSignerSerial: string | undefined;
  /** this signer's share of the certificates when several signers split them by serial hash */
  shard?: Shard;
}

/**
 * Share `index` of `count`: the certificates whose serial hashes to `index` modulo `count`. An
 * index at or past the count (a StatefulSet pod being scaled away) owns nothing.
 */
export interface Shard {
  index: number;
  count: number;
}

export type WorkReason = 'status' | 'new' | 'refresh' | 'signer';
const RANK: Record<WorkReason, number> = { status: 0, new: 1, refresh: 2, signer: 3 };

export interface WorkItem {
  serial: string;
  reason: WorkReason;
  revoked?: { time: number; reason?: string };
}

export interface Backlog {
  /** unexpired certificates considered */
  certificates: number;
  /** certificates that need signing now (all reasons) */
  due: number;
  /** of which: without any response */
  missing: number;
  status: number;
  refresh: number;
  signer: number;
  revoked: number;
  /** age of the oldest response of an unexpired certificate (ms); undefined when there is none */
  oldestAgeMs: number | undefined;
  oldestSerial: string | undefined;
  /**
   * The earliest time a certificate not due now becomes due (its response ages into the refresh
   * window) or expires (leaves the counts): until then, with the same certificates and responses,
   * a plan finds nothing and the backlog is the same. Infinity when no such time exists.
   */
  nextChangeAt: number;
}

export interface Planner {
  /** The work due at `now`, most urgent first; `limit` bounds the list (the sort is still global). */
  plan(now: number, limit?: number): WorkItem[];
  backlog(now: number): Backlog;
  /** plan and backlog in one pass over the certificates */
  evaluate(now: number, limit?: number): { work: WorkItem[]; backlog: Backlog };
}

interface Candidate extends WorkItem {
  /** tie-break within a rank: smaller first */
  key: number;
}

/** FNV-1a of the serial text: a stable, cheap split of certificates between signers. */
export function shardOf(serial: string, count: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < serial.length; i++) h = Math.imul(h ^ serial.charCodeAt(i), 0x01000193);
  return (h >>> 0) % count;
}

function emptyBacklog(): Backlog {
  return {
    certificates: 0,
    due: 0,
    missing: 0,
    status: 0,
    refresh: 0,
    signer: 0,
    revoked: 0,
    oldestAgeMs: undefined,
    oldestSerial: undefined,
    nextChangeAt: Infinity,
  };
}

export function createPlanner(
  certificates: Iterable<CertificateInfo>,
  responses: ReadonlyMap<string, ResponseInfo>,
  policy: PlannerPolicy,
): Planner {
  const certs = [...certificates];
  const margin = policy.responseValidityMs - policy.refreshAgeMs;
  const shard = policy.shard;
  // classify() writes its tie-break key here instead of allocating: it runs for every certificate
  // of the issuer several times per round, and most of them are not due.
  let key = 0;

  function classify(c: CertificateInfo, r: ResponseInfo | undefined, now: number): WorkReason | undefined {
    if (c.revoked && r?.status !== 'revoked') return ((key = c.revoked.time), 'status');
    // lifted revocations after new ones: serving `good` late is safer than serving `revoked` late
    if (!c.revoked && r?.status === 'revoked') return ((key = Number.MAX_SAFE_INTEGER), 'status');
    if (!r) return ((key = 0), 'new');
    if (now - r.thisUpdate >= policy.refreshAgeMs || r.nextUpdate - now <= margin) return ((key = r.thisUpdate), 'refresh');
    if (r.signerSerial !== policy.currentSignerSerial || r.signerNotAfter < r.nextUpdate) return ((key = r.signerNotAfter), 'signer');
    return undefined;
  }

  function mine(c: CertificateInfo, now: number): boolean {
    if (c.notAfter <= now) return false;
    if (!shard) return true;
    if (shard.index >= shard.count) return false;
    return shard.count === 1 || shardOf(c.serial, shard.count) === shard.index;
  }

  function run(now: number, limit: number, wantWork: boolean): { work: WorkItem[]; backlog: Backlog } {
    const out: Candidate[] = [];
    const b = emptyBacklog();
    let oldest = Infinity;
    for (const c of certs) {
      if (!mine(c, now)) continue;
      b.certificates++;
      if (c.revoked) b.revoked++;
      const r = responses.get(c.serial);
      if (r && r.thisUpdate < oldest) {
        oldest = r.thisUpdate;
        b.oldestSerial = c.serial;
      }
      const reason = classify(c, r, now);
      if (reason === undefined) {
        // Not due: r exists, is current and under the current signer; it turns due at the first of these.
        const at = Math.min(c.notAfter, r!.thisUpdate + policy.refreshAgeMs, r!.nextUpdate - margin);
        if (at < b.nextChangeAt) b.nextChangeAt = at;
        continue;
      }
      if (c.notAfter < b.nextChangeAt) b.nextChangeAt = c.notAfter;
      b.due++;
      if (!r) b.missing++;
      if (reason !== 'new') b[reason]++;
      if (wantWork) out.push(c.revoked ? { serial: c.serial, reason, revoked: c.revoked, key } : { serial: c.serial, reason, key });
    }
    if (oldest !== Infinity) b.oldestAgeMs = now - oldest;
    // Array.prototype.sort is stable: within a rank and key, input order is kept.
    out.sort((x, y) => RANK[x.reason] - RANK[y.reason] || x.key - y.key);
    if (out.length > limit) out.length = limit;
    const work: WorkItem[] = out.map((w) =>
      w.revoked ? { serial: w.serial, reason: w.reason, revoked: w.revoked } : { serial: w.serial, reason: w.reason },
    );
    return { work, backlog: b };
  }

  return {
    plan: (now, limit = Infinity) => run(now, limit, true).work,
    backlog: (now) => run(now, 0, false).backlog,
    evaluate: (now, limit = Infinity) => run(now, limit, true),
  };
}
