// Relying parties asking a responder about certificates, at a steady rate, until stopped: so that
// the responder's request counters and latency histogram move while a Prometheus watches (a rate
// over a window without requests is 0, and a latency quantile of no requests is NaN). The
// certificates come from TLS Secrets (`tls.crt`: the leaf, then its issuer), as a client finds them
// on a server; the responder's URL is the first certificate's AIA OCSP URL.
import 'reflect-metadata';
import type { KubeClient } from '../../src/kube/client.js';
import { SecretType, type Secret } from '../../src/kube/types.js';
import { buildOcspRequest, ocspGetUrl } from '../../src/ocsp/request.js';
import { ocspUrls, parsePemChain } from '../../src/ocsp/certificate.js';
import { postOcsp } from './openssl.js';

export interface OcspTraffic {
  /** The responder asked. */
  url: string;
  /** Requests sent and how many got an HTTP answer, by status code. */
  sent(): { total: number; byStatus: Record<number, number> };
  stop(): Promise<void>;
}

/** Every `intervalMs`, one POST and one GET per certificate of the named Secrets, to the first one's responder. */
export async function startOcspTraffic(
  client: KubeClient,
  namespace: string,
  secretNames: readonly string[],
  o: { intervalMs?: number } = {},
): Promise<OcspTraffic> {
  const requests: Uint8Array[] = [];
  let url: string | undefined;
  for (const name of secretNames) {
    const s = await client.get<Secret>(SecretType, namespace, name);
    const [leaf, issuer] = parsePemChain(Buffer.from(s.data?.['tls.crt'] ?? '', 'base64'));
    if (!leaf || !issuer) throw new Error(`Secret ${namespace}/${name} has no leaf and issuer in tls.crt`);
    url ??= ocspUrls(leaf)[0];
    requests.push(buildOcspRequest({ cert: leaf, issuer }).der);
  }
  if (!url) throw new Error(`no AIA OCSP URL in ${secretNames[0] ?? '(none)'}`);
  const target = url;
  let total = 0;
  const byStatus: Record<number, number> = {};
  const ask = async (send: () => Promise<{ status: number }>) => {
    total++;
    const r = await send().catch(() => undefined);
    if (r) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
  };
  let inFlight: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    inFlight = Promise.all(
      requests.flatMap((der) => [
        ask(() => postOcsp(target, der, 2_000)),
        ask(() => fetch(ocspGetUrl(target, der), { signal: AbortSignal.timeout(2_000) }).then(async (r) => (await r.arrayBuffer(), r))),
      ]),
    );
  }, o.intervalMs ?? 250);
  return {
    url: target,
    sent: () => ({ total, byStatus: { ...byStatus } }),
    async stop() {
      clearInterval(timer);
      await inFlight;
    },
  };
}
