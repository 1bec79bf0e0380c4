// The one status writer of both controllers: the conditions a reconcile produced replace the
// previous ones (each keeps its lastTransitionTime while its status holds), the status is written
// only when it changed, and condition transitions become Events by one rule (transitionEvents).
import { findCondition, replaceConditions, type Condition, type ConditionStatus } from '../api/condition.js';
import type { Clock } from '../base/clock.js';
import type { KubeApi } from '../kube/api.js';
import type { EventSeverity, EventRecorder } from '../kube/events.js';
import type { KubeObject, ResourceType } from '../kube/types.js';
import { sameJson } from './same-json.js';

/** A condition as a reconcile produces it; the writer adds observedGeneration and lastTransitionTime. */
export interface ProducedCondition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

/** An Event to record about the object: `type` is Kubernetes' Normal or Warning. */
export interface PendingEvent {
  type: EventSeverity;
  reason: string;
  note: string;
}

/** The part of a status every kind shares. */
export interface ConditionedStatus {
  conditions?: Condition[];
  observedGeneration?: number;
}

/** Which status of a condition is its bad one: the kind's polarity (e.g. Ready: False, Revoked: True). */
export type IsBad = (c: { type: string; status: ConditionStatus }) => boolean;

const READY = 'Ready';

/**
 * The Events a reconcile's conditions say, one rule for every kind:
 *  - only transitions (status or reason changed) are news;
 *  - Warning when the condition is now in its bad state (the kind's polarity), else Normal;
 *  - a condition other than Ready going Unknown is not news: it was not judged this time, and
 *    Ready says why;
 *  - a first look (no previous condition of the type) that finds all well is one Event, Ready's:
 *    at ten thousand objects, Events would otherwise be half of all writes;
 *  - a bad Ready that repeats the reason of another bad condition announced now is not said twice:
 *    that condition's Event names the problem.
 */
export function transitionEvents(
  previous: readonly Condition[] | undefined,
  produced: readonly ProducedCondition[],
  isBad: IsBad,
): PendingEvent[] {
  const announced = produced.filter((c) => {
    const before = findCondition(previous, c.type);
    if (before?.status === c.status && before.reason === c.reason) return false;
    if (c.status === 'Unknown' && c.type !== READY) return false;
    return !!before || isBad(c) || c.type === READY;
  });
  return announced
    .filter((c) => !(c.type === READY && isBad(c) && announced.some((o) => o.type !== READY && o.reason === c.reason && isBad(o))))
    .map((c) => ({ type: isBad(c) ? 'Warning' : 'Normal', reason: c.reason, note: `${c.type}=${c.status}: ${c.message}` }));
}

export interface StatusWriterDeps {
  client: KubeApi;
  clock: Clock;
  events: EventRecorder;
  /** The kind whose status subresource is written, and about which Events are recorded. */
  type: ResourceType;
  isBad: IsBad;
}

export interface WrittenStatus<S> {
  /** The status as it now stands (written, or already so). */
  status: S;
  conditions: Condition[];
  /** The object the apiserver returned, when the status changed and was written. */
  stored?: KubeObject;
}

export class StatusWriter {
  constructor(private readonly deps: StatusWriterDeps) {}

  /**
   * Writes `status` (or the object's current status, when undefined) with the produced conditions
   * if anything changed, calls `observe` once the status stands (metrics that must say what the
   * status says), then records `events` and the transitions' Events.
   */
  async write<S extends ConditionedStatus>(
    obj: KubeObject,
    status: S | undefined,
    produced: readonly ProducedCondition[],
    o: { events?: readonly PendingEvent[]; observe?: (written: WrittenStatus<S>) => void } = {},
  ): Promise<WrittenStatus<S>> {
    const m = obj.metadata ?? {};
    const prev = (obj as { status?: S }).status ?? ({} as S);
    const conditions = replaceConditions(
      prev.conditions,
      produced.map((c) => ({ ...c, observedGeneration: m.generation })),
      new Date(this.deps.clock.now()),
    );
    const next: S = { ...(status ?? prev), conditions, observedGeneration: m.generation };
    const events = [...(o.events ?? []), ...transitionEvents(prev.conditions, produced, this.deps.isBad)];
    let stored: KubeObject | undefined;
    if (!sameJson(next, prev)) {
      // PUT with the resourceVersion read: the whole status is replaced (fields that went away go
      // away), and a concurrent writer makes this a 409 that the queue retries.
      stored = await this.deps.client.replace(this.deps.type, { ...obj, status: next } as KubeObject, 'status');
    }
    const written: WrittenStatus<S> = { status: next, conditions, stored };
    o.observe?.(written);
    for (const e of events) await this.deps.events.record(this.deps.type, obj, e.type, e.reason, e.note);
    return written;
  }
}
