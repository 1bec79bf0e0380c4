// Reading a certificate Secret as cert-manager writes it (tls.crt: leaf then chain, tls.key,
// maybe ca.crt) into what the staple controller needs: the leaf, its issuer, where its OCSP
// responder is, and the identity (serial, SHA-256) of this certificate generation. Every problem
// comes back as a reason and a message that name the Secret and the field.
import {
  certificatePem,
  findIssuer,
  isIssuedBy,
  isMustStaple,
  keyMatchesCertificate,
  ocspUrls,
  parsePemViews,
  serialHex,
  sha256Fingerprint,
  type CertificateView,
} from '../ocsp/index.js';
import type { KubeObject, Secret } from '../kube/types.js';
import { heldStrings } from '../kube/string-pool.js';
import { pairDigest } from './staple-secret.js';

/** The leaves of one CA name the same responder: one copy of its URL across the memo. */
const pooled = (s: string | undefined) => (s === undefined ? undefined : heldStrings.intern(s));

/** Certificates as small plain views (certificateView), so a memo of ten thousand costs little. */
export interface SourceCertificate {
  leaf: CertificateView;
  issuer: CertificateView;
  /**
   * tls.crt, the chain the server sends: the certificates read from it when they print back to
   * the same text (cert-manager's PEM does), so a memo of ten thousand holds no second copy of it.
   */
  tlsCrt: string | readonly CertificateView[];
  keyPem: string;
  caPem?: string;
  /** pairDigest of the pair this generation publishes: compared on every reconcile, computed once. */
  pairDigest: string;
  serial: string;
  sha256: string;
  ocspUrl?: string;
  mustStaple: boolean;
}

export type SourceProblemReason =
  | 'SecretNotFound'
  | 'CertificateMissing'
  | 'CertificateInvalid'
  | 'KeyMissing'
  | 'KeyMismatch'
  | 'IssuerNotFound'
  | 'TemporaryCertificate'
  | 'CertificateExpired';

export type SourceResult = { ok: true; source: SourceCertificate } | { ok: false; reason: SourceProblemReason; message: string };

const decode = (data: Record<string, string> | undefined, key: string): string | undefined => {
  const v = data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
};

