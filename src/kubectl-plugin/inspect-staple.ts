// `kubectl ocsp inspect staple NAME`: an OcspStaple's spec in brief, its status (conditions,
// certificate, staple, schedule, failures), and the staple Secret it writes, checked for lockstep.
import { parseOcspStaple, stapleSecretNameFor } from '../api/index.js';
import { OcspStapleType, SecretType, type KubeObject, type Secret } from '../kube/types.js';
import type { Problem } from '../probe/check.js';
import { keyValues, table, when, type Row } from './format.js';
import { checkSecret, getOrNotFound, nextSteps, type CommandResult } from './inspect-secret.js';
import { UsageError } from './errors.js';
import type { Connection } from './kube.js';
import { checkJson, lockstepText, stapleRows } from './staple-view.js';
import { eventsText, recentEvents } from './events.js';
import { ANNOTATION_REFRESH_REQUESTED } from '../api/annotations.js';

/** `object`: the OcspStaple already read (by a list), else it is read by name. */
export async function inspectStaple(conn: Connection, name: string, now: Date, object?: KubeObject): Promise<CommandResult> {
  const raw = object ?? (await getOrNotFound<KubeObject>(conn, OcspStapleType, conn.namespace, name));
  const refreshRequested = raw.metadata?.annotations?.[ANNOTATION_REFRESH_REQUESTED];
  const parsed = parseOcspStaple(raw);
  if (!parsed.ok) throw new UsageError(parsed.message);
  const s = parsed.value;
  const st = s.status;
  const stapleName = st?.stapleSecretName ?? stapleSecretNameFor(s.spec);
  const problems: Problem[] = [];

  const ready = st?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status === 'False') problems.push({ reason: ready.reason, message: `Ready=False: ${ready.message}` });

  const secret = await conn.client.getOrUndefined<Secret>(SecretType, conn.namespace, stapleName);
  let secretRows: Row[] = [['exists', 'no']];
  let secretJson: unknown = null;
  let check;
  if (secret) {
    const r = checkSecret(secret, now);
    check = r.check;
    // a NotApplicable staple (no OCSP URL) has no staple on purpose; checkStaple already skips it
    for (const p of [...r.check.problems, ...r.consistency]) if (!problems.some((q) => q.reason === p.reason)) problems.push(p);
    secretRows = [
      ['certificate', r.check.certificate.serial],
      ...stapleRows(r.check, now).map(([k, v]) => [`staple ${k}`, v] as Row),
      ['lockstep', lockstepText(r.check)],
    ];
    secretJson = { name: stapleName, ...checkJson(r.check), consistency: r.consistency };
  } else if (st) {
    problems.push({ reason: 'NoStapleSecret', message: `staple Secret ${conn.namespace}/${stapleName} does not exist` });
  }

  const rows: Row[] = [
    ['OcspStaple', `${conn.namespace}/${name}`],
    [
      'Spec',
      [
        ['secret', s.spec.secretName],
        ['staple secret', stapleName],
        ['responder', s.spec.responderURL ?? "the certificate's AIA OCSP URL"],
        ['request', `${s.spec.method}, ${s.spec.hashAlgorithm} CertID${s.spec.nonce ? ', nonce' : ''}`],
        ['on renewal', s.spec.onRenewal],
        [
          'refresh',
          `at ${s.spec.refresh.fraction} of the window ±${s.spec.refresh.jitter}; retry ${s.spec.refresh.retryInitial}..${s.spec.refresh.retryMax}`,
        ],
        ['paused', s.spec.paused ? 'yes' : undefined],
      ],
    ],
    [
      'Refresh requested',
      refreshRequested === undefined
        ? undefined
        : `${refreshRequested} (pending: the operator fetches, no sooner than ${s.spec.refresh.minInterval} after its last attempt, then removes the request)`,
    ],
  ];
  if (!st) {
    rows.push(['Status', 'no status yet (the operator has not reconciled it)']);
  } else {
    const c = st.certificate;
    const sp = st.staple;
    rows.push([
      'Status',
      [
        [
          'certificate',
          c ? [c.serial ?? '?', c.subject, c.notAfter ? `(not after ${c.notAfter})` : undefined].filter(Boolean).join(' ') : 'none',
        ],
        [
          'staple',
          sp
            ? [
                sp.certStatus ?? '?',
                sp.thisUpdate ? `this update ${sp.thisUpdate}` : undefined,
                sp.nextUpdate ? `next update ${sp.nextUpdate}` : undefined,
              ]
                .filter(Boolean)
                .join('; ')
            : 'none',
        ],
        [
          'signer',
          sp?.signer
            ? `${sp.signer.subject ?? '?'}${sp.signer.delegated ? ` (delegated, until ${sp.signer.notAfter ?? '?'})` : ''}`
            : undefined,
        ],
        ['usable until', when(sp?.usableUntil, now)],
        ['next refresh', when(st.nextRefreshTime, now)],
        ['last success', when(st.lastSuccessTime, now)],
        [
          'failures',
          st.consecutiveFailures
            ? `${st.consecutiveFailures} (last: ${st.lastFailure?.reason ?? '?'}: ${st.lastFailure?.message ?? ''})`
            : undefined,
        ],
      ],
    ]);
  }
  const conditions = st?.conditions ?? [];
  const condText = conditions.length
    ? table(
        ['type', 'status', 'reason', 'since', 'message'],
        conditions.map((c) => [c.type, c.status, c.reason, c.lastTransitionTime, c.message]),
      )
    : undefined;
  rows.push([`Staple Secret ${stapleName}`, secretRows]);
  rows.push(['Next', nextSteps(s, check, now).map((l, i) => [`${i + 1}`, l] as Row)]);
  rows.push(['Verdict', problems.length ? `PROBLEM: ${problems.map((p) => `${p.reason}: ${p.message}`).join('; ')}` : 'OK']);
  const events = await recentEvents(conn, OcspStapleType, raw);
  const text = [
    keyValues(rows.slice(0, -2)),
    ...(condText ? ['Conditions:', condText.replace(/^/gm, '  ')] : []),
    eventsText(events, now),
    keyValues(rows.slice(-2)),
  ].join('\n');
  return {
    exit: problems.length ? 1 : 0,
    text,
    json: {
      kind: 'OcspStapleInspection',
      ocspStaple: { namespace: conn.namespace, name },
      spec: s.spec,
      status: st ?? null,
      stapleSecret: secretJson,
      refreshRequested: refreshRequested ?? null,
      events: events.ok ? events.events : null,
      next: nextSteps(s, check, now),
      problems,
      ok: problems.length === 0,
    },
  };
}
