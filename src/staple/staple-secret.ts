// The staple Secret: one object that carries a certificate, its key and the validated OCSP
// response for exactly that certificate, written in one update so a consumer can never read a
// staple beside another certificate. The keys serve each consumer unchanged:
//   tls.crt, tls.key, ca.crt     any TLS server; Envoy/Istio/kgateway read tls.ocsp-staple beside them
//   tls.ocsp-staple              DER response; nginx `ssl_stapling_file`
//   haproxy.pem, haproxy.pem.ocsp, haproxy.pem.issuer
//                                HAProxy `crt haproxy.pem` loads `<pem>.ocsp` and `<pem>.issuer` next to
//                                it; the issuer lets it compute the CertID when tls.crt is leaf-only
import { createHash } from 'node:crypto';
import { children, readTlv } from '../ocsp/der.js';
import { x509Time } from '../ocsp/der-time.js';
import { API_GROUP_VERSION, KIND_STAPLE } from '../api/group.js';
import type { KubeObject, Secret } from '../kube/types.js';
import {
  ANNOTATION_NEXT_UPDATE,
  ANNOTATION_SERIAL,
  ANNOTATION_SHA256,
  ANNOTATION_STAPLE_SHA256,
  ANNOTATION_THIS_UPDATE,
  ANNOTATION_USABLE_UNTIL,
  LABEL_STAPLE,
} from '../api/annotations.js';

export const STAPLE_KEY = 'tls.ocsp-staple';
export const HAPROXY_PEM_KEY = 'haproxy.pem';
export const HAPROXY_OCSP_KEY = 'haproxy.pem.ocsp';
export const HAPROXY_ISSUER_KEY = 'haproxy.pem.issuer';

/** A certificate generation's PEM texts, as the staple Secret carries them. */
export interface PairPems {
  certPem: string;
  keyPem: string;
  caPem?: string;
  /** The issuer the staple was validated against (from the chain, ca.crt or spec.issuerSecretRef). */
  issuerPem: string;
}

/** One certificate generation as published: the certificate and key travel together. */
export interface CertificatePair {
  serial: string;
  sha256: string;
  /** pairDigest of what the pair writes: comparing a publication needs no PEM. */
  digest: string;
  /** The PEMs, printed only for a write. */
  pems(): PairPems;
}

export interface PublishedStaple {
  der: Uint8Array;
  thisUpdate: string;
  nextUpdate: string;
  usableUntil: string;
}

/** What the reconciler writes: a certificate generation, and the staple validated for it. */
export interface Published {
  pair: CertificatePair;
  staple?: PublishedStaple;
}

/**
 * What a staple Secret publishes, as read from it: the pair by its identity (annotations, and its
 * leaf's notAfter), the staple, and a digest of everything this controller writes there. The PEMs
 * are not kept: a controller holding ten thousand of them would hold the cluster's key material
 * twice over, and the digest says all a comparison needs (publish() reads them back on the rare
 * write that keeps the published pair).
 */
export interface Publication {
  pair: { serial: string; sha256: string; notAfter: number };
  staple?: PublishedStaple;
  digest: string;
}

const b64 = (s: string | Uint8Array) => Buffer.from(s).toString('base64');

