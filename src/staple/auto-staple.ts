// Automatic staples: a certificate Secret written by cert-manager that opts in with the annotation
// `ocsp-operator.dev/staple: "true"` (cert-manager copies it from the Certificate's
// spec.secretTemplate) gets an OcspStaple of the same name, owned by the Secret, so it goes away
// with the Secret. Removing the annotation removes the OcspStaple this controller made; an
// OcspStaple a person made under that name is never touched.
import type { Logger } from 'pino';
import { API_GROUP_VERSION, KIND_STAPLE } from '../api/group.js';
import { isAlreadyExists, isInvalid, type KubeApi } from '../kube/api.js';
import type { EventRecorder } from '../kube/events.js';
import { OcspStapleType, SecretType, objectKey, splitKey, type KubeObject, type Secret } from '../kube/types.js';
import type { Clock } from '../base/clock.js';
import { Controller, type ReconcileResult, type Reconciler } from '../runtime/controller.js';
import type { Manager } from '../runtime/manager.js';
import type { ReadCache } from '../runtime/read-cache.js';
import { ANNOTATION_CERT_MANAGER_NAME, ANNOTATION_ON_RENEWAL, ANNOTATION_OPT_IN, LABEL_AUTO } from '../api/annotations.js';

const FIELD_MANAGER = 'ocsp-operator-auto-staple';

export function wantsStaple(secret: Secret | undefined): boolean {
  const a = secret?.metadata?.annotations ?? {};
  return !!a[ANNOTATION_CERT_MANAGER_NAME] && a[ANNOTATION_OPT_IN] === 'true';
}

function ownedByAutoStaple(staple: KubeObject, secret: Secret | undefined): boolean {
  const refs = staple.metadata?.ownerReferences ?? [];
  return (
    staple.metadata?.labels?.[LABEL_AUTO] === 'true' && (!secret || refs.some((r) => r.kind === 'Secret' && r.uid === secret.metadata?.uid))
  );
}

export class AutoStapleReconciler implements Reconciler {
  constructor(
    private readonly deps: {
      client: KubeApi;
      clock: Clock;
      log: Logger;
      events: EventRecorder;
      secrets: ReadCache<Secret>;
      staples: ReadCache<KubeObject>;
    },
  ) {}

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const { namespace, name } = splitKey(key);
    const secret = this.deps.secrets.get(namespace, name);
    const existing = this.deps.staples.get(namespace, name);
    const log = this.deps.log.child({ object: key, kind: 'Secret' });
    if (!wantsStaple(secret) || secret?.metadata?.deletionTimestamp) {
      if (existing && ownedByAutoStaple(existing, secret)) {
        await this.deps.client.delete(OcspStapleType, namespace, name);
        log.info('opt-in annotation gone: deleted the automatic OcspStaple');
      }
      return;
    }
    if (existing) {
      if (!ownedByAutoStaple(existing, secret))
        log.debug('an OcspStaple of this name exists and was not made automatically; leaving it alone');
      return;
    }
    const onRenewal = secret?.metadata?.annotations?.[ANNOTATION_ON_RENEWAL];
    const staple: KubeObject & { spec: Record<string, unknown> } = {
      apiVersion: API_GROUP_VERSION,
      kind: KIND_STAPLE,
      metadata: {
        name,
        namespace,
        labels: { [LABEL_AUTO]: 'true', 'app.kubernetes.io/managed-by': 'ocsp-operator' },
        ownerReferences: [{ apiVersion: 'v1', kind: 'Secret', name, uid: secret?.metadata?.uid ?? '', blockOwnerDeletion: false }],
      },
      spec: { secretName: name, ...(onRenewal ? { onRenewal } : {}) },
    };
    try {
      await this.deps.client.create(OcspStapleType, staple, { fieldManager: FIELD_MANAGER });
    } catch (err) {
      if (isAlreadyExists(err)) return; // the cache was behind; the next event says what is there
      if (isInvalid(err) && secret) {
        // e.g. an invalid on-renewal value: say so on the Secret instead of retrying forever
        await this.deps.events.record(
          SecretType,
          secret,
          'Warning',
          'AutoStapleRejected',
          `could not create OcspStaple ${key}: ${err instanceof Error ? err.message : String(err)}`,
        );
        return;
      }
      throw err;
    }
    log.info('created an OcspStaple for the opted-in certificate Secret');
    if (secret)
      await this.deps.events.record(
        SecretType,
        secret,
        'Normal',
        'AutoStapleCreated',
        `created OcspStaple ${key} for this certificate Secret`,
      );
  }
}

export function addAutoStapleController(manager: Manager, opts: { workers: number }): Controller {
  // Metadata is all this controller reads (annotations, uid): it never loads a Secret's data.
  const secrets = manager.objectCache<Secret>(SecretType);
  const staples = manager.informer<KubeObject>(OcspStapleType);
  const hasAutoStaple = (s: KubeObject) =>
    staples.get(s.metadata?.namespace, s.metadata?.name ?? '')?.metadata?.labels?.[LABEL_AUTO] === 'true';
  // The opt-in annotation cannot be selected by the apiserver, so every Secret's metadata streams
  // past; only opted-in ones (and those with an automatic staple to clean up) are held.
  secrets.want((s) => wantsStaple(s) || hasAutoStaple(s));
  const controller = new Controller({
    name: 'auto-staple',
    reconciler: new AutoStapleReconciler({
      client: manager.client,
      clock: manager.clock,
      log: manager.log.child({ controller: 'auto-staple' }),
      events: manager.events,
      secrets,
      staples,
    }),
    workers: opts.workers,
    clock: manager.clock,
    log: manager.log,
    metrics: manager.metrics,
  });
  // Only opted-in Secrets, and Secrets that have an automatic staple to clean up, matter here.
  controller.watch(secrets, (s) => (wantsStaple(s) || hasAutoStaple(s) ? [objectKey(s)] : []));
  controller.watch(staples, (s) => (s.metadata?.labels?.[LABEL_AUTO] === 'true' ? [objectKey(s)] : []));
  manager.add(controller);
  return controller;
}
