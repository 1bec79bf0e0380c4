// The source memo: a certificate Secret is parsed once per version (uid + resourceVersion + issuer
// input), the time-dependent expiry check is made on every read, and the memo stays bounded.
import { beforeAll, describe, expect, it } from 'vitest';
import { SourceCertificateMemo, readCertificateSecret, tlsCrtPem } from '../../src/staple/source.js';
import { pairOf } from '../../src/staple/decision.js';
import { buildStapleSecret, readPair, readPublished, samePublication } from '../../src/staple/staple-secret.js';
import type { Secret } from '../../src/kube/types.js';
import { serialHex } from '../../src/ocsp/index.js';
import { createCa, issueLeaf, type Ca, type Issued } from '../support/pki.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function secretOf(name: string, leaf: Issued, meta: { uid?: string; resourceVersion?: string } = {}, keyPem = leaf.keyPem): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: 'ns', uid: meta.uid ?? `uid-${name}`, resourceVersion: meta.resourceVersion ?? '1' },
    data: { 'tls.crt': b64(leaf.chainPem), 'tls.key': b64(keyPem) },
  };
}

describe('SourceCertificateMemo', () => {
  let ca: Ca;
  let leafA: Issued;
  let leafB: Issued;
  const now = Date.now();

  beforeAll(async () => {
    ca = await createCa({ keyAlg: 'P-256' });
    leafA = await issueLeaf(ca, { ocspUrl: 'http://127.0.0.1:1/' });
    leafB = await issueLeaf(ca, { ocspUrl: 'http://127.0.0.1:2/', freshKey: true });
  });

  it('returns the same result object for the same resourceVersion, and what readCertificateSecret says', () => {
    const memo = new SourceCertificateMemo();
    const s = secretOf('a', leafA);
    const first = memo.read(s, 'ns/a', now);
    expect(first).toEqual(readCertificateSecret(s, 'ns/a', now));
    expect(first.ok).toBe(true);
    // A copy of the same version (as a cache re-read or a live GET hands back) is not parsed again.
    const again = memo.read(structuredClone(s), 'ns/a', now + 1000);
    expect(again).toBe(first);
    expect({ hits: memo.hits, misses: memo.misses, size: memo.size }).toEqual({ hits: 1, misses: 1, size: 1 });
  });

  it('parses again when the resourceVersion, the uid or the issuer input changes', () => {
    const memo = new SourceCertificateMemo();
    const first = memo.read(secretOf('a', leafA), 'ns/a', now);
    const renewed = memo.read(secretOf('a', leafB, { resourceVersion: '2' }), 'ns/a', now);
    expect(renewed).not.toBe(first);
    expect(renewed.ok && renewed.source.serial).toBe(serialHex(leafB.cert));
    const recreated = memo.read(secretOf('a', leafB, { uid: 'other', resourceVersion: '2' }), 'ns/a', now);
    expect(recreated).not.toBe(renewed);
    const withIssuer = memo.read(secretOf('a', leafB, { uid: 'other', resourceVersion: '2' }), 'ns/a', now, ca.certPem);
    expect(withIssuer).not.toBe(recreated);
    expect(memo.misses).toBe(4);
    expect(memo.size).toBe(1); // one entry per Secret: a new version replaces the old
  });

  it('remembers failures too, and still checks expiry on every read', () => {
    const memo = new SourceCertificateMemo();
    const mismatch = secretOf('m', leafA, {}, leafB.keyPem);
    const r1 = memo.read(mismatch, 'ns/m', now);
    expect(r1).toMatchObject({ ok: false, reason: 'KeyMismatch' });
    expect(memo.read(mismatch, 'ns/m', now)).toBe(r1);

    const s = secretOf('e', leafA);
    const ok = memo.read(s, 'ns/e', now);
    expect(ok.ok).toBe(true);
    const later = leafA.cert.notAfter.getTime() + 1;
    const expired = memo.read(s, 'ns/e', later);
    expect(expired).toEqual(readCertificateSecret(s, 'ns/e', later));
    expect(expired).toMatchObject({ ok: false, reason: 'CertificateExpired' });
    expect(memo.hits).toBe(2); // the expiry verdict came from the remembered leaf, not a new parse
  });

  it('parses a CA certificate once for every Secret it follows the leaf in, and reads what readCertificateSecret reads', () => {
    const memo = new SourceCertificateMemo();
    const ra = memo.read(secretOf('a', leafA), 'ns/a', now);
    const rb = memo.read(secretOf('b', leafB), 'ns/b', now);
    if (!ra.ok || !rb.ok) throw new Error('unreadable');
    expect(rb.source.issuer).toBe(ra.source.issuer); // one object: the CA's block was not parsed again
    expect(rb).toEqual(readCertificateSecret(secretOf('b', leafB), 'ns/b', now));
    // A tls.crt with more than certificate blocks is parsed as a whole, as readCertificateSecret does.
    const odd = secretOf('odd', leafB);
    odd.data!['tls.crt'] = b64(`${leafB.chainPem}\n-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n`);
    expect(memo.read(odd, 'ns/odd', now)).toEqual(readCertificateSecret(odd, 'ns/odd', now));
    // A broken leaf before a known CA: the same verdict, naming the block by its place.
    const broken = secretOf('broken', leafB);
    broken.data!['tls.crt'] = b64(leafB.chainPem.replace(/(-----BEGIN CERTIFICATE-----\n)MII/, '$1XYZ'));
    const verdict = memo.read(broken, 'ns/broken', now);
    expect(verdict).toMatchObject({ ok: false, reason: 'CertificateInvalid' });
    expect(verdict).toEqual(readCertificateSecret(broken, 'ns/broken', now));
  });

  it('holds every entry whole (its certificates as small views): a Secret read again after others parses nothing', () => {
    const memo = new SourceCertificateMemo(10);
    const a = secretOf('a', leafA);
    const ra = memo.read(a, 'ns/a', now);
    memo.read(secretOf('b', leafB), 'ns/b', now);
    const again = memo.read(structuredClone(a), 'ns/a', now);
    expect(again).toBe(ra);
    expect({ hits: memo.hits, misses: memo.misses }).toEqual({ hits: 1, misses: 2 });
    // The view says what the certificate object says, and carries its exact DER.
    const leaf = again.ok ? again.source.leaf : undefined;
    expect(leaf && { ...leaf, rawData: Buffer.from(leaf.rawData) }).toEqual({
      subject: leafA.cert.subject,
      issuer: leafA.cert.issuer,
      notBefore: leafA.cert.notBefore,
      notAfter: leafA.cert.notAfter,
      rawData: Buffer.from(leafA.cert.rawData),
    });
    expect(memo.read(a, 'ns/a', leafA.cert.notAfter.getTime())).toMatchObject({ ok: false, reason: 'CertificateExpired' });
  });

  it('stays bounded: the least recently read Secret goes first; a missing Secret or forget drops it', () => {
    const memo = new SourceCertificateMemo(3);
    const secrets = ['a', 'b', 'c', 'd'].map((n) => secretOf(n, leafA));
    const [a, b, c, d] = secrets as [Secret, Secret, Secret, Secret];
    const ra = memo.read(a, 'ns/a', now);
    memo.read(b, 'ns/b', now);
    memo.read(c, 'ns/c', now);
    expect(memo.read(a, 'ns/a', now)).toBe(ra); // a is now the most recent; b the least
    memo.read(d, 'ns/d', now);
    expect(memo.size).toBe(3);
    const misses = memo.misses;
    expect(memo.read(a, 'ns/a', now)).toBe(ra);
    memo.read(b, 'ns/b', now);
    expect(memo.misses).toBe(misses + 1); // b was evicted
    for (let i = 0; i < 50; i++) memo.read(secretOf(`x${i}`, leafA), `ns/x${i}`, now);
    expect(memo.size).toBe(3);

    expect(memo.read(undefined, 'ns/x49', now)).toMatchObject({ ok: false, reason: 'SecretNotFound' });
    expect(memo.size).toBe(2);
    memo.forget('ns/x48');
    expect(memo.size).toBe(1);
    expect(() => new SourceCertificateMemo(0)).toThrow();
  });

  it('does not remember a Secret without a resourceVersion', () => {
    const memo = new SourceCertificateMemo();
    const s = secretOf('n', leafA);
    if (s.metadata) delete s.metadata.resourceVersion;
    const r1 = memo.read(s, 'ns/n', now);
    expect(memo.read(s, 'ns/n', now)).not.toBe(r1);
    expect(memo.size).toBe(0);
  });

  it('holds tls.crt as its certificates when they print back to it, and gives back the text as found either way', () => {
    const memo = new SourceCertificateMemo();
    const canonical = memo.read(secretOf('a', leafA), 'ns/a', now);
    if (!canonical.ok) throw new Error(canonical.message);
    expect(Array.isArray(canonical.source.tlsCrt)).toBe(true);
    expect(tlsCrtPem(canonical.source)).toBe(leafA.chainPem);
    // CRLF line ends and a comment before the first block: kept as the text itself.
    const odd = `# issued by the bench CA\r\n${leafA.chainPem.replace(/\n/g, '\r\n')}`;
    const s = secretOf('odd', leafA);
    s.data!['tls.crt'] = b64(odd);
    const kept = memo.read(s, 'ns/odd', now);
    if (!kept.ok) throw new Error(kept.message);
    expect(kept.source.tlsCrt).toBe(odd);
    expect(tlsCrtPem(kept.source)).toBe(odd);
  });

  it("computes the pair's digest as a staple Secret holding that pair reads back", () => {
    const memo = new SourceCertificateMemo();
    const read = memo.read(secretOf('a', leafA), 'ns/a', now);
    if (!read.ok) throw new Error(read.message);
    const pair = pairOf(read.source);
    const written = buildStapleSecret({ namespace: 'ns', name: 'a-ocsp', owner: { name: 'a', uid: 'u' }, published: { pair } });
    expect(Buffer.from(written.data!['tls.crt']!, 'base64').toString()).toBe(leafA.chainPem);
    expect(readPair(written)?.digest).toBe(pair.digest);
    expect(samePublication(readPublished(written), { pair })).toBe(true);
    // Another key in the Secret: another pair.
    const other = memo.read(secretOf('b', leafB), 'ns/b', now);
    if (!other.ok) throw new Error(other.message);
    expect(other.source.pairDigest).not.toBe(pair.digest);
    expect(samePublication(readPublished(written), { pair: pairOf(other.source) })).toBe(false);
  });
});
