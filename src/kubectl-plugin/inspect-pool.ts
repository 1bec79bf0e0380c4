// `kubectl ocsp inspect pool NAME`: an OcspResponderPool's status against its own thresholds —
// backlog, the oldest response, the certificate waiting longest, signers, responders, and each
// store replica's lag. The pool controller writes that status; until it has, this says so.
import { parseDateTime, parseDuration, parseOcspResponderPool, type OcspResponderPool } from '../api/index.js';
import { OcspResponderPoolType, type KubeObject } from '../kube/types.js';
import type { Problem } from '../probe/check.js';
import { humanDuration, keyValues, table, when, type Row } from './format.js';
import { getOrNotFound, type CommandResult } from './inspect-secret.js';
import { UsageError } from './errors.js';
import type { Connection } from './kube.js';
import { eventsText, recentEvents } from './events.js';

export function poolProblems(p: OcspResponderPool, now: Date): Problem[] {
  const st = p.status;
  const t = p.spec.thresholds;
  const out: Problem[] = [];
  if (!st) return out;
  const ready = st.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status === 'False') out.push({ reason: ready.reason, message: `Ready=False: ${ready.message}` });
  const age = st.oldestResponse === undefined ? undefined : now.getTime() - parseDateTime(st.oldestResponse).getTime();
  if (age !== undefined) {
    if (age >= parseDuration(t.freshnessCriticalAge)) {
      out.push({
        reason: 'ResponsesCritical',
        message: `oldest response is ${humanDuration(age)} old, past freshnessCriticalAge ${t.freshnessCriticalAge}`,
      });
    } else if (age >= parseDuration(t.freshnessWarningAge)) {
      out.push({
        reason: 'ResponsesStale',
        message: `oldest response is ${humanDuration(age)} old, past freshnessWarningAge ${t.freshnessWarningAge}`,
      });
    }
  }
  if (st.oldestUnsigned) {
    const waited = now.getTime() - new Date(st.oldestUnsigned.since).getTime();
    if (waited > parseDuration(t.newCertificateTarget)) {
      out.push({
        reason: 'NewCertificateWaiting',
        message: `certificate ${st.oldestUnsigned.serial} has waited ${humanDuration(waited)} for its first response (target ${t.newCertificateTarget})`,
      });
    }
  }
  const maxLag = parseDuration(p.spec.responder.maxReplicationLag);
  for (const r of st.replication ?? []) {
    if (r.inRotation === false || (r.lagSeconds !== undefined && r.lagSeconds * 1000 > maxLag)) {
      out.push({
        reason: 'ReplicaLagging',
        message: `replica ${r.replica} lags ${r.lagSeconds ?? '?'}s (max ${p.spec.responder.maxReplicationLag})${r.inRotation === false ? ', out of rotation' : ''}`,
      });
    }
  }
  if (st.responders?.outOfRotation?.length) {
    out.push({ reason: 'RespondersOutOfRotation', message: `responders out of rotation: ${st.responders.outOfRotation.join(', ')}` });
  }
  const dr = st.delegatedResponder?.notAfter;
  if (dr && new Date(dr).getTime() - now.getTime() < parseDuration(t.signerExpiryWarning)) {
    out.push({
      reason: 'SignerExpiring',
      message: `delegated responder certificate ${st.delegatedResponder?.serial ?? ''} expires ${when(dr, now)} (warning at ${t.signerExpiryWarning})`,
    });
  }
  return out;
}

function hasStatus(p: OcspResponderPool): boolean {
  const st = p.status;
  return st !== undefined && Object.values(st).some((v) => v !== undefined && !(Array.isArray(v) && v.length === 0));
}

