// A PKCS#11 pool on the real node: the CA's key lives in a SoftHSM token on a PersistentVolume,
// and reaches the signer pod only through the pool's pod shape (spec.signers.pod). The token is
// made as an operator of a CA would make it: a Job in the signer image creates it and an EC P-256
// key pair on the volume (test/node/fixtures/softhsm-token.sh, shared with test/kind/e2e.sh) and
// prints the public key; the test's root CA issues the CA certificate for that key; the pool signs
// with the token, and a client pod asks the responder Service by its cluster DNS name and has
// openssl verify each answer up to the root. No software copy of the CA key exists anywhere.
//
// The node has no volume provisioner: the token's PersistentVolume is a `local` one on a directory
// this test makes under the node's state directory (PodSecurity `restricted` allows the claim, not
// a hostPath). The kubelet gives such a volume to the pod's fsGroup, which is how the signer's uid
// can write SoftHSM's lock files there.
import { randomBytes } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/devenv/control-plane.js';
import { OcspResponderPoolType, type KubeObject } from '../../src/kube/types.js';
import { kubeClient, kubectl, waitFor } from '../support/kube.js';
import {
  apply,
  clientPod,
  installOperator,
  kubectlOk,
  localVolume,
  nodeImage,
  nodeUnavailable,
  restrictedContainer,
  restrictedNamespace,
  restrictedPod,
  waitForReadyPods,
  type ClientPod,
} from '../support/node.js';
import { createCa, indexTxt, issueCaCertFor, type Ca, type IndexRecord } from '../support/pki.js';

interface PoolObj extends KubeObject {
  status?: {
    conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
    certificates?: number;
    backlog?: number;
    revoked?: number;
  };
}

const unavailable = nodeUnavailable();
const client = kubeClient();

const POOL = 'hsm-ca';
const TOKEN_LABEL = 'ocsp-node';
const KEY_LABEL = 'ocsp-signer';
const CLAIM = 'softhsm-tokens';

