// The staple Secret: one object that carries a certificate, its key and the validated OCSP
// response for exactly that certificate, written in one update so a consumer can never read a
// staple beside another certificate. The keys serve each consumer unchanged:
//   tls.crt, tls.key, ca.crt     any TLS server; Envoy/Istio/kgateway read tls.ocsp-staple beside them
//   tls.ocsp-staple              DER response; nginx `ssl_stapling_file`
//   haproxy.pem, haproxy.pem.ocsp, haproxy.pem.issuer
//                                HAProxy `crt haproxy.pem` loads `<pem>.ocsp` and `<pem>.issuer` next to
//                                it; the issuer lets it compute the CertID when tls.crt is leaf-only
import { createHash } from 'node:crypto';
import { API_GROUP_VERSION, KIND_STAPLE } from '../api/group.js';
import type { Secret } from '../kube/types.js';
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

/** One certificate generation as published: the certificate and key travel together. */
export interface CertificatePair {
  certPem: string;
  keyPem: string;
  caPem?: string;
  /** The issuer the staple was validated against (from the chain, ca.crt or spec.issuerSecretRef). */
  issuerPem: string;
  serial: string;
  sha256: string;
}

export interface PublishedStaple {
  der: Uint8Array;
  thisUpdate: string;
  nextUpdate: string;
  usableUntil: string;
}

export interface Published {
  pair: CertificatePair;
  staple?: PublishedStaple;
}

const b64 = (s: string | Uint8Array) => Buffer.from(s).toString('base64');

export function stapleSha256(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

export function buildStapleSecret(o: {
  namespace: string;
  name: string;
  owner: { name: string; uid: string };
  published: Published;
}): Secret {
  const { pair, staple } = o.published;
  const data: Record<string, string> = {
    'tls.crt': b64(pair.certPem),
    'tls.key': b64(pair.keyPem),
    [HAPROXY_PEM_KEY]: b64(`${pair.certPem.trimEnd()}\n${pair.keyPem.trimEnd()}\n`),
    [HAPROXY_ISSUER_KEY]: b64(pair.issuerPem),
  };
  if (pair.caPem) data['ca.crt'] = b64(pair.caPem);
  const annotations: Record<string, string> = {
    [ANNOTATION_SERIAL]: pair.serial,
    [ANNOTATION_SHA256]: pair.sha256,
  };
  if (staple) {
    data[STAPLE_KEY] = b64(staple.der);
    data[HAPROXY_OCSP_KEY] = b64(staple.der);
    annotations[ANNOTATION_THIS_UPDATE] = staple.thisUpdate;
    annotations[ANNOTATION_NEXT_UPDATE] = staple.nextUpdate;
    annotations[ANNOTATION_STAPLE_SHA256] = stapleSha256(staple.der);
    annotations[ANNOTATION_USABLE_UNTIL] = staple.usableUntil;
  }
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

/** What a staple Secret currently publishes, or undefined when it is not ours or not readable. */
export function readPublished(secret: Secret | undefined): Published | undefined {
  const a = secret?.metadata?.annotations ?? {};
  const d = secret?.data ?? {};
  const serial = a[ANNOTATION_SERIAL];
  const sha256 = a[ANNOTATION_SHA256];
  const cert = d['tls.crt'];
  const key = d['tls.key'];
  const issuer = d[HAPROXY_ISSUER_KEY];
  if (!serial || !sha256 || !cert || !key || !issuer) return undefined;
  const text = (v: string) => Buffer.from(v, 'base64').toString('utf8');
  const pair: CertificatePair = {
    certPem: text(cert),
    keyPem: text(key),
    issuerPem: text(issuer),
    serial,
    sha256,
    caPem: d['ca.crt'] ? text(d['ca.crt']) : undefined,
  };
  const der = d[STAPLE_KEY];
  const thisUpdate = a[ANNOTATION_THIS_UPDATE];
  const nextUpdate = a[ANNOTATION_NEXT_UPDATE];
  const usableUntil = a[ANNOTATION_USABLE_UNTIL];
  const staple =
    der && thisUpdate && nextUpdate && usableUntil
      ? { der: new Uint8Array(Buffer.from(der, 'base64')), thisUpdate, nextUpdate, usableUntil }
      : undefined;
  return { pair, staple };
}

/** True when two publications would write the same Secret contents. */
export function samePublication(a: Published | undefined, b: Published): boolean {
  if (!a) return false;
  const stapleA = a.staple ? stapleSha256(a.staple.der) : '';
  const stapleB = b.staple ? stapleSha256(b.staple.der) : '';
  return (
    a.pair.sha256 === b.pair.sha256 &&
    a.pair.certPem === b.pair.certPem &&
    a.pair.keyPem === b.pair.keyPem &&
    a.pair.caPem === b.pair.caPem &&
    a.pair.issuerPem === b.pair.issuerPem &&
    stapleA === stapleB
  );
}
