// Responder pools as a CA runs them: the operator installed by its chart renders the pool, the
// real StatefulSet controller, scheduler and kubelet run its pods from the images built here, and a
// client pod asks the responder Service by the DNS name a certificate's OCSP URL would carry;
// openssl verifies every answer. The certificate index reaches the signer as a mounted ConfigMap,
// so the times measured here include the kubelet's volume sync.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OcspResponderPoolType, ConfigMapType, type KubeObject } from '../../src/kube/types.js';
import type { ConfigMap } from '../../src/report/protocol.js';
import { kubeClient, waitFor } from '../support/kube.js';
import {
  apply,
  clientPod,
  installOperator,
  nodeUnavailable,
  restrictedNamespace,
  waitForReadyPods,
  type ClientPod,
} from '../support/node.js';
import { createCa, indexLine, issueLeaf, type Ca, type Issued } from '../support/pki.js';
import { createCaObjects } from '../support/pool-harness.js';

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

describe.skipIf(unavailable)('an embedded pool on the real node', { timeout: 600_000 }, () => {
  let operator: { namespace: string; uninstall(): Promise<void> };
  let ns: { name: string; remove(): Promise<void> };
  let ca: Ca;
  let leaves: Issued[];
  let asker: ClientPod;
  const url = () => `http://demo-ca.${ns.name}.svc.cluster.local/`;

  /** What the pool's Service answers for `leaf`, asked from inside the cluster and verified by openssl. */
  async function ask(i: number): Promise<{ status?: string; verified: boolean; output: string }> {
    const r = await asker.exec(
      [
        'openssl',
        'ocsp',
        '-issuer',
        '/work/ca.pem',
        '-cert',
        `/work/leaf${i}.pem`,
        '-url',
        url(),
        '-CAfile',
        '/work/ca.pem',
        '-no_nonce',
        '-timeout',
        '5',
      ],
      30_000,
    );
    const out = r.stdout + r.stderr;
    return { status: new RegExp(`leaf${i}\\.pem: (\\w+)`).exec(out)?.[1], verified: /Response verify OK/.test(out), output: out };
  }

  beforeAll(async () => {
    operator = await installOperator('pool-op');
    ns = await restrictedNamespace('demo-ca');
    ca = await createCa({ keyAlg: 'P-256', name: 'CN=Node Pool CA' });
    leaves = [];
    for (let i = 0; i < 7; i++)
      leaves.push(await issueLeaf(ca, { ocspUrl: `http://demo-ca.${ns.name}.svc.cluster.local/`, dnsNames: [`p${i}.test`] }));
    await createCaObjects(client, ns.name, ca, leaves.slice(0, 5));
    asker = await clientPod(ns.name, 'asker', {
      'ca.pem': ca.certPem,
      ...Object.fromEntries(leaves.map((l, i) => [`leaf${i}.pem`, l.certPem])),
    });
  }, 600_000);

  afterAll(async () => {
    await ns?.remove();
    await operator?.uninstall();
  });

  it('its pod runs from the operator image under PodSecurity restricted, becomes Ready through its probes, and serves every certificate', async () => {
    const t0 = Date.now();
    await apply([
      {
        apiVersion: 'ocsp-operator.dev/v1alpha1',
        kind: 'OcspResponderPool',
        metadata: { name: 'demo-ca', namespace: ns.name },
        spec: {
          issuer: { secretName: 'ca' },
          signing: { softwareKey: { secretName: 'ca' } },
          delegatedResponder: { mode: 'None' },
          sources: [{ opensslIndex: { configMapName: 'ca-db' } }],
          // The claim (the default) is proven in embedded-restart.node.test.ts.
          store: { embedded: { ephemeral: true } },
        },
      },
    ]);
    const [pod] = await waitForReadyPods(ns.name, 'ocsp-operator.dev/pool=demo-ca', 1, 240_000);
    const readyMs = Date.now() - t0;
    const pool = await waitFor(
      `${ns.name}/demo-ca Ready`,
      async () => {
        const p = await client.get<PoolObj>(OcspResponderPoolType, ns.name, 'demo-ca');
        return p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? p : undefined;
      },
      120_000,
      500,
    );
    expect(pool.status, `${ns.name}/demo-ca status`).toMatchObject({ certificates: 5, backlog: 0 });
    for (let i = 0; i < 5; i++) {
      const r = await ask(i);
      expect(r.status, `leaf${i} (serial ${leaves[i]!.serial}) from ${url()}: ${r.output}`).toBe('good');
      expect(r.verified, `openssl verified the answer for leaf${i}`).toBe(true);
    }
    // Never `good` for a serial the CA did not issue (not in the index yet).
    expect((await ask(6)).output, `leaf6 (${leaves[6]!.serial}) is not in the index`).toMatch(/unauthorized/i);
    process.stderr.write(
      `[node pools] embedded pool ${ns.name}/demo-ca: pod ${pod!.name} Ready ${readyMs} ms after the pool was applied\n`,
    );
  });

  it('a certificate added to the CA database and a declared revocation are served after the kubelet syncs the index', async () => {
    const t0 = Date.now();
    const cm = await client.get<ConfigMap>(ConfigMapType, ns.name, 'ca-db');
    await client.mergePatch(
      ConfigMapType,
      { namespace: ns.name, name: 'ca-db' },
      { data: { 'index.txt': `${cm.data?.['index.txt']}${indexLine({ cert: leaves[5]!.cert, status: 'V' })}\n` } },
    );
    // Baseline Requirements: within 15 minutes. A kubelet refreshes a mounted ConfigMap about once a minute.
    await waitFor(`leaf5 (${leaves[5]!.serial}) served good`, async () => (await ask(5)).status === 'good', 180_000, 2_000);
    const newMs = Date.now() - t0;

    const t1 = Date.now();
    await client.mergePatch(
      OcspResponderPoolType,
      { namespace: ns.name, name: 'demo-ca' },
      {
        spec: {
          revocations: [
            {
              serial: leaves[2]!.serial,
              time: new Date(Date.now() - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
              reason: 'keyCompromise',
            },
          ],
        },
      },
    );
    const revoked = await waitFor(
      `leaf2 (${leaves[2]!.serial}) served revoked`,
      async () => {
        const r = await ask(2);
        return r.status === 'revoked' ? r : undefined;
      },
      180_000,
      2_000,
    );
    const revokeMs = Date.now() - t1;
    expect(revoked.output).toMatch(/keyCompromise/);
    expect(revoked.verified).toBe(true);
    process.stderr.write(
      `[node pools] embedded pool: new certificate served after ${newMs} ms, declared revocation after ${revokeMs} ms (kubelet ConfigMap sync included)\n`,
    );
  });
});
