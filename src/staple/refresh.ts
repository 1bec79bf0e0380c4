// One refresh attempt: ask the certificate's responder for a response and judge it for publication
// (decision.ts). Each outcome is timed under its result (ocsp_operator_staple_fetch_duration_seconds)
// and logged; a failure comes back as a reason and a message that name the responder. When to
// attempt and when to look again are decided in decision.ts, with the arithmetic in schedule.ts.
import type { Logger } from 'pino';
import { parseDuration } from '../api/duration.js';
import { formatDateTime as iso } from '../api/time.js';
import type { OcspStapleSpec } from '../api/staple.js';
import { buildOcspRequest, type ValidatedResponse } from '../ocsp/index.js';
import { judgeResponse, type Attempt, type ResponseChecks } from './decision.js';
import { fetchOcspResponse } from './fetch.js';
import type { StapleMetrics } from './metrics.js';
import type { SourceCertificate } from './source.js';

export async function attemptRefresh(o: {
  cert: SourceCertificate;
  url: string;
  spec: Pick<OcspStapleSpec, 'hashAlgorithm' | 'nonce' | 'method' | 'requestTimeout' | 'publishUnknown'>;
  checks: ResponseChecks;
  now: number;
  /** The staple held for this certificate: an older response does not replace it. */
  held?: ValidatedResponse;
  metrics: Pick<StapleMetrics, 'fetchDuration'>;
  log: Logger;
}): Promise<Attempt> {
  const { cert, url, spec, log } = o;
  const req = buildOcspRequest({ cert: cert.leaf, issuer: cert.issuer, hashAlgorithm: spec.hashAlgorithm, nonce: spec.nonce });
  const fetched = await fetchOcspResponse({ url, requestDer: req.der, method: spec.method, timeoutMs: parseDuration(spec.requestTimeout) });
  const result = (r: string) => o.metrics.fetchDuration.observe({ result: r }, fetched.latencyMs / 1000);
  if (!fetched.ok) {
    result(fetched.reason);
    log.warn({ responder: url, reason: fetched.reason, detail: fetched.message }, 'OCSP fetch failed');
    return { ok: false, reason: fetched.reason, message: fetched.message };
  }
  const attempt = judgeResponse({
    body: fetched.body,
    url,
    serial: cert.serial,
    checks: o.checks,
    now: o.now,
    nonce: req.nonce,
    held: o.held,
    publishUnknown: spec.publishUnknown,
  });
  result(attempt.ok ? 'ok' : attempt.reason);
  if (attempt.ok) {
    const r = attempt.response;
    log.info(
      {
        responder: url,
        serial: cert.serial,
        certStatus: r.certStatus,
        nextUpdate: iso(r.nextUpdate),
        latencyMs: Math.round(fetched.latencyMs),
      },
      'OCSP response validated',
    );
  } else if (attempt.reason === 'ResponderSaysUnknown') {
    log.warn({ responder: url, serial: cert.serial }, 'OCSP responder says unknown; not published');
  } else if (attempt.reason !== 'NotNewer') {
    log.warn({ responder: url, reason: attempt.reason, detail: attempt.detail }, 'OCSP response rejected');
  }
  return attempt;
}
