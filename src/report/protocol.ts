// How a pool's pods tell the pool controller what they see. Each signer and responder pod writes
// one key of the ConfigMap `<pool>-report` (server-side apply, its own field manager, so pods never
// conflict); the controller watches that ConfigMap. This works the same with the embedded store,
// which only the pod can read, and with Redis, and needs no network path from the operator to pods.
// A pod writes only when what its report says changes (`quantizeReport`, `sameReport`): every write
// wakes the pool controller, so a pool at rest must not write at all. `time` is when the report
// last changed; whether it still counts is the kubelet's word (the pod's endpoint), not its age.
import { z } from 'zod';
import type { KubeApi } from '../kube/api.js';
import { ConfigMapType, type KubeObject } from '../kube/types.js';
import { sameJson } from '../runtime/same-json.js';
import { LABEL_POOL } from '../api/annotations.js';

export interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

export const reportConfigMapName = (pool: string): string => `${pool}-report`;

const SignerReportSchema = z.object({
  kind: z.literal('signer'),
  pod: z.string(),
  time: z.number(),
  certificates: z.number().int().min(0),
  due: z.number().int().min(0),
  missing: z.number().int().min(0),
  revoked: z.number().int().min(0),
  oldestThisUpdate: z.number().optional(),
  soonestNextUpdate: z.number().optional(),
  /** The certificate that has waited longest for a first response, and since when (its notBefore). */
  oldestMissing: z.object({ serial: z.string(), since: z.number() }).optional(),
  /** Signatures per second of this pod over its last busy round. */
  rate: z.number().min(0).optional(),
  signer: z.object({ serial: z.string(), subject: z.string(), notAfter: z.number() }).optional(),
  issuerNotAfter: z.number().optional(),
  outlivingTheirSigner: z.number().int().min(0).default(0),
  /** The share of the serials this pod signed in its last round, `index/count` (index >= count: none). */
  share: z
    .string()
    .regex(/^\d+\/\d+$/)
    .optional(),
  /** Signatures this signer process made since it started: summed over pods, it shows double signing. */
  signedTotal: z.number().int().min(0).optional(),
  /**
   * The database sources this signer reads itself (postgres): what its last read found. `lagging`
   * and `failed` mean its rounds sign nothing; the pool's SourcesReadable condition says so.
   */
  sources: z
    .array(
      z.object({
        /** the source as the spec names it, e.g. `sources[1].postgres` */
        name: z.string(),
        state: z.enum(['pending', 'read', 'lagging', 'failed']),
        /** the server's replication lag at the last read (bucketed, as the responders' lag) */
        lagMs: z.number().min(0).optional(),
        maxLagMs: z.number().min(0),
        certificates: z.number().int().min(0).optional(),
        problems: z.number().int().min(0).optional(),
        message: z.string().optional(),
      }),
    )
    .optional(),
});

const ResponderReportSchema = z.object({
  kind: z.literal('responder'),
  pod: z.string(),
  time: z.number(),
  ready: z.boolean(),
  lagMs: z.number().min(0),
  detached: z.boolean(),
});

export type SignerReport = z.input<typeof SignerReportSchema>;
export type ResponderReport = z.input<typeof ResponderReportSchema>;
export type Report = SignerReport | ResponderReport;

const ReportSchema = z.discriminatedUnion('kind', [SignerReportSchema, ResponderReportSchema]);

/** Writes this pod's report under its own key. */
export async function writeReport(client: KubeApi, o: { namespace: string; pool: string; report: Report }): Promise<void> {
  const key = `${o.report.kind}.${o.report.pod}`;
  const cm: ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: reportConfigMapName(o.pool), namespace: o.namespace, labels: { [LABEL_POOL]: o.pool } },
    data: { [key]: JSON.stringify(o.report) },
  };
  await client.apply(ConfigMapType, cm, `report-${key}`.slice(0, 128));
}

/** Lag under this is the sawtooth of the follower's poll or the writer's 1 s heartbeat: reported as 0. */
export const LAG_NOISE_FLOOR_MS = 2_000;

/** The lower bound of lag's 1-2-5 bucket (0, 2 s, 5 s, 10 s, 20 s, 50 s, ...): changes rarely, still says how far behind. */
export function lagBucketMs(ms: number): number {
  if (!(ms >= LAG_NOISE_FLOOR_MS)) return 0;
  if (!Number.isFinite(ms)) return 24 * 3_600_000;
  let bound = 1_000;
  for (;;) {
    for (const f of [2, 5, 10]) {
      if (ms < bound * f) return bound * (f === 2 ? 1 : f === 5 ? 2 : 5);
    }
    bound *= 10;
  }
}

/** Two significant figures: a measured rate moves a little every round without saying anything new. */
const twoFigures = (x: number) => (x > 0 ? Number(x.toPrecision(2)) : 0);
const toSecond = (ms: number) => Math.round(ms / 1000) * 1000;

/** The report with its noisy numbers rounded to what the controller acts on (instants to the second). */
export function quantizeReport<R extends Report>(r: R): R {
  if (r.kind === 'responder') return { ...r, lagMs: lagBucketMs(r.lagMs) };
  return {
    ...r,
    ...(r.oldestThisUpdate !== undefined ? { oldestThisUpdate: toSecond(r.oldestThisUpdate) } : {}),
    ...(r.soonestNextUpdate !== undefined ? { soonestNextUpdate: toSecond(r.soonestNextUpdate) } : {}),
    ...(r.oldestMissing ? { oldestMissing: { ...r.oldestMissing, since: toSecond(r.oldestMissing.since) } } : {}),
    ...(r.rate !== undefined ? { rate: twoFigures(r.rate) } : {}),
    // Lag bucketed (an unknown one, Infinity, becomes a day: JSON has no Infinity); row counts move with every issuance.
    ...(r.sources
      ? {
          sources: r.sources.map((s) => ({
            ...s,
            ...(s.lagMs !== undefined ? { lagMs: lagBucketMs(s.lagMs) } : {}),
            ...(s.certificates !== undefined ? { certificates: twoFigures(s.certificates) } : {}),
          })),
        }
      : {}),
  };
}

/** Whether two reports say the same, `time` aside. */
export function sameReport(a: Report | undefined, b: Report | undefined): boolean {
  if (!a || !b) return a === b;
  const { time: _a, ...x } = a;
  const { time: _b, ...y } = b;
  return sameJson(x, y);
}

export interface PoolReports {
  signers: Array<z.output<typeof SignerReportSchema>>;
  responders: Array<z.output<typeof ResponderReportSchema>>;
  /** Keys that could not be read, named so the controller can say so. */
  unreadable: string[];
}

/** The reports in a ConfigMap, whatever their age: which pods still count is for the caller to say. */
export function readReports(cm: ConfigMap | undefined): PoolReports {
  const out: PoolReports = { signers: [], responders: [], unreadable: [] };
  for (const [key, text] of Object.entries(cm?.data ?? {})) {
    let parsed;
    try {
      parsed = ReportSchema.safeParse(JSON.parse(text));
    } catch {
      parsed = undefined;
    }
    if (!parsed?.success) {
      out.unreadable.push(key);
      continue;
    }
    const r = parsed.data;
    if (r.kind === 'signer') out.signers.push(r);
    else out.responders.push(r);
  }
  return out;
}
