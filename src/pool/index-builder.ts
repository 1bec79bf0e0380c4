// The pool's certificate list, as one OpenSSL index.txt that its signers read: the certificates of
// cluster Secrets that chain to the pool's issuer, the lines of the CA databases named by
// opensslIndex sources, and the revocations declared in the spec. Deterministic (sorted), so an
// unchanged world writes nothing.
import type { X509Certificate } from '@peculiar/x509';
import type { IndexRevocation } from '../ca-db/index-txt.js';
import { applyDeclaredRevocations, parseIndexTxt, type CertificateInfo } from '../ca-db/index-txt.js';
import { isIssuedBy, parsePemChain } from '../ocsp/index.js';
import { canonicalSerial } from '../store/keys.js';
import type { Secret } from '../kube/types.js';

export interface PoolIndex {
  text: string;
  certificates: number;
  revoked: number;
  /** Problems worth a condition message: unreadable lines, revocations of unknown serials. */
  problems: string[];
  /**
   * With a source the signers read themselves (postgres): the declared revocations as JSON, for the
   * signers to lay over that source's certificates, which this index never sees.
   */
  revocations?: string;
}

const utc = (ms: number) => new Date(ms).toISOString().replace(/^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d).*$/, '$1$2$3$4$5$6Z');

export function buildPoolIndex(o: {
  issuer: X509Certificate;
  indexTexts: Array<{ source: string; text: string }>;
  secrets: Secret[];
  revocations: IndexRevocation[];
  now: number;
  /** The pool also has sources the signers read themselves: a declared serial unknown here may be theirs. */
  signerReadSources?: boolean;
}): PoolIndex {
  const problems: string[] = [];
  const bySerial = new Map<string, CertificateInfo>();
  const add = (c: CertificateInfo) => {
    const prev = bySerial.get(c.serial);
    if (!prev || (c.revoked && !prev.revoked)) bySerial.set(c.serial, c); // a revocation is never lost in a merge
  };
  for (const { source, text } of o.indexTexts) {
    const r = parseIndexTxt(text);
    for (const p of r.problems.slice(0, 5)) problems.push(`${source} line ${p.line}: ${p.message}`);
    r.certificates.forEach(add);
  }
  for (const s of o.secrets) {
    const pem = s.data?.['tls.crt'];
    if (!pem) continue;
    let leaf: X509Certificate | undefined;
    try {
      leaf = parsePemChain(Buffer.from(pem, 'base64').toString('utf8'))[0];
    } catch {
      continue; // not a certificate Secret of ours to judge
    }
    // The issuer's own certificate (in its Secret) is not one of the certificates it answers for.
    if (!leaf || !isIssuedBy(leaf, o.issuer) || leaf.equal(o.issuer)) continue;
    add({ serial: canonicalSerial(leaf.serialNumber), notAfter: leaf.notAfter.getTime() });
  }
  const known = new Set(bySerial.keys());
  for (const d of o.revocations) {
    if (!o.signerReadSources && !known.has(canonicalSerial(d.serial)))
      problems.push(`declared revocation of ${d.serial}: no such certificate in the sources`);
  }
  const all = applyDeclaredRevocations([...bySerial.values()], o.revocations).filter((c) => c.notAfter > o.now);
  all.sort((a, b) => (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0));
  const lines = all.map((c) => {
    const serial = (c.serial.length % 2 ? `0${c.serial}` : c.serial).toUpperCase();
    const revoked = c.revoked ? `${utc(c.revoked.time)}${c.revoked.reason ? `,${c.revoked.reason}` : ''}` : '';
    return `${c.revoked ? 'R' : 'V'}\t${utc(c.notAfter)}\t${revoked}\t${serial}\tunknown\t/CN=${c.serial}`;
  });
  const declared = o.signerReadSources
    ? JSON.stringify(
        o.revocations
          .map((d) => ({ serial: canonicalSerial(d.serial), time: d.time, ...(d.reason !== undefined ? { reason: d.reason } : {}) }))
          .sort((a, b) => (a.serial < b.serial ? -1 : 1)),
      )
    : undefined;
  return {
    text: lines.length ? `${lines.join('\n')}\n` : '',
    certificates: all.length,
    revoked: all.filter((c) => c.revoked).length,
    problems,
    ...(declared !== undefined ? { revocations: declared } : {}),
  };
}
