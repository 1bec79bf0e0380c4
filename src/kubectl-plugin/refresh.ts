// `kubectl ocsp refresh NAME... | -l SELECTOR | --all | -A`: asks the operator to fetch a new OCSP
// response now, as cmctl renew asks cert-manager for a new certificate: an annotation with the time
// of the request, which the operator removes once it has made the attempt (no sooner than
// spec.refresh.minInterval after its previous one). --wait waits for that and reports the outcome.
import { findCondition } from '../api/condition.js';
import type { OcspStapleStatus } from '../api/index.js';
import { OcspStapleType, type KubeObject } from '../kube/types.js';
import { ANNOTATION_REFRESH_REQUESTED } from '../api/annotations.js';
import type { CommandResult } from './inspect-secret.js';
import type { Connection } from './kube.js';

type Staple = KubeObject & { spec?: { paused?: boolean; refresh?: { minInterval?: string } }; status?: OcspStapleStatus };

interface Outcome {
  namespace: string;
  name: string;
  requested: string;
  paused: boolean;
  /** with --wait: the annotation was removed by the operator */
  served?: boolean;
  ready?: { status: string; reason: string; message: string } | null;
  lastAttemptTime?: string | null;
  thisUpdate?: string | null;
  lastFailure?: { reason?: string; message?: string } | null;
}

const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export async function refreshCommand(
  conn: Connection,
  staples: KubeObject[],
  o: { wait: boolean; timeoutMs: number; now: () => Date; pollMs?: number },
): Promise<CommandResult> {
  const outcomes: Outcome[] = [];
  for (const s of staples as Staple[]) {
    const requested = rfc3339(o.now());
    const ref = { namespace: s.metadata?.namespace ?? conn.namespace, name: s.metadata?.name ?? '' };
    await conn.client.mergePatch(OcspStapleType, ref, { metadata: { annotations: { [ANNOTATION_REFRESH_REQUESTED]: requested } } });
    outcomes.push({ ...ref, requested, paused: s.spec?.paused === true });
  }
  if (o.wait) {
    const deadline = Date.now() + o.timeoutMs;
    let pending = outcomes.filter((x) => !x.paused);
    // Bounded by --timeout; one GET per pending staple per poll.
    while (pending.length) {
      for (const x of pending) {
        const cur = await conn.client.getOrUndefined<Staple>(OcspStapleType, x.namespace, x.name);
        if (!cur || cur.metadata?.annotations?.[ANNOTATION_REFRESH_REQUESTED] !== undefined) continue;
        const ready = findCondition(cur.status?.conditions, 'Ready');
        x.served = true;
        x.ready = ready ? { status: ready.status, reason: ready.reason, message: ready.message } : null;
        x.lastAttemptTime = cur.status?.lastAttemptTime ?? null;
        x.thisUpdate = cur.status?.staple?.thisUpdate ?? null;
        x.lastFailure = (cur.status?.consecutiveFailures ?? 0) > 0 ? (cur.status?.lastFailure ?? null) : null;
      }
      pending = pending.filter((x) => !x.served);
      if (!pending.length || Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, o.pollMs ?? 250));
    }
    for (const x of pending) x.served = false;
  }
  const line = (x: Outcome): string => {
    const who = `ocspstaple ${x.namespace}/${x.name}`;
    if (x.paused)
      return `${who}: refresh requested at ${x.requested}, but the staple is paused (spec.paused): nothing is fetched until it is resumed`;
    if (!o.wait) return `${who}: refresh requested at ${x.requested}`;
    if (!x.served)
      return `${who}: refresh requested at ${x.requested}, not served within ${Math.round(o.timeoutMs / 1000)}s (the operator serves it no sooner than spec.refresh.minInterval after its last attempt; is it running?)`;
    if (x.lastFailure) return `${who}: refresh failed: ${x.lastFailure.reason ?? '?'}: ${x.lastFailure.message ?? ''}`;
    return `${who}: refreshed: Ready=${x.ready?.status ?? '?'} (${x.ready?.reason ?? '?'})${x.thisUpdate ? `, staple thisUpdate ${x.thisUpdate}` : ''}`;
  };
  const bad = o.wait && outcomes.some((x) => x.paused || !x.served || x.lastFailure || x.ready?.status !== 'True');
  return {
    exit: bad ? 1 : 0,
    text: outcomes.length ? outcomes.map(line).join('\n') : 'no OcspStaples selected',
    json: { kind: 'OcspStapleRefresh', annotation: ANNOTATION_REFRESH_REQUESTED, items: outcomes },
  };
}
