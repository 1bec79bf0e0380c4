// The operator as users run it: `helm install` of the chart, with the images built from the
// project's Dockerfile, on a real kubelet, in namespaces that enforce PodSecurity `restricted`.
// The CA's responder is the real `openssl ocsp` in a pod behind a Service, so the operator pods
// fetch by a cluster DNS name through kube-proxy, as they would from any CA.
//
// Asserted: both replicas Running and Ready through their real probes, as uid 65532 on a read-only
// root; one holds the Lease; deleting the leader during a renewal hands the Lease over and no
// staple Secret version pairs a certificate with another certificate's staple; a force-deleted
// leader (grace period 0) is replaced within the lease duration; `helm upgrade` to another image
// and values, then `helm rollback`, keep the staples served and in lockstep; namespaced mode
// reconciles only the namespaces it watches.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaseType, SecretType, type Lease } from '../../src/kube/types.js';
import { helm } from '../install/helm.js';
import { createNamespace, kubeClient, kubeconfigPath, putSecret, tlsSecret, waitFor, watchCaughtUp } from '../support/kube.js';
import {
  apply,
  caResponderInCluster,
  caResponderUrl,
  helmOk,
  imageValues,
  installArgs,
  kubectlOk,
  nodeImage,
  nodeUnavailable,
  pods,
  restrictedNamespace,
  waitForReadyPods,
  OPERATOR_RELEASE as RELEASE,
} from '../support/node.js';
import { createCa, issueLeaf, type Ca, type Issued } from '../support/pki.js';
import { getSecret, lockstepOf, waitForReason, watchStapleSecret, type StapleSecretWatch } from '../support/staple-harness.js';

const unavailable = nodeUnavailable();
const SELECTOR = `app.kubernetes.io/instance=${RELEASE}`;
const client = kubeClient();

/** The pod that holds the release's Lease (the operator's identity is `<pod>_<pid>`). */
async function leaseHolder(namespace: string): Promise<string | undefined> {
  const lease = await client.getOrUndefined<Lease>(LeaseType, namespace, RELEASE);
  return lease?.spec?.holderIdentity?.replace(/_\d+$/, '') || undefined;
}

/** Puts `leaf` into the certificate Secret and waits until the staple Secret publishes it with its own staple. */
async function renewAndWait(namespace: string, leaf: Issued, timeoutMs = 120_000): Promise<number> {
  const started = Date.now();
  await putSecret(client, tlsSecret(namespace, 'web-tls', { certPem: leaf.chainPem, keyPem: leaf.keyPem }));
  await waitFor(
    `${namespace}/web-tls-ocsp publishing ${leaf.serial} with its staple`,
    async () => {
      const s = await getSecret(client, namespace, 'web-tls-ocsp');
      const ls = s && lockstepOf(s);
      return ls && ls.certSerial === leaf.serial.toLowerCase() && ls.verdict?.ok === true;
    },
    timeoutMs,
    250,
  );
  return Date.now() - started;
}

