// The recent Events (events.k8s.io/v1) about one object, as `kubectl describe` ends with them:
// selected on the server by regarding kind, name and uid (so a deleted and re-made object's old
// Events stay out), newest last. Events are a help, not the verdict: without the right to list them
// inspect says so and goes on.
import { isNotFound, KubeApiError, resourcePath } from '../kube/client.js';
import { EventType, type KubeList, type KubeObject, type ResourceType } from '../kube/types.js';
import { humanDuration, table } from './format.js';
import type { Connection } from './kube.js';

export interface EventView {
  type: string;
  reason: string;
  /** The last time it happened. */
  time: string | undefined;
  count: number;
  /** When it first happened, if it happened more than once. */
  firstTime?: string;
  from: string;
  note: string;
}

interface EventObject extends KubeObject {
  type?: string;
  reason?: string;
  note?: string;
  eventTime?: string | null;
  reportingController?: string;
  series?: { count?: number; lastObservedTime?: string };
  deprecatedCount?: number;
  deprecatedFirstTimestamp?: string | null;
  deprecatedLastTimestamp?: string | null;
  deprecatedSource?: { component?: string };
}

export type RecentEvents = { ok: true; events: EventView[] } | { ok: false; message: string };

/** At most `limit`, the newest. */
export async function recentEvents(conn: Connection, type: ResourceType, obj: KubeObject, limit = 10): Promise<RecentEvents> {
  const m = obj.metadata ?? {};
  const fieldSelector = [
    `regarding.kind=${type.kind}`,
    `regarding.name=${m.name ?? ''}`,
    ...(m.uid ? [`regarding.uid=${m.uid}`] : []),
  ].join(',');
  let list: KubeList<EventObject>;
  try {
    list = await conn.client.request<KubeList<EventObject>>('GET', resourcePath(EventType, { namespace: m.namespace ?? conn.namespace }), {
      query: { fieldSelector, limit: 500 },
    });
  } catch (e) {
    if (e instanceof KubeApiError && (e.status === 403 || e.status === 401))
      return { ok: false, message: `cannot list events in ${m.namespace}: ${e.reason}` };
    if (isNotFound(e)) return { ok: false, message: 'the cluster serves no events.k8s.io/v1 API' };
    throw e;
  }
  const views = list.items.map((e): EventView => {
    const count = e.series?.count ?? e.deprecatedCount ?? 1;
    const time = e.series?.lastObservedTime ?? e.deprecatedLastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? undefined;
    const first = e.deprecatedFirstTimestamp ?? e.eventTime ?? undefined;
    return {
      type: e.type ?? '',
      reason: e.reason ?? '',
      time: time ?? undefined,
      count,
      ...(count > 1 && first ? { firstTime: first } : {}),
      from: e.reportingController ?? e.deprecatedSource?.component ?? '',
      note: e.note ?? '',
    };
  });
  const t = (v: EventView) => (v.time ? Date.parse(v.time) : 0);
  views.sort((a, b) => t(a) - t(b));
  return { ok: true, events: views.slice(-limit) };
}

/** "Events:" and a table, or "Events: <none>", as kubectl describe prints them. */
export function eventsText(r: RecentEvents, now: Date): string {
  if (!r.ok) return `Events:  (${r.message})`;
  if (!r.events.length) return 'Events:  <none>';
  const age = (v: EventView) => {
    const last = v.time ? humanDuration(now.getTime() - Date.parse(v.time)) : '?';
    return v.count > 1 && v.firstTime ? `${last} (x${v.count} over ${humanDuration(now.getTime() - Date.parse(v.firstTime))})` : last;
  };
  return [
    'Events:',
    table(
      ['type', 'reason', 'age', 'from', 'message'],
      r.events.map((v) => [v.type, v.reason, age(v), v.from, v.note]),
    ).replace(/^/gm, '  '),
  ].join('\n');
}