/** `object`: the OcspResponderPool already read (by a list), else it is read by name. */
export async function inspectPool(conn: Connection, name: string, now: Date, object?: KubeObject): Promise<CommandResult> {
  const raw = object ?? (await getOrNotFound<KubeObject>(conn, OcspResponderPoolType, conn.namespace, name));
  const parsed = parseOcspResponderPool(raw);
  if (!parsed.ok) throw new UsageError(parsed.message);
  const p = parsed.value;
  const st = p.status;
  const problems = poolProblems(p, now);
  const spec = p.spec;
  const rows: Row[] = [
    ['OcspResponderPool', `${conn.namespace}/${name}`],
    [
      'Spec',
      [
        ['issuer', `Secret ${spec.issuer.secretName}`],
        [
          'signing',
          spec.signing.pkcs11
            ? `PKCS#11 token ${spec.signing.pkcs11.tokenLabel}, key ${spec.signing.pkcs11.keyLabel}, ${spec.signing.pkcs11.sessions} sessions`
            : `software key (Secret ${spec.signing.softwareKey?.secretName ?? '?'})`,
        ],
        ['validity', `${spec.responseValidity}, re-signed at ${spec.refreshAge}`],
        [
          'store',
          spec.store.type === 'Redis'
            ? `Redis ${spec.store.redis?.primaryURL ?? ''} + ${spec.store.redis?.replicaURLs?.length ?? 0} replica(s)`
            : 'Embedded',
        ],
        [
          'responder pods',
          `${spec.responder.replicas ?? (spec.store.type === 'Embedded' ? 1 : 2)} replica(s), max replication lag ${spec.responder.maxReplicationLag}`,
        ],
        [
          'signer scaling',
          `${spec.signers.minReplicas}..${spec.signers.maxReplicas} pods, drain the backlog within ${spec.signers.targetDrainTime}`,
        ],
      ],
    ],
  ];
  let replicationTable: string | undefined;
  if (!st || !hasStatus(p)) {
    rows.push(['Status', 'no status yet (the pool controller has not reported on this pool)']);
  } else {
    rows.push([
      'Status',
      [
        ['certificates', st.certificates?.toString()],
        [
          'backlog',
          st.backlog === undefined ? undefined : `${st.backlog}${st.missing !== undefined ? ` (${st.missing} without any response)` : ''}`,
        ],
        ['revoked', st.revoked?.toString()],
        [
          'oldest response',
          st.oldestResponse
            ? `signed ${when(st.oldestResponse, now)} (warning ${spec.thresholds.freshnessWarningAge}, critical ${spec.thresholds.freshnessCriticalAge})`
            : undefined,
        ],
        ['oldest unsigned', st.oldestUnsigned ? `${st.oldestUnsigned.serial} since ${when(st.oldestUnsigned.since, now)}` : undefined],
        [
          'signers',
          st.signers
            ? `${st.signers.ready ?? '?'}/${st.signers.desired ?? '?'} ready${st.signers.signaturesPerSecond !== undefined ? `, ${st.signers.signaturesPerSecond} signatures/s` : ''}`
            : undefined,
        ],
        [
          'responders',
          st.responders
            ? `${st.responders.ready ?? '?'} ready${st.responders.outOfRotation?.length ? `, out of rotation: ${st.responders.outOfRotation.join(', ')}` : ''}`
            : undefined,
        ],
        [
          'delegated signer',
          st.delegatedResponder
            ? `${st.delegatedResponder.serial ?? '?'} until ${when(st.delegatedResponder.notAfter, now) ?? '?'}`
            : undefined,
        ],
      ],
    ]);
    if (st.replication?.length) {
      const maxLag = parseDuration(spec.responder.maxReplicationLag);
      replicationTable = table(
        ['replica', 'lag', 'in rotation', 'state'],
        st.replication.map((r) => [
          r.replica,
          r.lagSeconds === undefined ? '?' : `${r.lagSeconds}s`,
          r.inRotation === undefined ? '?' : r.inRotation ? 'yes' : 'no',
          r.inRotation === false || (r.lagSeconds !== undefined && r.lagSeconds * 1000 > maxLag) ? 'LAGGING' : 'ok',
        ]),
      );
    }
  }
  const conditions = st?.conditions ?? [];
  const events = await recentEvents(conn, OcspResponderPoolType, raw);
  const verdict: Row[] = [['Verdict', problems.length ? `PROBLEM: ${problems.map((x) => `${x.reason}: ${x.message}`).join('; ')}` : 'OK']];
  const text = [
    keyValues(rows),
    ...(replicationTable ? ['Replication:', replicationTable.replace(/^/gm, '  ')] : []),
    ...(conditions.length
      ? [
          'Conditions:',
          table(
            ['type', 'status', 'reason', 'message'],
            conditions.map((c) => [c.type, c.status, c.reason, c.message]),
          ).replace(/^/gm, '  '),
        ]
      : []),
    eventsText(events, now),
    keyValues(verdict),
  ].join('\n');
  return {
    exit: problems.length ? 1 : 0,
    text,
    json: {
      kind: 'OcspResponderPoolInspection',
      pool: { namespace: conn.namespace, name },
      hasStatus: hasStatus(p),
      status: st ?? null,
      events: events.ok ? events.events : null,
      problems,
      ok: problems.length === 0,
    },
  };
}
