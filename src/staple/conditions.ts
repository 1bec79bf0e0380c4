// The OcspStaple's condition types and their polarity in one place (the pool's are in
// src/pool/conditions.ts, with the same conventions): Ready, Fresh and MustStapleSatisfied are bad
// when False; Revoked and SignerCertificateExpiring name a fact or a coming event and are bad when
// True, as Kubernetes' own "*Pressure" conditions are. Warning Events follow the bad status.

export const StapleConditionType = {
  Ready: 'Ready',
  Fresh: 'Fresh',
  Revoked: 'Revoked',
  SignerCertificateExpiring: 'SignerCertificateExpiring',
  MustStapleSatisfied: 'MustStapleSatisfied',
} as const;
export type StapleConditionTypeName = (typeof StapleConditionType)[keyof typeof StapleConditionType];

const BAD_STATUS: Record<StapleConditionTypeName, 'True' | 'False'> = {
  Ready: 'False',
  Fresh: 'False',
  MustStapleSatisfied: 'False',
  Revoked: 'True',
  SignerCertificateExpiring: 'True',
};

/** True when the condition is in its bad state (an unknown type: when False). */
export function isBadStapleCondition(c: { type: string; status: string }): boolean {
  return c.status === (BAD_STATUS[c.type as StapleConditionTypeName] ?? 'False');
}