export function stapleSha256(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

const PAIR_DATA_KEYS = ['tls.crt', 'tls.key', 'ca.crt', HAPROXY_PEM_KEY, HAPROXY_ISSUER_KEY];
const PAIR_ANNOTATION_KEYS = [ANNOTATION_SERIAL, ANNOTATION_SHA256];
const STAPLE_DATA_KEYS = [STAPLE_KEY, HAPROXY_OCSP_KEY];
const STAPLE_ANNOTATION_KEYS = [ANNOTATION_THIS_UPDATE, ANNOTATION_NEXT_UPDATE, ANNOTATION_STAPLE_SHA256, ANNOTATION_USABLE_UNTIL];

type Fields = { data: Record<string, string>; annotations: Record<string, string> };

function pairFields(pems: PairPems, serial: string, sha256: string): Fields {
  const data: Record<string, string> = {
    'tls.crt': b64(pems.certPem),
    'tls.key': b64(pems.keyPem),
    [HAPROXY_PEM_KEY]: b64(`${pems.certPem.trimEnd()}\n${pems.keyPem.trimEnd()}\n`),
    [HAPROXY_ISSUER_KEY]: b64(pems.issuerPem),
  };
  if (pems.caPem) data['ca.crt'] = b64(pems.caPem);
  return { data, annotations: { [ANNOTATION_SERIAL]: serial, [ANNOTATION_SHA256]: sha256 } };
}

function stapleFields(staple: PublishedStaple | undefined): Fields {
  if (!staple) return { data: {}, annotations: {} };
  const der = b64(staple.der);
  return {
    data: { [STAPLE_KEY]: der, [HAPROXY_OCSP_KEY]: der },
    annotations: {
      [ANNOTATION_THIS_UPDATE]: staple.thisUpdate,
      [ANNOTATION_NEXT_UPDATE]: staple.nextUpdate,
      [ANNOTATION_STAPLE_SHA256]: stapleSha256(staple.der),
      [ANNOTATION_USABLE_UNTIL]: staple.usableUntil,
    },
  };
}

/** SHA-256 over the given fields (data as base64, as stored), absent ones marked. */
function digestOf(f: Fields, dataKeys: string[], annotationKeys: string[], prefix = ''): string {
  const h = createHash('sha256').update(prefix);
  for (const k of dataKeys) h.update(`${k}\0${f.data[k] ?? '-'}\0`);
  for (const k of annotationKeys) h.update(`${k}\0${f.annotations[k] ?? '-'}\0`);
  return h.digest('hex');
}

const pairDigestOf = (f: Fields) => digestOf(f, PAIR_DATA_KEYS, PAIR_ANNOTATION_KEYS);

/** The digest of the pair's fields in a staple Secret: computed once per certificate generation read. */
export function pairDigest(pems: PairPems, serial: string, sha256: string): string {
  return pairDigestOf(pairFields(pems, serial, sha256));
}

/** Equal digests of everything this controller writes into a staple Secret: a write would change nothing. */
function publicationDigest(pairDigestHex: string, f: Fields): string {
  return digestOf(f, STAPLE_DATA_KEYS, STAPLE_ANNOTATION_KEYS, `${pairDigestHex}\0`);
}

export function buildStapleSecret(o: {
  namespace: string;
  name: string;
  owner: { name: string; uid: string };
  published: Published;
}): Secret {
  const { pair, staple } = o.published;
  const fromPair = pairFields(pair.pems(), pair.serial, pair.sha256);
  const fromStaple = stapleFields(staple);
  const data = { ...fromPair.data, ...fromStaple.data };
  const annotations = { ...fromPair.annotations, ...fromStaple.annotations };
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: {
      name: o.name,
      namespace: o.namespace,
      labels: { [LABEL_STAPLE]: o.owner.name, 'app.kubernetes.io/managed-by': 'ocsp-operator' },
      annotations,
      ownerReferences: [
        {
          apiVersion: API_GROUP_VERSION,
          kind: KIND_STAPLE,
          name: o.owner.name,
          uid: o.owner.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    data,
  };
}

const OUR_ANNOTATION_KEYS = new Set([...PAIR_ANNOTATION_KEYS, ...STAPLE_ANNOTATION_KEYS]);

/**
 * The body of the PUT that rewrites an existing staple Secret: `desired` over the metadata others
 * keep on it (labels, annotations, finalizers, other owners), at the version read, so a write
 * made since is a 409 rather than lost. Its data and type are this controller's alone.
 */
export function overCurrent(current: KubeObject, desired: Secret): Secret {
  const m = current.metadata ?? {};
  const d = desired.metadata ?? {};
  const theirs = Object.entries(m.annotations ?? {}).filter(([k]) => !OUR_ANNOTATION_KEYS.has(k));
  const ours = new Set((d.ownerReferences ?? []).map((r) => r.uid));
  return {
    ...desired,
    metadata: {
      ...d,
      resourceVersion: m.resourceVersion,
      labels: { ...m.labels, ...d.labels },
      annotations: { ...Object.fromEntries(theirs), ...d.annotations },
      ...(m.finalizers ? { finalizers: m.finalizers } : {}),
      ownerReferences: [...(m.ownerReferences ?? []).filter((r) => !ours.has(r.uid)), ...(d.ownerReferences ?? [])],
    },
  };
}

/** What a staple Secret currently publishes, or undefined when it is not ours or not readable. */
export function readPublished(secret: Secret | undefined): Publication | undefined {
  const a = secret?.metadata?.annotations ?? {};
  const d = secret?.data ?? {};
  const serial = a[ANNOTATION_SERIAL];
  const sha256 = a[ANNOTATION_SHA256];
  const cert = d['tls.crt'];
  if (!serial || !sha256 || !cert || !d['tls.key'] || !d[HAPROXY_ISSUER_KEY]) return undefined;
  const notAfter = leafNotAfter(Buffer.from(cert, 'base64').toString('latin1'));
  if (notAfter === undefined) return undefined;
  const der = d[STAPLE_KEY];
  const thisUpdate = a[ANNOTATION_THIS_UPDATE];
  const nextUpdate = a[ANNOTATION_NEXT_UPDATE];
  const usableUntil = a[ANNOTATION_USABLE_UNTIL];
  const staple =
    der && thisUpdate && nextUpdate && usableUntil
      ? { der: new Uint8Array(Buffer.from(der, 'base64')), thisUpdate, nextUpdate, usableUntil }
      : undefined;
  const stored = { data: d, annotations: a };
  const digest = publicationDigest(pairDigestOf(stored), stored);
  return { pair: { serial, sha256, notAfter }, staple, digest };
}

/**
 * The notAfter of the first certificate of a PEM text, read from its DER where it stands (a full
 * parse of the certificate costs a hundred times more, and only this date is wanted); undefined
 * when it cannot be read.
 */
function leafNotAfter(pem: string): number | undefined {
  const body = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem)?.[1];
  if (!body) return undefined;
  try {
    const der = new Uint8Array(Buffer.from(body, 'base64'));
    const tbs = children(der, readTlv(der, 0))[0];
    const fields = tbs ? children(der, tbs) : [];
    const validity = fields[fields[0]?.tag === 0xa0 ? 4 : 3];
    const notAfter = validity && children(der, validity)[1];
    return notAfter ? x509Time(der, notAfter).getTime() : undefined;
  } catch {
    return undefined;
  }
}

/** The pair a staple Secret publishes, PEMs included: for a write that keeps it (and drops its staple). */
export function readPair(secret: Secret): CertificatePair | undefined {
  const a = secret.metadata?.annotations ?? {};
  const d = secret.data ?? {};
  const serial = a[ANNOTATION_SERIAL];
  const sha256 = a[ANNOTATION_SHA256];
  const [cert, key, issuer] = [d['tls.crt'], d['tls.key'], d[HAPROXY_ISSUER_KEY]];
  if (!serial || !sha256 || !cert || !key || !issuer) return undefined;
  const text = (v: string) => Buffer.from(v, 'base64').toString('utf8');
  const pems: PairPems = {
    certPem: text(cert),
    keyPem: text(key),
    issuerPem: text(issuer),
    caPem: d['ca.crt'] ? text(d['ca.crt']) : undefined,
  };
  return { serial, sha256, digest: pairDigestOf({ data: d, annotations: a }), pems: () => pems };
}

/**
 * True when the Secret publishing `a` already holds `b`: a publication to write (compared by
 * digest), or `a` itself with or without its staple.
 */
export function samePublication(a: Publication | undefined, b: Published | Publication): boolean {
  if (!a) return false;
  if ('digest' in b) return b.digest === a.digest && b.staple === a.staple;
  return publicationDigest(b.pair.digest, stapleFields(b.staple)) === a.digest;
}

/**
 * What each staple's Secret publishes, remembered per version of the Secret (by uid and
 * resourceVersion, which its metadata shows): one small entry per staple in place of the Secret.
 */
export class Publications {
  private readonly byStaple = new Map<string, { uid: string; resourceVersion: string; publication?: Publication }>();

  get(stapleKey: string, meta: KubeObject): { publication?: Publication } | undefined {
    const e = this.byStaple.get(stapleKey);
    const m = meta.metadata;
    return e && e.uid === m?.uid && e.resourceVersion === m.resourceVersion ? e : undefined;
  }

  set(stapleKey: string, secret: Secret, publication: Publication | undefined): void {
    const { uid, resourceVersion } = secret.metadata ?? {};
    if (uid && resourceVersion) this.byStaple.set(stapleKey, { uid, resourceVersion, publication });
    else this.byStaple.delete(stapleKey);
  }

  forget(stapleKey: string): void {
    this.byStaple.delete(stapleKey);
  }
}
