// Probe endpoints declared on the resources: an OcspStaple may name the TLS servers that serve its
// staple Secret, `ocsp-operator.dev/probe-endpoints: "web.shop.svc:443@shop.example.com, …"`; the
// operator's prober then probes those, besides any endpoints file.
import type { Logger } from 'pino';
import type { KubeObject } from '../kube/types.js';
import { endpointName, parseEndpoint, type Endpoint } from './endpoint.js';
import { ANNOTATION_PROBE_ENDPOINTS } from '../api/annotations.js';

/** The endpoints declared by a set of OcspStaples, plus the fixed ones; bad entries are logged and skipped. */
export function declaredEndpoints(staples: KubeObject[], fixed: Endpoint[], log: Logger): Endpoint[] {
  const out = new Map(fixed.map((e) => [endpointName(e), e]));
  for (const s of staples) {
    const text = s.metadata?.annotations?.[ANNOTATION_PROBE_ENDPOINTS];
    if (!text) continue;
    for (const item of text
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean)) {
      try {
        const e = parseEndpoint(item);
        out.set(endpointName(e), e);
      } catch (err) {
        log.warn(
          {
            object: `${s.metadata?.namespace}/${s.metadata?.name}`,
            annotation: ANNOTATION_PROBE_ENDPOINTS,
            entry: item,
            err: err instanceof Error ? err.message : String(err),
          },
          'bad probe endpoint; skipped',
        );
      }
    }
  }
  return [...out.values()];
}
