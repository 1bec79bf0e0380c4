// Asking cert-manager to reissue a revoked certificate, the way `cmctl renew` does: set the
// Certificate's Issuing condition (reason ManuallyTriggered) on its status. After a
// keyCompromise revocation the private key must change too, so the Certificate's
// spec.privateKey.rotationPolicy is set to Always first. Level-triggered: nothing is done while
// the Certificate is already issuing.
import type { KubeApi } from '../kube/api.js';
import { CertificateType, type KubeObject } from '../kube/types.js';

interface Certificate extends KubeObject {
  spec?: { privateKey?: { rotationPolicy?: string } };
  status?: {
    conditions?: Array<{
      type: string;
      status: string;
      reason?: string;
      message?: string;
      lastTransitionTime?: string;
      observedGeneration?: number;
    }>;
  };
}

export type ReissueOutcome = 'requested' | 'already-issuing' | 'no-certificate';

export async function requestReissue(
  client: KubeApi,
  o: { namespace: string; certificateName: string; serial: string; revocationReason?: string; now: Date },
): Promise<ReissueOutcome> {
  const cert = await client.getOrUndefined<Certificate>(CertificateType, o.namespace, o.certificateName);
  if (!cert) return 'no-certificate';
  const conditions = cert.status?.conditions ?? [];
  if (conditions.some((c) => c.type === 'Issuing' && c.status === 'True')) return 'already-issuing';
  if (o.revocationReason === 'keyCompromise' && cert.spec?.privateKey?.rotationPolicy !== 'Always') {
    await client.mergePatch(
      CertificateType,
      { namespace: o.namespace, name: o.certificateName },
      { spec: { privateKey: { rotationPolicy: 'Always' } } },
    );
  }
  const issuing = {
    type: 'Issuing',
    status: 'True',
    reason: 'ManuallyTriggered',
    message: `Reissue requested by ocsp-operator: certificate ${o.serial} was revoked (${o.revocationReason ?? 'unspecified'})`,
    lastTransitionTime: o.now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    observedGeneration: cert.metadata?.generation,
  };
  await client.mergePatch(
    CertificateType,
    { namespace: o.namespace, name: o.certificateName, subresource: 'status' },
    { status: { conditions: [...conditions.filter((c) => c.type !== 'Issuing'), issuing] } },
  );
  return 'requested';
}
