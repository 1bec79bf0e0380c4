// How a pool's pods tell the pool controller what they see. Each signer and responder pod writes
// one key of the ConfigMap `<pool>-report` (server-side apply, its own field manager, so pods never
// conflict); the controller watches that ConfigMap. This works the same with the embedded store,
// which only the pod can read, and with Redis, and needs no network path from the operator to pods.
import { z } from 'zod';
import type { KubeClient } from '../kube/client.js';
import type { KubeObject } from '../kube/types.js';
import type { ResourceType } from '../kube/types.js';

export const ConfigMapType: ResourceType = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true };
export const LABEL_POOL = 'ocsp-operator.dev/pool';

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
export async function writeReport(client: KubeClient, o: { namespace: string; pool: string; report: Report }): Promise<void> {
  const key = `${o.report.kind}.${o.report.pod}`;
  const cm: ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: reportConfigMapName(o.pool), namespace: o.namespace, labels: { [LABEL_POOL]: o.pool } },
    data: { [key]: JSON.stringify(o.report) },
  };
  await client.apply(ConfigMapType, cm, `report-${key}`.slice(0, 128));
}

export interface PoolReports {
  signers: Array<z.output<typeof SignerReportSchema>>;
  responders: Array<z.output<typeof ResponderReportSchema>>;
  /** Keys that could not be read, named so the controller can say so. */
  unreadable: string[];
}

/** The reports in a ConfigMap that are younger than `maxAgeMs` (older ones are from gone pods). */
export function readReports(cm: ConfigMap | undefined, now: number, maxAgeMs: number): PoolReports {
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
    if (now - r.time > maxAgeMs) continue;
    if (r.kind === 'signer') out.signers.push(r);
    else out.responders.push(r);
  }
  return out;
}
