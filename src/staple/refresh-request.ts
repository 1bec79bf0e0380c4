// "Fetch a new response now", asked for through an annotation on the OcspStaple (what
// `kubectl ocsp refresh` writes, like cmctl renew). The staple reconciler treats a staple carrying
// it as due, but never sooner than spec.refresh.minInterval after its last attempt (so the
// annotation cannot be turned into a fetch storm against a responder), and removes it once the
// attempt is done. Its value is the time of the request (RFC 3339), for people: the operator does
// not compare it with its own clock, since the two clocks need not agree.
import type { Logger } from 'pino';
import { KubeApiError, type KubeApi } from '../kube/api.js';
import { OcspStapleType, type KubeObject } from '../kube/types.js';
import { ANNOTATION_REFRESH_REQUESTED } from '../api/annotations.js';

export interface RefreshRequest {
  /** The annotation's value, as read: the removal only goes ahead while it is unchanged. */
  value: string;
  /** When the request may be served: the last attempt plus minInterval (0: at once). */
  notBefore: number;
}

/** The pending request on `obj`, if any. */
export function refreshRequest(obj: KubeObject, lastAttemptTime: string | undefined, minIntervalMs: number): RefreshRequest | undefined {
  const value = obj.metadata?.annotations?.[ANNOTATION_REFRESH_REQUESTED];
  if (value === undefined) return undefined;
  const last = lastAttemptTime ? Date.parse(lastAttemptTime) : Number.NaN;
  return { value, notBefore: Number.isFinite(last) ? last + minIntervalMs : 0 };
}

/**
 * Removes the annotation, but only if it still holds `value`: a request made while the attempt ran
 * stays, to be served in turn. A JSON patch (test, then remove) on metadata alone: no
 * resourceVersion, so it does not race the status write.
 */
export async function clearRefreshRequest(client: KubeApi, obj: KubeObject, value: string, log: Logger): Promise<void> {
  const path = `/metadata/annotations/${ANNOTATION_REFRESH_REQUESTED.replace(/~/g, '~0').replace(/\//g, '~1')}`;
  const m = obj.metadata ?? {};
  try {
    await client.jsonPatch(OcspStapleType, { namespace: m.namespace ?? 'default', name: m.name ?? '' }, [
      { op: 'test', path, value },
      { op: 'remove', path },
    ]);
    log.info({ requested: value }, 'refresh request served; annotation removed');
  } catch (e) {
    // 422: the test failed (a newer request, or someone removed it); 404: the staple is gone.
    if (e instanceof KubeApiError && (e.status === 422 || e.status === 404)) {
      log.debug({ requested: value, status: e.status }, 'refresh request annotation changed meanwhile; left as it is');
      return;
    }
    throw e;
  }
}
