// `kubectl ocsp get staples|pools`: one line per object, with times relative to now (what
// `kubectl get` cannot print from a CRD's printer columns): when the staple stops being usable,
// when the next refresh is, how old the pool's oldest response is. `-o wide` adds the details.
import { findCondition } from '../api/condition.js';
import type { OcspResponderPoolStatus, OcspStapleStatus } from '../api/index.js';
import type { KubeObject } from '../kube/types.js';
import { ANNOTATION_REFRESH_REQUESTED } from '../api/annotations.js';
import type { Kind } from './args.js';
import { humanDuration, relative, table } from './format.js';

const ago = (t: string | undefined, now: Date) => (t ? humanDuration(now.getTime() - Date.parse(t)) : '<none>');
const rel = (t: string | undefined, now: Date) => (t && !Number.isNaN(Date.parse(t)) ? relative(new Date(t), now) : '<none>');

interface Column {
  header: string;
  wide?: boolean;
  cell(o: KubeObject, now: Date): string;
}

type WithStatus<S> = KubeObject & { spec?: Record<string, unknown>; status?: S };

function ready(o: KubeObject, what: 'status' | 'reason'): string {
  const c = (o as { status?: { conditions?: Array<{ type: string; status: string; reason: string }> } }).status?.conditions?.find(
    (x) => x.type === 'Ready',
  );
  return c ? c[what] : what === 'status' ? 'Unknown' : '<none>';
}

const stapleColumns: Column[] = [
  { header: 'name', cell: (o) => o.metadata?.name ?? '' },
  { header: 'ready', cell: (o) => ready(o, 'status') },
  { header: 'reason', cell: (o) => ready(o, 'reason') },
  { header: 'ocsp', cell: (o) => (o as WithStatus<OcspStapleStatus>).status?.staple?.certStatus ?? '<none>' },
  {
    header: 'usable until',
    cell: (o, now) => {
      const u = (o as WithStatus<OcspStapleStatus>).status?.staple?.usableUntil;
      return u && Date.parse(u) <= now.getTime() ? `EXPIRED ${rel(u, now)}` : rel(u, now);
    },
  },
  { header: 'next refresh', cell: (o, now) => rel((o as WithStatus<OcspStapleStatus>).status?.nextRefreshTime, now) },
  { header: 'age', cell: (o, now) => ago(o.metadata?.creationTimestamp, now) },
  { header: 'secret', wide: true, cell: (o) => String((o as WithStatus<OcspStapleStatus>).spec?.secretName ?? '') },
  { header: 'serial', wide: true, cell: (o) => (o as WithStatus<OcspStapleStatus>).status?.certificate?.serial ?? '<none>' },
  {
    header: 'fresh',
    wide: true,
    cell: (o) => findCondition((o as WithStatus<OcspStapleStatus>).status?.conditions, 'Fresh')?.reason ?? '<none>',
  },
  { header: 'failures', wide: true, cell: (o) => String((o as WithStatus<OcspStapleStatus>).status?.consecutiveFailures ?? 0) },
  { header: 'last success', wide: true, cell: (o, now) => rel((o as WithStatus<OcspStapleStatus>).status?.lastSuccessTime, now) },
  { header: 'refresh requested', wide: true, cell: (o) => o.metadata?.annotations?.[ANNOTATION_REFRESH_REQUESTED] ?? '<none>' },
];

const poolColumns: Column[] = [
  { header: 'name', cell: (o) => o.metadata?.name ?? '' },
  { header: 'ready', cell: (o) => ready(o, 'status') },
  { header: 'reason', cell: (o) => ready(o, 'reason') },
  { header: 'certificates', cell: (o) => String((o as WithStatus<OcspResponderPoolStatus>).status?.certificates ?? '<none>') },
  { header: 'backlog', cell: (o) => String((o as WithStatus<OcspResponderPoolStatus>).status?.backlog ?? '<none>') },
  {
    header: 'oldest response',
    cell: (o, now) => {
      const t = (o as WithStatus<OcspResponderPoolStatus>).status?.oldestResponse;
      return t ? `${ago(t, now)} old` : '<none>';
    },
  },
  {
    header: 'signers',
    cell: (o) => {
      const s = (o as WithStatus<OcspResponderPoolStatus>).status?.signers;
      return s ? `${s.ready ?? '?'}/${s.desired ?? '?'}` : '<none>';
    },
  },
  { header: 'responders', cell: (o) => String((o as WithStatus<OcspResponderPoolStatus>).status?.responders?.ready ?? '<none>') },
  { header: 'age', cell: (o, now) => ago(o.metadata?.creationTimestamp, now) },
  {
    header: 'store',
    wide: true,
    cell: (o) => String(((o as WithStatus<OcspResponderPoolStatus>).spec?.store as { type?: string } | undefined)?.type ?? ''),
  },
  { header: 'missing', wide: true, cell: (o) => String((o as WithStatus<OcspResponderPoolStatus>).status?.missing ?? '<none>') },
  { header: 'revoked', wide: true, cell: (o) => String((o as WithStatus<OcspResponderPoolStatus>).status?.revoked ?? '<none>') },
  {
    header: 'out of rotation',
    wide: true,
    cell: (o) => (o as WithStatus<OcspResponderPoolStatus>).status?.responders?.outOfRotation?.join(',') || '<none>',
  },
];

/** The table `get` prints; the NAMESPACE column only with -A, as kubectl does. */
export function getTable(
  kind: Exclude<Kind, 'secret'>,
  objects: KubeObject[],
  o: { wide: boolean; allNamespaces: boolean; now: Date },
): string {
  const cols = (kind === 'staple' ? stapleColumns : poolColumns).filter((c) => o.wide || !c.wide);
  const all: Column[] = o.allNamespaces ? [{ header: 'namespace', cell: (x) => x.metadata?.namespace ?? '' }, ...cols] : cols;
  return table(
    all.map((c) => c.header),
    objects.map((x) => all.map((c) => c.cell(x, o.now))),
  );
}
