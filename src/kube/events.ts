// Kubernetes Events (events.k8s.io/v1) for transitions and failures. Callers emit on transitions
// only; the recorder also drops an identical event for the same object within a window, so a
// reconcile that runs twice for one transition (a requeue, a failover) does not say it twice.
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { KubeApi } from './api.js';
import { EventType, apiVersionOf, type KubeObject, type ResourceType } from './types.js';
import type { Clock } from '../base/clock.js';

/** An Event's `type`, in Kubernetes' words: Normal, or Warning for something a person should look at. */
export type EventSeverity = 'Normal' | 'Warning';

export interface EventRecorderOptions {
  controller: string; // reportingController, e.g. ocsp-operator.dev/staple-controller
  instance: string; // reportingInstance: the pod
  clock: Clock;
  log: Logger;
  dedupeWindowMs?: number;
}

export class EventRecorder {
  /** When each event was last sent, by a digest of (object, type, reason, note): a fill of 10,000 staples keeps 10,000 of them. */
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly client: KubeApi,
    private readonly opts: EventRecorderOptions,
  ) {}

  /** An Event `regarding` an object of the `resource` type, as events.k8s.io/v1 names its fields. */
  async record(
    resource: ResourceType,
    regarding: KubeObject,
    type: EventSeverity,
    reason: string,
    note: string,
    action = 'Reconcile',
  ): Promise<void> {
    const m = regarding.metadata ?? {};
    const now = this.opts.clock.now();
    const key = createHash('sha256').update(`${m.uid}|${type}|${reason}|${note}`).digest('base64');
    const window = this.opts.dedupeWindowMs ?? 10 * 60_000;
    const last = this.recent.get(key);
    if (last !== undefined && now - last < window) return;
    this.recent.set(key, now);
    if (this.recent.size > 10_000) this.prune(now, window);
    const eventTime = new Date(now).toISOString().replace(/Z$/, '000Z');
    try {
      await this.client.create(EventType, {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        // Named as client-go names them: <object>.<unique hex>.
        metadata: { name: `${m.name}.${now.toString(16)}${randomBytes(4).toString('hex')}`, namespace: m.namespace ?? 'default' },
        eventTime,
        reportingController: this.opts.controller,
        reportingInstance: this.opts.instance,
        action,
        reason,
        note: note.slice(0, 1024), // the API rejects longer notes
        type,
        regarding: {
          apiVersion: apiVersionOf(resource),
          kind: resource.kind,
          name: m.name,
          namespace: m.namespace,
          uid: m.uid,
          resourceVersion: m.resourceVersion,
        },
      } as KubeObject);
      this.opts.log.info({ object: `${m.namespace}/${m.name}`, type, reason, note }, 'event');
    } catch (err) {
      // An event is a notice, not state: failing to write one must not fail the reconcile.
      this.opts.log.warn({ err: String(err), object: `${m.namespace}/${m.name}`, reason }, 'could not record event');
    }
  }

  private prune(now: number, window: number): void {
    for (const [k, t] of this.recent) if (now - t >= window) this.recent.delete(k);
  }
}
