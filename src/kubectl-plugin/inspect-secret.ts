// `kubectl ocsp inspect secret NAME`: the certificate in a Secret, the staple beside it, whether the
// two are in lockstep (the staple validated against that very certificate), whether the Secret's
// keys and annotations agree with each other, and what the owning OcspStaple will do next.
import { createHash } from 'node:crypto';
import type { X509Certificate } from '@peculiar/x509';
import { parseOcspStaple, type OcspStaple } from '../api/index.js';
import { isNotFound } from '../kube/client.js';
import { OcspStapleType, SecretType, type KubeObject, type ResourceType, type Secret } from '../kube/types.js';
import { parsePemChain, serialHex } from '../ocsp/index.js';
import { checkStaple, type Problem, type StapleCheck } from '../probe/check.js';
import { ANNOTATION_SERIAL, ANNOTATION_SHA256, ANNOTATION_STAPLE_SHA256 } from '../api/annotations.js';
import { HAPROXY_ISSUER_KEY, HAPROXY_OCSP_KEY, HAPROXY_PEM_KEY, STAPLE_KEY } from '../staple/staple-secret.js';
import { keyValues, when, type Row } from './format.js';
import { NotFoundError, UsageError } from './errors.js';
import type { Connection } from './kube.js';
import { certificateRows, checkJson, lockstepText, stapleRows } from './staple-view.js';

export interface CommandResult {
  json: unknown;
  text: string;
  /** 0 all well, 1 a problem found */
  exit: 0 | 1;
}

