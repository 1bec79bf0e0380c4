// The OcspResponderPool's condition vocabulary in one place: each type, the reasons it may carry,
// which status is the bad one (its polarity), and how Ready is made of them. thresholds.ts and
// reconciler.ts produce conditions only through these names; the tests read them from here too.

export interface PoolCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

export const PoolConditionType = {
  Ready: 'Ready',
  Fresh: 'Fresh',
  BaselineRequirements: 'BaselineRequirements',
  SignerCertificateExpiring: 'SignerCertificateExpiring',
  Replicated: 'Replicated',
  NewCertificatesServed: 'NewCertificatesServed',
  SourcesReadable: 'SourcesReadable',
} as const;
export type PoolConditionTypeName = (typeof PoolConditionType)[keyof typeof PoolConditionType];

export const PoolReason = {
  // Ready
  Serving: 'Serving',
  InvalidSpec: 'InvalidSpec',
  IssuerNotFound: 'IssuerNotFound',
  WorkloadRejected: 'WorkloadRejected',
  SignerReportsMissing: 'SignerReportsMissing',
  NoSignerReports: 'NoSignerReports',
  NoResponderReady: 'NoResponderReady',
  // Fresh
  ResponsesFresh: 'ResponsesFresh',
  ResponsesStale: 'ResponsesStale',
  ResponsesCritical: 'ResponsesCritical',
  NoResponses: 'NoResponses',
  NoCertificates: 'NoCertificates',
  // BaselineRequirements
  DeadlinesMet: 'DeadlinesMet',
  DeadlineMissed: 'DeadlineMissed',
  // SignerCertificateExpiring
  SignerValid: 'SignerValid',
  SignerExpiresSoon: 'SignerExpiresSoon',
  // Replicated
  ReplicasCurrent: 'ReplicasCurrent',
  ReplicaLagging: 'ReplicaLagging',
  // NewCertificatesServed
  WithinTarget: 'WithinTarget',
  NewCertificateWaiting: 'NewCertificateWaiting',
  // SourcesReadable
  SourcesRead: 'SourcesRead',
  SourceProblem: 'SourceProblem',
  /** A database source's server lags its primary past maxReplicationLag: the signers sign nothing from it. */
  SourceReplicaLagging: 'SourceReplicaLagging',
  // any type but Ready, when this reconcile could not judge it
  NotEvaluated: 'NotEvaluated',
} as const;

/**
 * The status that means trouble, for every type that gates Ready, in the order Ready names them
 * (the first bad one gives Ready its reason). SignerCertificateExpiring is the one whose bad
 * status is True: it names a coming event, as Kubernetes' own "*Pressure" conditions do.
 */
export const READY_GATES: ReadonlyArray<{ type: PoolConditionTypeName; bad: 'True' | 'False' }> = [
  { type: PoolConditionType.SourcesReadable, bad: 'False' },
  { type: PoolConditionType.Fresh, bad: 'False' },
  { type: PoolConditionType.BaselineRequirements, bad: 'False' },
  { type: PoolConditionType.SignerCertificateExpiring, bad: 'True' },
  { type: PoolConditionType.Replicated, bad: 'False' },
  { type: PoolConditionType.NewCertificatesServed, bad: 'False' },
];

/** True when `c` is in its bad state (Ready: False). */
export function isBad(c: Pick<PoolCondition, 'type' | 'status'>): boolean {
  const gate = READY_GATES.find((g) => g.type === c.type);
  return gate ? c.status === gate.bad : c.type === PoolConditionType.Ready && c.status === 'False';
}

/** Ready from the gating conditions: False with the first bad one's reason, every bad one in the message. */
export function readyFrom(conditions: readonly PoolCondition[], certificates: number): PoolCondition {
  const bad = READY_GATES.flatMap((g) => conditions.filter((c) => c.type === g.type && c.status === g.bad));
  if (bad.length)
    return {
      type: PoolConditionType.Ready,
      status: 'False',
      reason: bad[0]!.reason,
      message: bad.map((c) => `${c.type}: ${c.message}`).join(' | '),
    };
  return {
    type: PoolConditionType.Ready,
    status: 'True',
    reason: PoolReason.Serving,
    message: `${certificates} certificates answered with fresh responses`,
  };
}

/**
 * Every non-Ready type set Unknown/NotEvaluated, saying why: for a reconcile that stopped before
 * it could measure anything (invalid spec, missing issuer, a refused workload), so no condition
 * from an earlier reconcile stands with a current observedGeneration.
 */
export function notEvaluated(why: string, except: readonly string[] = []): PoolCondition[] {
  return READY_GATES.filter((g) => !except.includes(g.type)).map((g) => ({
    type: g.type,
    status: 'Unknown',
    reason: PoolReason.NotEvaluated,
    message: `not evaluated: ${why}`,
  }));
}
