// Reading a certificate Secret as cert-manager writes it (tls.crt: leaf then chain, tls.key,
// maybe ca.crt) into what the staple controller needs: the leaf, its issuer, where its OCSP
// responder is, and the identity (serial, SHA-256) of this certificate generation. Every problem
// comes back as a reason and a message that name the Secret and the field.
import type { X509Certificate } from '@peculiar/x509';
import {
  findIssuer,
  isIssuedBy,
  isMustStaple,
  keyMatchesCertificate,
  ocspUrls,
  parsePemChain,
  serialHex,
  sha256Fingerprint,
} from '../ocsp/index.js';
import type { Secret } from '../kube/types.js';

export interface CertificateSource {
  leaf: X509Certificate;
  issuer: X509Certificate;
  certPem: string; // tls.crt as found: the server sends this chain
  keyPem: string;
  caPem?: string;
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

export type SourceResult = { ok: true; source: CertificateSource } | { ok: false; reason: SourceProblemReason; message: string };

const decode = (data: Record<string, string> | undefined, key: string): string | undefined => {
  const v = data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
};

function tryParse(pem: string): X509Certificate[] | Error {
  try {
    return parsePemChain(pem);
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/**
 * @param issuerPem the issuer from spec.issuerSecretRef, when tls.crt carries only the leaf
 */
export function readCertificateSecret(secret: Secret | undefined, ref: string, now: number, issuerPem?: string): SourceResult {
  if (!secret) return { ok: false, reason: 'SecretNotFound', message: `certificate Secret ${ref} does not exist (yet)` };
  const certPem = decode(secret.data, 'tls.crt');
  if (!certPem) return { ok: false, reason: 'CertificateMissing', message: `Secret ${ref} has no tls.crt` };
  const chain = tryParse(certPem);
  if (chain instanceof Error) return { ok: false, reason: 'CertificateInvalid', message: `Secret ${ref} tls.crt: ${chain.message}` };
  const leaf = chain[0];
  if (!leaf) return { ok: false, reason: 'CertificateInvalid', message: `Secret ${ref} tls.crt holds no certificate` };
  const keyPem = decode(secret.data, 'tls.key');
  if (!keyPem) return { ok: false, reason: 'KeyMissing', message: `Secret ${ref} has no tls.key` };
  if (!safeKeyMatch(keyPem, leaf)) {
    return { ok: false, reason: 'KeyMismatch', message: `Secret ${ref}: tls.key is not the key of the certificate in tls.crt (serial ${serialHex(leaf)})` };
  }
  // cert-manager's temporary certificate, shown while the real one is issued, is self-signed.
  if (leaf.subject === leaf.issuer && isIssuedBy(leaf, leaf)) {
    return { ok: false, reason: 'TemporaryCertificate', message: `Secret ${ref} holds a self-signed (temporary) certificate; waiting for the issued one` };
  }
  if (leaf.notAfter.getTime() <= now) {
    return { ok: false, reason: 'CertificateExpired', message: `certificate in Secret ${ref} (serial ${serialHex(leaf)}) expired at ${leaf.notAfter.toISOString()}` };
  }
  const caPem = decode(secret.data, 'ca.crt');
  const candidates = [...chain.slice(1)];
  for (const extra of [caPem, issuerPem]) {
    if (!extra) continue;
    const parsed = tryParse(extra);
    if (!(parsed instanceof Error)) candidates.push(...parsed);
  }
  const issuer = findIssuer(leaf, candidates);
  if (!issuer) {
    return {
      ok: false,
      reason: 'IssuerNotFound',
      message: `no issuer of ${leaf.subject} (issued by ${leaf.issuer}) in Secret ${ref} tls.crt or ca.crt${issuerPem ? ' or spec.issuerSecretRef' : ''}`,
    };
  }
  return {
    ok: true,
    source: {
      leaf,
      issuer,
      certPem,
      keyPem,
      caPem,
      serial: serialHex(leaf),
      sha256: sha256Fingerprint(leaf),
      ocspUrl: ocspUrls(leaf)[0],
      mustStaple: isMustStaple(leaf),
    },
  };
}

function safeKeyMatch(keyPem: string, leaf: X509Certificate): boolean {
  try {
    return keyMatchesCertificate(keyPem, leaf);
  } catch {
    return false; // an unreadable key does not match
  }
}