const bytes = (v: string | undefined) => (v === undefined ? undefined : new Uint8Array(Buffer.from(v, 'base64')));
const text = (v: string | undefined) => (v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8'));
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

export async function getOrNotFound<T extends KubeObject>(
  conn: Connection,
  type: ResourceType,
  namespace: string,
  name: string,
): Promise<T> {
  try {
    return await conn.client.get<T>(type, namespace, name);
  } catch (e) {
    if (isNotFound(e)) throw new NotFoundError(`${type.kind} ${namespace}/${name} not found (context ${conn.context})`);
    throw e;
  }
}

function pem(v: string | undefined, what: string): X509Certificate[] {
  const t = text(v);
  if (t === undefined) return [];
  try {
    return parsePemChain(t);
  } catch (e) {
    throw new UsageError(`${what}: ${(e as Error).message}`);
  }
}

/** The check of a Secret's tls.crt and tls.ocsp-staple, with its issuer from the chain, ca.crt or haproxy.pem.issuer. */
export function checkSecret(secret: Secret, now: Date): { check: StapleCheck; consistency: Problem[] } {
  const d = secret.data ?? {};
  const ref = `Secret ${secret.metadata?.namespace}/${secret.metadata?.name}`;
  if (!d['tls.crt']) throw new UsageError(`${ref} has no tls.crt: not a certificate Secret`);
  const chain = pem(d['tls.crt'], `${ref} tls.crt`);
  const candidates = [...pem(d['ca.crt'], `${ref} ca.crt`), ...pem(d[HAPROXY_ISSUER_KEY], `${ref} ${HAPROXY_ISSUER_KEY}`)];
  const staple = bytes(d[STAPLE_KEY]);
  const check = checkStaple({ chain, issuerCandidates: candidates, now, ...(staple ? { staple } : {}) });

  // The keys each consumer reads must tell the same story, and the annotations must describe them.
  const consistency: Problem[] = [];
  const a = secret.metadata?.annotations ?? {};
  const serial = check.certificate.serial;
  if (a[ANNOTATION_SERIAL] !== undefined && a[ANNOTATION_SERIAL] !== serial) {
    consistency.push({
      reason: 'AnnotationMismatch',
      message: `annotation ${ANNOTATION_SERIAL} says ${a[ANNOTATION_SERIAL]}, tls.crt holds ${serial}`,
    });
  }
  if (a[ANNOTATION_SHA256] !== undefined && a[ANNOTATION_SHA256] !== check.certificate.sha256) {
    consistency.push({
      reason: 'AnnotationMismatch',
      message: `annotation ${ANNOTATION_SHA256} says ${a[ANNOTATION_SHA256]}, tls.crt's leaf is ${check.certificate.sha256}`,
    });
  }
  if (staple && a[ANNOTATION_STAPLE_SHA256] !== undefined && a[ANNOTATION_STAPLE_SHA256] !== sha256(staple)) {
    consistency.push({
      reason: 'AnnotationMismatch',
      message: `annotation ${ANNOTATION_STAPLE_SHA256} says ${a[ANNOTATION_STAPLE_SHA256]}, ${STAPLE_KEY} is ${sha256(staple)}`,
    });
  }
  if (!staple && a[ANNOTATION_STAPLE_SHA256] !== undefined) {
    consistency.push({
      reason: 'AnnotationMismatch',
      message: `annotation ${ANNOTATION_STAPLE_SHA256} is set but there is no ${STAPLE_KEY}`,
    });
  }
  if (d[HAPROXY_OCSP_KEY] !== undefined || d[HAPROXY_PEM_KEY] !== undefined) {
    if ((d[HAPROXY_OCSP_KEY] ?? '') !== (d[STAPLE_KEY] ?? '')) {
      consistency.push({
        reason: 'ConsumerKeysDiffer',
        message: `${HAPROXY_OCSP_KEY} and ${STAPLE_KEY} differ: HAProxy and nginx/Envoy would serve different staples`,
      });
    }
    const hp = d[HAPROXY_PEM_KEY] ? pem(d[HAPROXY_PEM_KEY], `${ref} ${HAPROXY_PEM_KEY}`)[0] : undefined;
    if (d[HAPROXY_PEM_KEY] && (!hp || serialHex(hp) !== serial)) {
      consistency.push({
        reason: 'ConsumerKeysDiffer',
        message: `${HAPROXY_PEM_KEY} holds certificate ${hp ? serialHex(hp) : 'none'}, tls.crt holds ${serial}`,
      });
    }
  }
  return { check, consistency };
}

interface Relation {
  role: 'staple' | 'source' | 'unmanaged';
  staple?: OcspStaple;
  /** the raw object when it does not parse */
  stapleRef?: string;
  parseError?: string;
}

async function relation(conn: Connection, secret: Secret): Promise<Relation> {
  const ns = secret.metadata?.namespace ?? conn.namespace;
  const name = secret.metadata?.name ?? '';
  const owner = secret.metadata?.ownerReferences?.find((o) => o.kind === OcspStapleType.kind && o.controller);
  let candidates: unknown[];
  if (owner) {
    const raw = await conn.client.getOrUndefined<KubeObject>(OcspStapleType, ns, owner.name);
    if (!raw) return { role: 'staple', stapleRef: `${ns}/${owner.name} (owner, not found)` };
    candidates = [raw];
  } else {
    candidates = (await conn.client.list<KubeObject>(OcspStapleType, { namespace: ns })).items;
  }
  for (const raw of candidates) {
    const parsed = parseOcspStaple(raw);
    const ref = `${ns}/${(raw as KubeObject).metadata?.name ?? '?'}`;
    if (!parsed.ok) {
      if (owner) return { role: 'staple', stapleRef: ref, parseError: parsed.message };
      continue;
    }
    const s = parsed.value;
    const stapleName = s.status?.stapleSecretName ?? s.spec.stapleSecretName ?? `${s.spec.secretName}-ocsp`;
    if (owner || stapleName === name) return { role: 'staple', staple: s, stapleRef: ref };
    if (s.spec.secretName === name) return { role: 'source', staple: s, stapleRef: ref };
  }
  return { role: 'unmanaged' };
}

/** What the OcspStaple will do next, in sentences. */
export function nextSteps(s: OcspStaple | undefined, check: StapleCheck | undefined, now: Date): string[] {
  const out: string[] = [];
  if (!s) {
    out.push('no OcspStaple manages this Secret: nothing will refresh its staple');
    if (check?.staple.expiresAt) out.push(`the staple stops being usable ${when(check.staple.expiresAt, now)}`);
    return out;
  }
  const st = s.status;
  if (s.spec.paused) out.push('paused (spec.paused): nothing is fetched or written');
  if (!st) {
    out.push('the OcspStaple has no status yet: the operator has not reconciled it');
    return out;
  }
  for (const type of ['Ready', 'Fresh']) {
    const c = st.conditions?.find((x) => x.type === type);
    if (c) out.push(`${type}=${c.status} (${c.reason}): ${c.message}`);
  }
  if (st.nextRefreshTime) out.push(`next refresh ${when(st.nextRefreshTime, now)}`);
  if (st.consecutiveFailures) {
    const f = st.lastFailure;
    out.push(
      `${st.consecutiveFailures} consecutive failed refresh(es)${f ? `; last ${f.time ? `${when(f.time, now)} ` : ''}${f.reason ?? ''}: ${f.message ?? ''}` : ''}; retried with backoff`,
    );
  }
  const until = st.staple?.usableUntil ?? check?.staple.expiresAt;
  if (until && check?.staple.present) out.push(`without a successful refresh the staple is removed ${when(until, now)}`);
  return out;
}

/** `object`: the Secret already read (by a list), else it is read by name. */
export async function inspectSecret(conn: Connection, name: string, now: Date, object?: Secret): Promise<CommandResult> {
  const secret = object ?? (await getOrNotFound<Secret>(conn, SecretType, conn.namespace, name));
  const { check, consistency } = checkSecret(secret, now);
  const rel = await relation(conn, secret);
  const problems = [...check.problems];
  // A source certificate Secret is not where the staple lives: its missing staple is no problem.
  if (rel.role === 'source') {
    const i = problems.findIndex((p) => p.reason === 'NoStaple');
    if (i >= 0 && !check.staple.present) problems.splice(i, 1);
  }
  problems.push(...consistency);

  let published: { name: string; serial?: string } | undefined;
  if (rel.role === 'source' && rel.staple) {
    const stapleName = rel.staple.status?.stapleSecretName ?? rel.staple.spec.stapleSecretName ?? `${rel.staple.spec.secretName}-ocsp`;
    const ss = await conn.client.getOrUndefined<Secret>(SecretType, conn.namespace, stapleName);
    published = {
      name: stapleName,
      ...(ss?.metadata?.annotations?.[ANNOTATION_SERIAL] ? { serial: ss.metadata.annotations[ANNOTATION_SERIAL] } : {}),
    };
  }
  const next = rel.role === 'source' ? nextSteps(rel.staple, undefined, now) : nextSteps(rel.staple, check, now);
  if (rel.parseError) next.unshift(`the owning OcspStaple does not parse: ${rel.parseError}`);

  const roleText =
    rel.role === 'staple'
      ? `staple Secret of OcspStaple ${rel.stapleRef ?? '?'}`
      : rel.role === 'source'
        ? `source certificate of OcspStaple ${rel.stapleRef ?? '?'} (staple Secret ${published?.name ?? '?'})`
        : 'not managed by an OcspStaple';
  const rows: Row[] = [
    ['Secret', `${conn.namespace}/${name}`],
    ['Role', roleText],
    ['Certificate', certificateRows(check.certificate, check.issuer, now)],
    ['Staple', stapleRows(check, now)],
    ['Lockstep', lockstepText(check)],
  ];
  if (published) {
    rows.push([
      'Published',
      !published.serial
        ? `${published.name} does not exist yet`
        : published.serial === check.certificate.serial
          ? `${published.name} publishes this certificate`
          : `${published.name} publishes certificate ${published.serial}, not this one (${check.certificate.serial}): a renewal is in progress (spec.onRenewal: ${rel.staple?.spec.onRenewal ?? '?'})`,
    ]);
  }
  if (consistency.length) rows.push(['Consistency', consistency.map((p) => `${p.reason}: ${p.message}`).join('; ')]);
  else if (secret.metadata?.annotations?.[ANNOTATION_SERIAL]) rows.push(['Consistency', 'keys and annotations agree']);
  rows.push(['Next', next.map((l, i) => [`${i + 1}`, l] as Row)]);
  rows.push(['Verdict', problems.length ? `PROBLEM: ${problems.map((p) => `${p.reason}: ${p.message}`).join('; ')}` : 'OK']);

  return {
    exit: problems.length ? 1 : 0,
    text: keyValues(rows),
    json: {
      kind: 'SecretInspection',
      secret: { namespace: conn.namespace, name },
      role: rel.role,
      ...(rel.stapleRef ? { ocspStaple: rel.stapleRef } : {}),
      ...checkJson(check),
      ...(published ? { published } : {}),
      consistency,
      next,
      problems,
      ok: problems.length === 0,
    },
  };
}