describe.skipIf(unavailable)('the chart installed on the real node', { timeout: 900_000 }, () => {
  let ca: Ca;
  let leaves: Issued[];
  let caNs: { name: string; remove(): Promise<void> };
  const cleanup: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    caNs = await restrictedNamespace('ca');
    ca = await createCa({ keyAlg: 'P-256', name: 'CN=Node Test CA' });
    leaves = [];
    for (let i = 0; i < 8; i++) leaves.push(await issueLeaf(ca, { ocspUrl: caResponderUrl(caNs.name, 'ca-ocsp'), dnsNames: ['web.test'] }));
    await caResponderInCluster(caNs.name, 'ca-ocsp', ca, leaves);
  }, 600_000);

  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {});
    await caNs?.remove();
  });

  it('namespaced mode: both replicas Ready, one leads, staples only in the watched namespace', async () => {
    const operatorNs = await restrictedNamespace('opns');
    const watched = await createNamespace(client, 'watched');
    const other = await createNamespace(client, 'unwatched');
    cleanup.push(operatorNs.remove, watched.remove, other.remove);
    await helmOk(['install', RELEASE, ...installArgs(operatorNs.name, ['--set-json', `watchNamespaces=["${watched.name}"]`])]);
    cleanup.push(() => helm(['uninstall', RELEASE, '--namespace', operatorNs.name, '--kubeconfig', kubeconfigPath()]));
    const ready = await waitForReadyPods(operatorNs.name, SELECTOR, 2);
    const holder = await waitFor('a Lease holder', () => leaseHolder(operatorNs.name), 60_000, 500);
    expect(
      ready.map((p) => p.name),
      `the Lease ${operatorNs.name}/${RELEASE} is held by one of the release's pods`,
    ).toContain(holder);

    for (const ns of [watched.name, other.name]) {
      await putSecret(client, tlsSecret(ns, 'web-tls', { certPem: leaves[0]!.chainPem, keyPem: leaves[0]!.keyPem }));
      await apply([
        {
          apiVersion: 'ocsp-operator.dev/v1alpha1',
          kind: 'OcspStaple',
          metadata: { name: 'web', namespace: ns },
          spec: { secretName: 'web-tls' },
        },
      ]);
    }
    await waitForReason(client, watched.name, 'web', 'Stapled', 120_000);
    const s = await getSecret(client, watched.name, 'web-tls-ocsp');
    expect(s && lockstepOf(s).verdict?.ok, `${watched.name}/web-tls-ocsp carries a staple that validates for its certificate`).toBe(true);
    // The unwatched namespace's staple is never looked at: no status at all, and no staple Secret.
    const untouched = await kubectlOk(['-n', other.name, 'get', 'ocspstaple', 'web', '-o', 'json']);
    expect(
      (JSON.parse(untouched) as { status?: unknown }).status,
      `${other.name}/web has no status from a namespaced operator`,
    ).toBeUndefined();
    expect(await getSecret(client, other.name, 'web-tls-ocsp'), `${other.name}/web-tls-ocsp was not written`).toBeUndefined();

    await helmOk(['uninstall', RELEASE, '--namespace', operatorNs.name, '--wait']);
  });

  it('cluster-wide: restricted pods, failover during renewals, helm upgrade and rollback, lockstep throughout', async () => {
    const operatorNs = await restrictedNamespace('ocsp-system');
    const app = await createNamespace(client, 'shop');
    cleanup.push(operatorNs.remove, app.remove);
    await helmOk(['install', RELEASE, ...installArgs(operatorNs.name)]);
    cleanup.push(() => helm(['uninstall', RELEASE, '--namespace', operatorNs.name, '--kubeconfig', kubeconfigPath()]));
    const ready = await waitForReadyPods(operatorNs.name, SELECTOR, 2);

    // The chart's securityContext holds on the real runtime: uid 65532, the root filesystem read-only.
    const probe = await kubectlOk([
      '-n',
      operatorNs.name,
      'exec',
      ready[0]!.name,
      '--',
      'node',
      '-e',
      "let w='writable';try{require('fs').writeFileSync('/probe','x')}catch(e){w=e.code}console.log(process.getuid()+' '+w)",
    ]);
    expect(probe.trim(), `pod ${operatorNs.name}/${ready[0]!.name}: uid and a write to /`).toBe('65532 EROFS');

    await putSecret(client, tlsSecret(app.name, 'web-tls', { certPem: leaves[0]!.chainPem, keyPem: leaves[0]!.keyPem }));
    await apply([
      {
        apiVersion: 'ocsp-operator.dev/v1alpha1',
        kind: 'OcspStaple',
        metadata: { name: 'web', namespace: app.name },
        spec: { secretName: 'web-tls', refresh: { retryInitial: '1s', retryMax: '5s' } },
      },
    ]);
    await waitForReason(client, app.name, 'web', 'Stapled', 120_000);
    const watch: StapleSecretWatch = await watchStapleSecret(client, app.name, 'web-tls-ocsp');
    cleanup.push(async () => watch.stop());
    const timeline: string[] = [];

    try {
      /** Writes `leaf` into the certificate Secret, deletes the leader pod, waits for another holder and the stapled renewal. */
      const failover = async (leader: string, leaf: Issued, deleteFlags: string[], timeoutMs: number) => {
        const t0 = Date.now();
        await putSecret(client, tlsSecret(app.name, 'web-tls', { certPem: leaf.chainPem, keyPem: leaf.keyPem }));
        await kubectlOk(['-n', operatorNs.name, 'delete', 'pod', leader, ...deleteFlags]);
        const next = await waitFor(
          `a Lease holder other than ${leader}`,
          async () => {
            const h = await leaseHolder(operatorNs.name);
            return h && h !== leader ? h : undefined;
          },
          timeoutMs,
          200,
        );
        const handoverMs = Date.now() - t0;
        await renewAndWait(app.name, leaf);
        timeline.push(
          `delete ${deleteFlags.join(' ')} of ${leader}: Lease to ${next} in ${handoverMs} ms; renewal stapled ${Date.now() - t0} ms after it was written`,
        );
        return { next, handoverMs };
      };

      // 1. Graceful: the leader is deleted right after a renewal lands in the certificate Secret.
      const leader1 = await waitFor('a Lease holder', () => leaseHolder(operatorNs.name), 60_000, 500);
      const graceful = await failover(leader1, leaves[1]!, ['--wait=false'], 60_000);
      expect(graceful.handoverMs, 'a deleted leader releases its Lease on SIGTERM: handover well within one lease duration').toBeLessThan(
        15_000,
      );

      // 2. Force delete (grace period 0): the pod object goes at once while the kubelet kills the
      //    container; the standby takes over within the lease duration at worst.
      await waitForReadyPods(operatorNs.name, SELECTOR, 2);
      const forced = await failover(graceful.next, leaves[2]!, ['--grace-period=0', '--force'], 90_000);
      expect(forced.handoverMs, 'takeover after a crash within lease duration + retry period + margin').toBeLessThan(
        15_000 + 2_000 + 8_000,
      );

      // 3. helm upgrade to another image and other values, with a renewal during the rollout.
      await waitForReadyPods(operatorNs.name, SELECTOR, 2);
      const upgraded = nodeImage('operator-upgrade');
      const upgrade = helmOk([
        'upgrade',
        RELEASE,
        ...installArgs(operatorNs.name, [
          ...imageValues(upgraded, 'image'),
          '--set',
          'controller.logLevel=debug',
          '--set',
          'controller.workers=4',
        ]),
      ]);
      await renewAndWait(app.name, leaves[3]!);
      await upgrade;
      const afterUpgrade = await waitForReadyPods(operatorNs.name, SELECTOR, 2);
      expect(
        afterUpgrade.map((p) => p.image),
        'both replicas run the upgraded image',
      ).toEqual([upgraded, upgraded]);
      const args = JSON.parse(await kubectlOk(['-n', operatorNs.name, 'get', 'deployment', RELEASE, '-o', 'json'])) as {
        spec: { template: { spec: { containers: Array<{ args: string[]; env: Array<{ name: string; value?: string }> }> } } };
      };
      expect(args.spec.template.spec.containers[0]!.args, 'the new values reach the pods').toContain('--workers=4');
      await renewAndWait(app.name, leaves[4]!);
      timeline.push(`helm upgrade to ${upgraded}: renewals ${leaves[3]!.serial} (during) and ${leaves[4]!.serial} (after) stapled`);

      // 4. helm rollback to the first revision, with a renewal during it.
      const rollback = helmOk(['rollback', RELEASE, '1', '--namespace', operatorNs.name, '--wait', '--timeout', '240s']);
      await renewAndWait(app.name, leaves[5]!);
      await rollback;
      const afterRollback = await waitForReadyPods(operatorNs.name, SELECTOR, 2);
      expect(
        afterRollback.map((p) => p.image),
        'both replicas run the first image again',
      ).toEqual([nodeImage('operator'), nodeImage('operator')]);
      await renewAndWait(app.name, leaves[6]!);
      timeline.push(`helm rollback: renewals ${leaves[5]!.serial} (during) and ${leaves[6]!.serial} (after) stapled`);
    } finally {
      await watchCaughtUp(client, SecretType, app.name, 'web-tls-ocsp', watch.versions);
      watch.stop();
      process.stderr.write(`[node install] ${timeline.join('\n[node install] ')}\n`);
    }

    const certs = new Set(watch.versions.map((v) => lockstepOf(v).certSerial));
    expect(certs.size, `the watch on ${app.name}/web-tls-ocsp saw the renewals`).toBeGreaterThanOrEqual(6);
    expect(watch.mismatched(), `no version of ${app.name}/web-tls-ocsp pairs a certificate with another certificate's staple`).toEqual([]);
    const restarts = (await pods(operatorNs.name, SELECTOR)).map((p) => p.restarts);
    expect(restarts, 'no operator container restarted (probes held through it all)').toEqual([0, 0]);
  });
});
