// The standard metav1.Condition, exactly as Kubernetes declares it (same patterns and bounds as
// the generated CRDs of core projects), so `kubectl wait --for=condition=Ready` and every
// condition-aware tool read our status the usual way.

import { z } from 'zod';
import { dateTime, formatDateTime } from './time.js';

export const CONDITION_TYPE_PATTERN =
  '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$';
/** CamelCase reasons, as metav1 requires. */
export const CONDITION_REASON_PATTERN = '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$';

export const ConditionStatusSchema = z.enum(['True', 'False', 'Unknown']);
export type ConditionStatus = z.infer<typeof ConditionStatusSchema>;

export const ConditionSchema = z.object({
  type: z.string().max(316).regex(new RegExp(CONDITION_TYPE_PATTERN)),
  status: ConditionStatusSchema,
  observedGeneration: z.int().min(0).optional(),
  lastTransitionTime: dateTime(),
  reason: z.string().min(1).max(1024).regex(new RegExp(CONDITION_REASON_PATTERN)),
  message: z.string().max(32768),
});
export type Condition = z.infer<typeof ConditionSchema>;

/** A list of conditions keyed by type (listType map in the CRDs: one entry per type). */
export function conditionList() {
  return z
    .array(ConditionSchema)
    .max(16)
    .refine((list) => new Set(list.map((c) => c.type)).size === list.length, {
      message: 'duplicate condition type',
    });
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/**
 * Returns a new list with `next` in place of the condition of the same type. lastTransitionTime
 * moves only when the status changes: it answers "since when", which is what people alert on,
 * and keeping it stable lets a controller skip status writes that change nothing.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  next: Omit<Condition, 'lastTransitionTime'>,
  now: Date,
): Condition[] {
  const list = conditions ? [...conditions] : [];
  const i = list.findIndex((c) => c.type === next.type);
  const prev = i >= 0 ? list[i] : undefined;
  const lastTransitionTime = prev && prev.status === next.status ? prev.lastTransitionTime : formatDateTime(now);
  const merged: Condition = { ...next, lastTransitionTime };
  if (i >= 0) list[i] = merged;
  else list.push(merged);
  return list;
}

/**
 * The list a reconcile leaves: exactly the conditions it produced, each keeping its
 * lastTransitionTime when its status did not change. A type the reconcile no longer produces is
 * dropped: it no longer describes the object (a Revoked=True of a certificate since replaced, a
 * Fresh measured before the issuer vanished), and a stale one with a current-looking
 * observedGeneration would be believed.
 */
export function replaceConditions(
  previous: readonly Condition[] | undefined,
  produced: ReadonlyArray<Omit<Condition, 'lastTransitionTime'>>,
  now: Date,
): Condition[] {
  return produced.map(
    (c) =>
      setCondition(
        previous?.filter((p) => p.type === c.type),
        c,
        now,
      )[0]!,
  );
}
