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
import type { CertStatus } from '../store/index.js';

export interface CertificateInfo {
  /** canonical lowercase hex (store/keys.ts canonicalSerial) */
  serial: string;
  /** epoch ms */
  notAfter: number;
  revoked?: { time: number; reason?: string };
}

export interface ResponseInfo {
  serial: string;
  thisUpdate: number;
  nextUpdate: number;
  status: CertStatus;
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
  shard?: { index: number; count: number };
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
}

export interface Planner {
  /** The work due at `now`, most urgent first; `limit` bounds the list (the sort is still global). */
  plan(now: number, limit?: number): WorkItem[];
  backlog(now: number): Backlog;
}

interface Candidate extends WorkItem {
  /** tie-break within a rank: smaller first */
  key: number;
}

/** FNV-1a of the serial text: a stable, cheap split of certificates between signers. */
function shardOf(serial: string, count: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < serial.length; i++) h = Math.imul(h ^ serial.charCodeAt(i), 0x01000193);
  return (h >>> 0) % count;
}

export function createPlanner(certificates: Iterable<CertificateInfo>, responses: ReadonlyMap<string, ResponseInfo>, policy: PlannerPolicy): Planner {
  const certs = [...certificates];
  const margin = policy.responseValidityMs - policy.refreshAgeMs;

  function classify(c: CertificateInfo, r: ResponseInfo | undefined, now: number): Candidate | undefined {
    const base = c.revoked ? { serial: c.serial, revoked: c.revoked } : { serial: c.serial };
    if (c.revoked && r?.status !== 'revoked') return { ...base, reason: 'status', key: c.revoked.time };
    // lifted revocations after new ones: serving `good` late is safer than serving `revoked` late
    if (!c.revoked && r?.status === 'revoked') return { ...base, reason: 'status', key: Number.MAX_SAFE_INTEGER };
    if (!r) return { ...base, reason: 'new', key: 0 };
    if (now - r.thisUpdate >= policy.refreshAgeMs || r.nextUpdate - now <= margin) return { ...base, reason: 'refresh', key: r.thisUpdate };
    if (r.signerSerial !== policy.currentSignerSerial || r.signerNotAfter < r.nextUpdate) return { ...base, reason: 'signer', key: r.signerNotAfter };
    return undefined;
  }

  function mine(c: CertificateInfo, now: number): boolean {
    if (c.notAfter <= now) return false;
    return !policy.shard || policy.shard.count <= 1 || shardOf(c.serial, policy.shard.count) === policy.shard.index;
  }

  return {
    plan(now, limit = Infinity) {
      const out: Candidate[] = [];
      for (const c of certs) {
        if (!mine(c, now)) continue;
        const w = classify(c, responses.get(c.serial), now);
        if (w) out.push(w);
      }
      // Array.prototype.sort is stable: within a rank and key, input order is kept.
      out.sort((a, b) => RANK[a.reason] - RANK[b.reason] || a.key - b.key);
      const cut = out.length > limit ? out.slice(0, limit) : out;
      return cut.map(({ key: _key, ...w }) => w);
    },
    backlog(now) {
      const b: Backlog = { certificates: 0, due: 0, missing: 0, status: 0, refresh: 0, signer: 0, revoked: 0, oldestAgeMs: undefined, oldestSerial: undefined };
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
        const w = classify(c, r, now);
        if (!w) continue;
        b.due++;
        if (!r) b.missing++;
        if (w.reason !== 'new') b[w.reason]++;
      }
      if (oldest !== Infinity) b.oldestAgeMs = now - oldest;
      return b;
    },
  };
}
