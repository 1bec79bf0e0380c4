// The CA database model: which certificates exist and their revocation state. Here: OpenSSL's CA
// database (`index.txt`), for CAs that live outside the cluster, and declared revocations (the
// pool's spec.revocations) laid over any source. The signer reads index.txt itself; the pool
// controller's cluster-Secrets source (cert-manager Secrets chaining to the pool's issuer) yields
// the same CertificateInfo (src/pool/index-builder.ts).
import { readFile } from 'node:fs/promises';
import { CRL_REASON_BY_CODE } from '../ocsp/oids.js';
import { canonicalSerial } from '../store/keys.js';

export interface CertificateInfo {
  /** canonical lowercase hex (store/keys.ts canonicalSerial) */
  serial: string;
  /** epoch ms */
  notAfter: number;
  revoked?: { time: number; reason?: string };
}

export interface IndexProblem {
  line: number;
  message: string;
}

export interface IndexParseResult {
  certificates: CertificateInfo[];
  /** lines skipped, each with the reason: one bad line must not stop a whole CA from being signed */
  problems: IndexProblem[];
}

/** YYMMDDHHMMSSZ (UTCTime, as openssl ca writes) or YYYYMMDDHHMMSSZ; epoch ms, or undefined. */
export function parseIndexTime(s: string): number | undefined {
  const m = /^(\d{2}|\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  let year = Number(m[1]);
  if (m[1]!.length === 2) year += year < 50 ? 2000 : 1900; // RFC 5280 UTCTime window
  const t = Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isNaN(t) ? undefined : t;
}

// openssl's spellings (crypto/x509/v3_enum.c / apps/ca.c) to the RFC 5280 names we sign with.
const OPENSSL_REASONS: Record<string, string> = {
  unspecified: 'unspecified',
  keycompromise: 'keyCompromise',
  cacompromise: 'cACompromise',
  affiliationchanged: 'affiliationChanged',
  superseded: 'superseded',
  cessationofoperation: 'cessationOfOperation',
  certificatehold: 'certificateHold',
  removefromcrl: 'removeFromCRL',
  privilegewithdrawn: 'privilegeWithdrawn',
  aacompromise: 'aACompromise',
};

/**
 * Parses `index.txt`: tab-separated status (V valid, R revoked, E expired), expiry, revocation
 * "time[,reason[,extra]]", serial, file name, subject. E lines are kept with their expiry (the
 * planner skips expired certificates); certificateHold and removeFromCRL are reported as revoked
 * with that reason, as openssl ocsp does.
 */
export function parseIndexTxt(text: string): IndexParseResult {
  const certificates: CertificateInfo[] = [];
  const problems: IndexProblem[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, '');
    if (raw.trim() === '') continue;
    const line = i + 1;
    const f = raw.split('\t');
    if (f.length < 4) {
      problems.push({ line, message: `expected at least 4 tab-separated fields, got ${f.length}` });
      continue;
    }
    const [status, expiry, revocation, serialText] = f as [string, string, string, string];
    const notAfter = parseIndexTime(expiry);
    if (notAfter === undefined) {
      problems.push({ line, message: `bad expiry time ${JSON.stringify(expiry)}` });
      continue;
    }
    let serial: string;
    try {
      serial = canonicalSerial(serialText);
    } catch {
      problems.push({ line, message: `bad serial ${JSON.stringify(serialText)}` });
      continue;
    }
    if (status === 'V' || status === 'E') {
      certificates.push({ serial, notAfter });
    } else if (status === 'R') {
      const [when, reasonText] = revocation.split(',');
      const time = parseIndexTime(when ?? '');
      if (time === undefined) {
        problems.push({ line, message: `serial ${serial}: bad revocation time ${JSON.stringify(revocation)}` });
        continue;
      }
      let reason: string | undefined;
      if (reasonText) {
        reason = OPENSSL_REASONS[reasonText.toLowerCase()];
        if (!reason) {
          problems.push({ line, message: `serial ${serial}: unknown revocation reason ${JSON.stringify(reasonText)}` });
          continue;
        }
      }
      certificates.push({ serial, notAfter, revoked: reason ? { time, reason } : { time } });
    } else {
      problems.push({ line, message: `unknown status ${JSON.stringify(status)} (V, R or E)` });
    }
  }
  return { certificates, problems };
}

export async function readIndexTxt(path: string): Promise<IndexParseResult> {
  return parseIndexTxt(await readFile(path, 'utf8'));
}

export interface IndexRevocation {
  serial: string;
  /** epoch ms */
  time: number;
  reason?: string;
}

/**
 * Lays declared revocations over a source's certificates: a declared revocation wins over the
 * source (it is how a GitOps repository revokes a certificate the CA database still shows valid).
 * Declared serials that the source does not know are ignored: the pool never answers for
 * certificates it cannot see (BR: no `good` for a serial it did not issue).
 */
export function applyDeclaredRevocations(certs: readonly CertificateInfo[], declared: readonly IndexRevocation[]): CertificateInfo[] {
  if (declared.length === 0) return [...certs];
  const bySerial = new Map(declared.map((d) => [canonicalSerial(d.serial), d]));
  return certs.map((c) => {
    const d = bySerial.get(c.serial);
    if (!d) return c;
    if (d.reason !== undefined && !CRL_REASON_BY_CODE.includes(d.reason))
      throw new Error(`declared revocation of ${c.serial}: unknown reason ${JSON.stringify(d.reason)}`);
    return { ...c, revoked: d.reason !== undefined ? { time: d.time, reason: d.reason } : { time: d.time } };
  });
}