describe.skipIf(unavailable)(
  'a PKCS#11 pool on the real node: the CA key in a SoftHSM token on a PersistentVolume',
  { timeout: 600_000 },
  () => {
    let operator: { namespace: string; uninstall(): Promise<void> };
    let ns: { name: string; remove(): Promise<void> };
    let pv: string;
    let tokenDir: string;
    let volume: Awaited<ReturnType<typeof localVolume>> | undefined;
    let root: Ca;
    let caPem: string;
    let records: IndexRecord[];
    let asker: ClientPod;
    const url = () => `http://${POOL}.${ns.name}.svc.cluster.local/`;

    /** The pool's answer for `serial`, asked from inside the cluster, verified by openssl up to the root. */
    async function ask(serial: string): Promise<{ status?: string; verified: boolean; output: string }> {
      const r = await asker.exec(
        [
          'openssl',
          'ocsp',
          '-issuer',
          '/work/ca.pem',
          '-serial',
          `0x${serial}`,
          '-url',
          url(),
          '-CAfile',
          '/work/root.pem',
          '-verify_other',
          '/work/ca.pem',
          '-no_nonce',
          '-timeout',
          '5',
        ],
        30_000,
      );
      const out = r.stdout + r.stderr;
      return { status: new RegExp(`0x${serial}: (\\w+)`, 'i').exec(out)?.[1], verified: /Response verify OK/.test(out), output: out };
    }

    /** Waits for the Job to end; fails with its logs unless it succeeded. Returns the logs. */
    async function jobLogs(name: string): Promise<string> {
      const done = await waitFor(
        `Job ${ns.name}/${name} to finish`,
        async () => {
          const job = JSON.parse(await kubectlOk(['-n', ns.name, 'get', 'job', name, '-o', 'json'])) as {
            status?: { succeeded?: number; failed?: number };
          };
          return job.status?.succeeded ? 'succeeded' : job.status?.failed ? 'failed' : undefined;
        },
        240_000,
        1_000,
      );
      const logs = await kubectlOk(['-n', ns.name, 'logs', `job/${name}`]);
      if (done !== 'succeeded') throw new Error(`Job ${ns.name}/${name} failed:\n${logs}`);
      return logs;
    }

    beforeAll(async () => {
      operator = await installOperator('pkcs11-op');
      ns = await restrictedNamespace('hsm-ca');
      // The token's volume, bound ahead to the claim.
      volume = await localVolume({ name: `${ns.name}-softhsm`, size: '16Mi', claimRef: { namespace: ns.name, name: CLAIM } });
      pv = volume.name;
      tokenDir = volume.dir;
      await apply([
        {
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          metadata: { name: CLAIM, namespace: ns.name },
          spec: { accessModes: ['ReadWriteOnce'], storageClassName: '', volumeName: pv, resources: { requests: { storage: '16Mi' } } },
        },
        {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'softhsm-pin', namespace: ns.name },
          stringData: { pin: randomBytes(8).toString('hex'), 'so-pin': randomBytes(8).toString('hex') },
        },
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'softhsm-token-script', namespace: ns.name },
          data: { 'softhsm-token.sh': await readFile(join(repoRoot(), 'test', 'node', 'fixtures', 'softhsm-token.sh'), 'utf8') },
        },
      ]);
      await waitFor(
        `PersistentVolumeClaim ${ns.name}/${CLAIM} Bound to PersistentVolume ${pv}`,
        async () => (await kubectlOk(['-n', ns.name, 'get', 'pvc', CLAIM, '-o', 'jsonpath={.status.phase}'])) === 'Bound',
        60_000,
        500,
      );

      // The token and its key, made in the signer image as the signer's uid, on the claim.
      await apply([
        {
          apiVersion: 'batch/v1',
          kind: 'Job',
          metadata: { name: 'softhsm-token', namespace: ns.name },
          spec: {
            backoffLimit: 0,
            template: {
              spec: {
                restartPolicy: 'Never',
                securityContext: restrictedPod,
                containers: [
                  {
                    name: 'init-token',
                    image: nodeImage('signer'),
                    imagePullPolicy: 'IfNotPresent',
                    command: ['/bin/sh', '/scripts/softhsm-token.sh'],
                    env: [
                      { name: 'PIN', valueFrom: { secretKeyRef: { name: 'softhsm-pin', key: 'pin' } } },
                      { name: 'SO_PIN', valueFrom: { secretKeyRef: { name: 'softhsm-pin', key: 'so-pin' } } },
                      { name: 'TOKEN_LABEL', value: TOKEN_LABEL },
                      { name: 'KEY_LABEL', value: KEY_LABEL },
                    ],
                    securityContext: restrictedContainer,
                    volumeMounts: [
                      { name: 'tokens', mountPath: '/var/lib/softhsm/tokens' },
                      { name: 'scripts', mountPath: '/scripts' },
                      { name: 'tmp', mountPath: '/tmp' },
                    ],
                  },
                ],
                volumes: [
                  { name: 'tokens', persistentVolumeClaim: { claimName: CLAIM } },
                  { name: 'scripts', configMap: { name: 'softhsm-token-script' } },
                  { name: 'tmp', emptyDir: {} },
                ],
              },
            },
          },
        },
      ]);
      const logs = await jobLogs('softhsm-token');
      const pubkey = /^PUBKEY (\S+)$/m.exec(logs)?.[1];
      if (!pubkey) throw new Error(`Job ${ns.name}/softhsm-token printed no public key:\n${logs}`);

      // The CA certificate for the token's key, issued by the test's root; the CA database lists
      // the certificates the CA issued (one revoked), as a CA outside the cluster keeps it.
      root = await createCa({ keyAlg: 'P-256', name: 'CN=Node HSM Root CA' });
      caPem = (await issueCaCertFor(root, Buffer.from(pubkey, 'base64'), { name: 'CN=Node HSM Issuing CA' })).certPem;
      const notAfter = new Date(Date.now() + 90 * 86_400_000);
      records = [0, 1, 2, 3].map((i) => ({
        cert: {
          serialNumber: randomBytes(12).toString('hex').toUpperCase().replace(/^0/, '1'),
          notAfter,
          subject: `CN=device-${i}.hsm.test`,
        },
        status: i === 3 ? ('R' as const) : ('V' as const),
        ...(i === 3 ? { revokedAt: new Date(Date.now() - 3_600_000), reason: 'keyCompromise' } : {}),
      }));
      await apply([
        // The pool's issuer: the certificate only, its key is in the token.
        { apiVersion: 'v1', kind: 'Secret', metadata: { name: POOL, namespace: ns.name }, stringData: { 'tls.crt': caPem } },
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: `${POOL}-db`, namespace: ns.name },
          data: { 'index.txt': indexTxt(records), 'index.txt.attr': 'unique_subject = no\n' },
        },
      ]);
      asker = await clientPod(ns.name, 'asker', { 'root.pem': root.certPem, 'ca.pem': caPem });
    }, 600_000);

    afterAll(async () => {
      // The namespace first (its pods hold the volume), then the volume and its directory.
      if (ns) await kubectl(['delete', 'namespace', ns.name, '--wait=true', '--timeout=180s'], undefined, 200_000);
      await volume?.remove();
      await operator?.uninstall();
    });

    it('the token Job made the token on the local PersistentVolume, owned by the signer’s uid through fsGroup', async () => {
      const pvc = JSON.parse(await kubectlOk(['-n', ns.name, 'get', 'pvc', CLAIM, '-o', 'json'])) as {
        spec: { volumeName?: string };
        status: { phase?: string };
      };
      expect(pvc, `PersistentVolumeClaim ${ns.name}/${CLAIM}`).toMatchObject({ spec: { volumeName: pv }, status: { phase: 'Bound' } });
      const listing = await kubectlOk(['-n', ns.name, 'logs', 'job/softhsm-token']);
      expect(listing, `Job ${ns.name}/softhsm-token lists the key ${KEY_LABEL} on token ${TOKEN_LABEL}`).toMatch(
        new RegExp(`label:\\s+${KEY_LABEL}`),
      );
      // The directory was root's; the kubelet gave it to the fsGroup, so uid 65532 could make the
      // token there, private to itself as SoftHSM keeps it.
      expect((await stat(tokenDir)).gid, `PersistentVolume ${pv} (${tokenDir}): group is the pods' fsGroup`).toBe(65532);
      const tokens = await readdir(tokenDir);
      expect(tokens, `PersistentVolume ${pv} (${tokenDir}): one token directory`).toHaveLength(1);
      const token = await stat(join(tokenDir, tokens[0]!));
      expect(
        { uid: token.uid, mode: (token.mode & 0o777).toString(8) },
        `token ${TOKEN_LABEL} in ${tokenDir}: owned by the signer's uid`,
      ).toEqual({ uid: 65532, mode: '700' });
    });

    it('the pool’s signer mounts the token through spec.signers.pod, signs with it from the signer image under PodSecurity restricted, and every answer verifies up to the root', async () => {
      const t0 = Date.now();
      await apply([
        {
          apiVersion: 'ocsp-operator.dev/v1alpha1',
          kind: 'OcspResponderPool',
          metadata: { name: POOL, namespace: ns.name },
          spec: {
            issuer: { secretName: POOL },
            signing: {
              pkcs11: { tokenLabel: TOKEN_LABEL, keyLabel: KEY_LABEL, pinSecretRef: { name: 'softhsm-pin', key: 'pin' }, sessions: 2 },
            },
            delegatedResponder: { mode: 'None' },
            sources: [{ opensslIndex: { configMapName: `${POOL}-db` } }],
            // The token is what this test is about; the store's own claim is proven in pools.node.test.ts.
            store: { embedded: { ephemeral: true } },
            signers: {
              pod: {
                volumes: [{ name: 'tokens', persistentVolumeClaim: { claimName: CLAIM } }],
                volumeMounts: [{ name: 'tokens', mountPath: '/var/lib/softhsm/tokens' }],
              },
            },
          },
        },
      ]);
      const [pod] = await waitForReadyPods(ns.name, `ocsp-operator.dev/pool=${POOL}`, 1, 240_000);
      const readyMs = Date.now() - t0;
      const spec = JSON.parse(await kubectlOk(['-n', ns.name, 'get', 'pod', pod!.name, '-o', 'json'])) as {
        spec: {
          containers: Array<{ name: string; image: string; volumeMounts: Array<{ name: string; mountPath: string }> }>;
          volumes: Array<{ name: string; persistentVolumeClaim?: { claimName: string } }>;
        };
      };
      const signer = spec.spec.containers.find((c) => c.name === 'signer');
      expect(signer?.image, `pod ${ns.name}/${pod!.name}: the signer runs from the signer image`).toBe(nodeImage('signer'));
      expect(signer?.volumeMounts, `pod ${ns.name}/${pod!.name}: the signer mounts the token`).toContainEqual(
        expect.objectContaining({ name: 'tokens', mountPath: '/var/lib/softhsm/tokens' }),
      );
      expect(spec.spec.volumes, `pod ${ns.name}/${pod!.name}: the token volume is the claim ${CLAIM}`).toContainEqual({
        name: 'tokens',
        persistentVolumeClaim: { claimName: CLAIM },
      });

      const pool = await waitFor(
        `OcspResponderPool ${ns.name}/${POOL} Ready`,
        async () => {
          const p = await client.get<PoolObj>(OcspResponderPoolType, ns.name, POOL);
          return p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? p : undefined;
        },
        180_000,
        1_000,
      );
      expect(pool.status, `OcspResponderPool ${ns.name}/${POOL} status`).toMatchObject({ certificates: 4, backlog: 0, revoked: 1 });

      for (const [i, r] of records.entries()) {
        const a = await ask(r.cert.serialNumber);
        const want = r.status === 'R' ? 'revoked' : 'good';
        expect(a.status, `device-${i} (serial ${r.cert.serialNumber}) from ${url()}: ${a.output}`).toBe(want);
        expect(a.verified, `the answer for device-${i} verifies with the token's key, chained to the root: ${a.output}`).toBe(true);
        if (want === 'revoked') expect(a.output, `device-${i} revoked for keyCompromise`).toMatch(/keyCompromise/);
      }
      const stranger = randomBytes(12).toString('hex').toUpperCase().replace(/^0/, '1');
      expect((await ask(stranger)).output, `serial ${stranger}, which the CA never issued, from ${url()}`).toMatch(/unauthorized/i);
      process.stderr.write(
        `[node pkcs11] pool ${ns.name}/${POOL}: pod ${pod!.name} Ready ${readyMs} ms after the pool was applied; token on PersistentVolume ${pv}\n`,
      );
    });
  },
);