function tryParse(pem: string): CertificateView[] | Error {
  try {
    return parsePemViews(pem);
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/**
 * @param issuerPem the issuer from spec.issuerSecretRef, when tls.crt carries only the leaf
 */
export function readCertificateSecret(secret: Secret | undefined, ref: string, now: number, issuerPem?: string): SourceResult {
  return checkExpiry(parseCertificateSecret(secret, ref, issuerPem, tryParse), ref, now);
}

/** Parses a PEM text into its certificates; `caOnly`: none of them is a leaf (ca.crt, an issuer input). */
type ChainParser = (pem: string, caOnly: boolean) => CertificateView[] | Error;

/** The checks in their order; the expiry check (after TemporaryCertificate) is left to checkExpiry. */
function parseCertificateSecret(secret: Secret | undefined, ref: string, issuerPem: string | undefined, parse: ChainParser): Parsed {
  const fail = (reason: SourceProblemReason, message: string): Parsed => ({ done: { ok: false, reason, message } });
  if (!secret) return fail('SecretNotFound', `certificate Secret ${ref} does not exist (yet)`);
  const certPem = decode(secret.data, 'tls.crt');
  if (!certPem) return fail('CertificateMissing', `Secret ${ref} has no tls.crt`);
  const chain = parse(certPem, false);
  if (chain instanceof Error) return fail('CertificateInvalid', `Secret ${ref} tls.crt: ${chain.message}`);
  const leaf = chain[0];
  if (!leaf) return fail('CertificateInvalid', `Secret ${ref} tls.crt holds no certificate`);
  const keyPem = decode(secret.data, 'tls.key');
  if (!keyPem) return fail('KeyMissing', `Secret ${ref} has no tls.key`);
  if (!safeKeyMatch(keyPem, leaf)) {
    return fail('KeyMismatch', `Secret ${ref}: tls.key is not the key of the certificate in tls.crt (serial ${serialHex(leaf)})`);
  }
  // cert-manager's temporary certificate, shown while the real one is issued, is self-signed.
  if (leaf.subject === leaf.issuer && isIssuedBy(leaf, leaf)) {
    return fail('TemporaryCertificate', `Secret ${ref} holds a self-signed (temporary) certificate; waiting for the issued one`);
  }
  const caPem = decode(secret.data, 'ca.crt');
  const candidates = [...chain.slice(1)];
  for (const extra of [caPem, issuerPem]) {
    if (!extra) continue;
    const parsed = parse(extra, true);
    if (!(parsed instanceof Error)) candidates.push(...parsed);
  }
  const issuer = findIssuer(leaf, candidates);
  if (!issuer) {
    return {
      notAfter: leaf.notAfter,
      serial: serialHex(leaf),
      rest: {
        ok: false,
        reason: 'IssuerNotFound',
        message: `no issuer of ${leaf.subject} (issued by ${leaf.issuer}) in Secret ${ref} tls.crt or ca.crt${issuerPem ? ' or spec.issuerSecretRef' : ''}`,
      },
    };
  }
  const serial = serialHex(leaf);
  const sha256 = sha256Fingerprint(leaf);
  return {
    notAfter: leaf.notAfter,
    serial,
    rest: {
      ok: true,
      source: {
        leaf,
        issuer,
        tlsCrt: printsAs(chain, certPem) ? chain : certPem,
        keyPem,
        caPem,
        pairDigest: pairDigest({ certPem, keyPem, caPem, issuerPem: certificatePem(issuer) }, serial, sha256),
        serial,
        sha256,
        ocspUrl: pooled(ocspUrls(leaf)[0]),
        mustStaple: isMustStaple(leaf),
      },
    },
  };
}

/** Whether the certificates print back to exactly this text (blocks joined by newlines, one at the end). */
function printsAs(chain: readonly CertificateView[], pem: string): boolean {
  return printChain(chain) === pem;
}

const printChain = (chain: readonly CertificateView[]) => `${chain.map(certificatePem).join('\n')}\n`;

/** tls.crt as found in the Secret. */
export function tlsCrtPem(source: SourceCertificate): string {
  return typeof source.tlsCrt === 'string' ? source.tlsCrt : printChain(source.tlsCrt);
}

/**
 * readCertificateSecret, remembered per Secret: a Secret whose uid and resourceVersion did not
 * change (and read with the same issuer input) is not parsed again. Parsing is most of the staple
 * controller's CPU (PEM chain, private-key match, AIA), and every staple is reconciled at least
 * twice (its own change, then its staple Secret's) on a Secret that did not change in between.
 * Only the expiry check depends on the time of the read, so it is made again on every read; every
 * other check ran once on exactly these bytes.
 *
 * Bounded: one entry per Secret (a new version replaces the old), at most `maxEntries` of them,
 * the least recently read going first; `forget` drops one whose Secret is gone. A Secret without a
 * resourceVersion (never stored by an apiserver) is parsed every time. An entry holds its
 * certificates as plain views (their DER, names and dates; no parsed object graph), so it is
 * kept whole: about the size of the Secret's tls.crt.
 */
export class SourceCertificateMemo {
  private readonly entries = new Map<string, MemoEntry>();
  /**
   * CA certificates by their PEM block: the same few CAs follow the leaf in every tls.crt (and fill
   * ca.crt), so each is parsed once and one object serves every entry.
   */
  private readonly cas = new Map<string, CertificateView>();
  hits = 0;
  misses = 0;

  constructor(readonly maxEntries = 20_000) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new Error(`maxEntries must be a positive integer, got ${maxEntries}`);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The result for this version of the Secret (its metadata suffices), if it was read before. */
  cached(meta: KubeObject, ref: string, now: number, issuerPem?: string): SourceResult | undefined {
    const entry = this.entries.get(ref);
    const m = meta.metadata;
    if (!entry || !m?.uid || entry.uid !== m.uid || entry.resourceVersion !== m.resourceVersion || entry.issuerPem !== issuerPem) return;
    this.hits++;
    this.entries.delete(ref); // re-inserted: Map order is the LRU order
    this.entries.set(ref, entry);
    return checkExpiry(entry.parsed, ref, now);
  }

  read(secret: Secret | undefined, ref: string, now: number, issuerPem?: string): SourceResult {
    const uid = secret?.metadata?.uid;
    const resourceVersion = secret?.metadata?.resourceVersion;
    if (!secret || !uid || !resourceVersion) {
      this.forget(ref);
      return readCertificateSecret(secret, ref, now, issuerPem);
    }
    const hit = this.cached(secret, ref, now, issuerPem);
    if (hit) return hit;
    this.misses++;
    const parsed = parseCertificateSecret(secret, ref, issuerPem, this.parseChain);
    this.entries.delete(ref);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.forget(oldest.value);
    }
    this.entries.set(ref, { uid, resourceVersion, issuerPem, parsed });
    return checkExpiry(parsed, ref, now);
  }

  /** The Secret was deleted, or no staple reads it any more. */
  forget(ref: string): void {
    this.entries.delete(ref);
  }

  /** tryParse, with the CA certificates (every block after the leaf) taken from `cas` when seen before. */
  private readonly parseChain: ChainParser = (pem, caOnly) => {
    const blocks = pem.match(CERTIFICATE_BLOCK) ?? [];
    const first = caOnly ? 0 : 1;
    const cas = blocks.slice(first).map((b) => this.cas.get(b));
    // Only a text of certificate blocks alone, where the blocks found are the ones parsePemViews finds.
    if (blocks.length > first && cas.every((c) => c !== undefined) && pem.replace(CERTIFICATE_BLOCK, '').trim() === '') {
      const leaf = caOnly ? [] : tryParse(blocks[0]!);
      if (!(leaf instanceof Error) && leaf.length === first) return [...leaf, ...cas];
    }
    // Parsed whole, as readCertificateSecret does (its errors name the block by its place).
    const chain = tryParse(pem);
    if (chain instanceof Error || chain.length !== blocks.length) return chain;
    for (let i = first; i < blocks.length; i++) {
      if (this.cas.size >= MAX_SHARED_CAS) this.cas.delete(this.cas.keys().next().value as string);
      this.cas.set(blocks[i]!, chain[i]!);
    }
    return chain;
  };
}

const MAX_SHARED_CAS = 256;
/** The CERTIFICATE blocks of a PEM text, as parsePemChain finds them. */
const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

interface MemoEntry {
  uid: string;
  resourceVersion: string;
  issuerPem: string | undefined;
  parsed: Parsed;
}

/** Everything readCertificateSecret finds that does not depend on the time (the leaf's dates and serial for the expiry check). */
type Parsed = { done: SourceResult } | { notAfter: Date; serial: string; rest: SourceResult };

function checkExpiry(parsed: Parsed, ref: string, now: number): SourceResult {
  if ('done' in parsed) return parsed.done;
  if (parsed.notAfter.getTime() <= now) {
    return {
      ok: false,
      reason: 'CertificateExpired',
      message: `certificate in Secret ${ref} (serial ${parsed.serial}) expired at ${parsed.notAfter.toISOString()}`,
    };
  }
  return parsed.rest;
}

function safeKeyMatch(keyPem: string, leaf: CertificateView): boolean {
  try {
    return keyMatchesCertificate(keyPem, leaf);
  } catch {
    return false; // an unreadable key does not match
  }
}
