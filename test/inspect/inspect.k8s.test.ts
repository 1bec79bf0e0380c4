// `kubectl ocsp inspect …` against the real apiserver, run the way users run it: the real kubectl
// finds `kubectl-ocsp` on the PATH (bin/, running dist/). Staple Secrets in the operator's format
// with a good, missing, expired and mismatched staple, owned by OcspStaples whose status the test
// writes; the same published for real by the staple controller from the real `openssl ocsp`; and an
// OcspResponderPool before and after its status is written.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/devenv/control-plane.js';
import type { KubeClient } from '../../src/kube/client.js';
import {
  OcspResponderPoolType,
  OcspStapleType,
  SecretType,
  type KubeObject,
  type ResourceType,
  type Secret,
} from '../../src/kube/types.js';
import { buildOcspRequest, parsePemChain, sha256Fingerprint, validateOcspResponse } from '../../src/ocsp/index.js';
import { ANNOTATION_SERIAL } from '../../src/api/annotations.js';
import { buildStapleSecret, pairDigest, type Published } from '../../src/staple/staple-secret.js';
import { createNamespace, kubeClient, kubeconfigPath, putSecret, tlsSecret } from '../support/kube.js';
import { BIN, exec, field, kubectlOcsp, type Run } from '../support/kubectl-ocsp.js';
import { startOpensslResponder, type ResponderHandle } from '../support/openssl.js';
import { issueLeaf } from '../support/pki.js';
import { createStaple, getStaple, startStapleController, waitForReason, type Harness } from '../support/staple-harness.js';
import { CASES, makePki, stapleFor, type Pki } from '../probe/fixtures.js';

/** `kubectl ocsp ARGS -n NS`, with bin/ on the PATH and KUBECONFIG set, as a user would type it. */
function ocspInNs(args: string[]): Promise<Run> {
  return kubectlOcsp([...args, '-n', ns.name]);
}

let client: KubeClient;
let ns: { name: string; remove(): Promise<void> };
let pki: Pki;
const cur = () => pki.current.serial.toLowerCase();
const prev = () => pki.previous.serial.toLowerCase();
const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

beforeAll(async () => {
  if (!existsSync(join(repoRoot(), 'dist', 'src', 'kubectl-plugin', 'main.js')))
    throw new Error('dist/ is missing: build first (npx tsc -p tsconfig.json)');
  client = kubeClient();
  ns = await createNamespace(client, 'inspect');
  pki = await makePki();
});

afterAll(async () => {
  await ns?.remove();
});

async function writeStatus(type: ResourceType, name: string, status: Record<string, unknown>): Promise<void> {
  await client.mergePatch(type, { namespace: ns.name, name, subresource: 'status' }, { status });
}

function condition(type: string, status: string, reason: string, message: string) {
  return { type, status, reason, message, lastTransitionTime: iso(Date.now() - 60_000) };
}

describe('inspect secret / staple: staple Secrets with good, missing, expired and mismatched staples', () => {
  const nextRefresh = iso(Date.now() + 23 * 3_600_000);

  beforeAll(async () => {
    for (const c of CASES) {
      const owner = await createStaple(client, ns.name, `web-${c}`, { secretName: `src-${c}` });
      const staple = stapleFor(pki, c);
      // the annotations describe what the Secret holds (a writer that paired the wrong staple consistently)
      const sha256 = sha256Fingerprint(pki.current.cert);
      const pems = { certPem: pki.current.chainPem, keyPem: pki.current.keyPem, caPem: pki.ca.certPem, issuerPem: pki.ca.certPem };
      const published: Published = {
        pair: { serial: cur(), sha256, digest: pairDigest(pems, cur(), sha256), pems: () => pems },
      };
      if (staple) {
        const nextUpdate = c === 'expired' ? pki.expiredNextUpdate : pki.goodNextUpdate;
        published.staple = {
          der: staple,
          thisUpdate: iso(Date.now() - 3_600_000),
          nextUpdate: iso(nextUpdate.getTime()),
          usableUntil: iso(nextUpdate.getTime()),
        };
      }
      await client.create(
        SecretType,
        buildStapleSecret({ namespace: ns.name, name: `src-${c}-ocsp`, owner: { name: `web-${c}`, uid: owner.metadata!.uid! }, published }),
      );
      await putSecret(
        client,
        tlsSecret(ns.name, `src-${c}`, { certPem: pki.current.chainPem, keyPem: pki.current.keyPem, caPem: pki.ca.certPem }),
      );
    }
    await writeStatus(OcspStapleType, 'web-good', {
      stapleSecretName: 'src-good-ocsp',
      conditions: [
        condition('Ready', 'True', 'Stapled', `staple for certificate ${cur()} (good) valid until ${iso(pki.goodNextUpdate.getTime())}`),
        condition('Fresh', 'True', 'Refreshed', 'ok'),
      ],
      certificate: { serial: cur() },
      staple: { certStatus: 'good', usableUntil: iso(pki.goodNextUpdate.getTime()) },
      nextRefreshTime: nextRefresh,
      consecutiveFailures: 0,
    });
    await writeStatus(OcspStapleType, 'web-expired', {
      stapleSecretName: 'src-expired-ocsp',
      conditions: [
        condition('Ready', 'False', 'TryLater', 'responder answered tryLater'),
        condition('Fresh', 'False', 'TryLater', '3 consecutive failed refresh(es)'),
      ],
      nextRefreshTime: iso(Date.now() + 40_000),
      consecutiveFailures: 3,
      lastFailure: {
        reason: 'TryLater',
        message: 'responder answered tryLater (5 bytes): the responder is busy or not ready; retry later',
        time: iso(Date.now() - 20_000),
      },
    });
  });

  it('good: exit 0, in lockstep, and the next refresh from the OcspStaple status', async () => {
    const r = await ocspInNs(['inspect', 'secret', 'src-good-ocsp']);
    expect(r.stderr).toBe('');
    expect(r.code, r.stdout).toBe(0);
    expect(field(r.stdout, 'Role')).toBe(`staple Secret of OcspStaple ${ns.name}/web-good`);
    expect(field(r.stdout, 'serial')).toBe(cur());
    expect(field(r.stdout, 'valid')).toBe('yes');
    expect(field(r.stdout, 'status')).toBe('good');
    expect(field(r.stdout, 'next update')).toMatch(new RegExp(`^${iso(pki.goodNextUpdate.getTime())} \\(in 1d23h`));
    expect(field(r.stdout, 'signer')).toBe('CN=Probe Test CA, O=ocsp-operator tests (the issuer itself)');
    expect(field(r.stdout, 'Lockstep')).toBe(`yes: the staple is for serial ${cur()} from CN=Probe Test CA, O=ocsp-operator tests`);
    expect(field(r.stdout, 'Consistency')).toBe('keys and annotations agree');
    expect(r.stdout).toMatch(new RegExp(`next refresh ${nextRefresh} \\(in 2[23]h`));
    expect(r.stdout).toContain('Ready=True (Stapled)');
    expect(field(r.stdout, 'Verdict')).toBe('OK');
  });

  it('missing: exit 1, NoStaple', async () => {
    const r = await ocspInNs(['inspect', 'secret', 'src-missing-ocsp']);
    expect(r.code).toBe(1);
    expect(field(r.stdout, 'present')).toBe('no');
    expect(field(r.stdout, 'Verdict')).toBe(`PROBLEM: NoStaple: no OCSP staple for certificate ${cur()}`);
    expect(r.stdout).toContain('the OcspStaple has no status yet');
  });

  it('expired: exit 1, Expired, and the failures that led there', async () => {
    const r = await ocspInNs(['inspect', 'secret', 'src-expired-ocsp']);
    expect(r.code).toBe(1);
    expect(field(r.stdout, 'valid')).toMatch(/^no: Expired: nextUpdate \S+ has passed/);
    expect(field(r.stdout, 'Lockstep')).toBe(`yes: the staple is for serial ${cur()} from CN=Probe Test CA, O=ocsp-operator tests`);
    expect(r.stdout).toMatch(/3 consecutive failed refresh\(es\); last \S+ \(\d+s ago\) TryLater: responder answered tryLater/);
    expect(field(r.stdout, 'Verdict')).toMatch(/^PROBLEM: Expired: /);
  });

  it('mismatched: exit 1, not in lockstep, both serials named; -o json says the same', async () => {
    const r = await ocspInNs(['inspect', 'secret', 'src-mismatched-ocsp']);
    expect(r.code).toBe(1);
    expect(field(r.stdout, 'Lockstep')).toBe(`NO: the staple is for serial ${prev()}, the certificate is ${cur()}`);
    expect(field(r.stdout, 'Verdict')).toMatch(
      new RegExp(`^PROBLEM: StapleMismatch: not in lockstep: the staple is for serial ${prev()}, the certificate is ${cur()}`),
    );
    const j = await ocspInNs(['inspect', 'secret', 'src-mismatched-ocsp', '-o', 'json']);
    expect(j.code).toBe(1);
    const doc = JSON.parse(j.stdout) as {
      role: string;
      lockstep: boolean;
      certificate: { serial: string };
      staple: { for: Array<{ serial: string }>; failure: { reason: string } };
      problems: Array<{ reason: string }>;
      ok: boolean;
    };
    expect(doc).toMatchObject({ role: 'staple', lockstep: false, certificate: { serial: cur() }, ok: false });
    expect(doc.staple.for.map((e) => e.serial)).toEqual([prev()]);
    expect(doc.staple.failure.reason).toBe('CertIdMismatch');
    expect(doc.problems.map((p) => p.reason)).toEqual(['StapleMismatch']);
  });

  it('annotations that disagree with tls.crt are a problem (1)', async () => {
    const s = await client.get<Secret>(SecretType, ns.name, 'src-good-ocsp');
    s.metadata!.name = 'relabelled-ocsp';
    s.metadata!.annotations = { ...s.metadata!.annotations, [ANNOTATION_SERIAL]: prev() };
    delete s.metadata!.resourceVersion;
    delete s.metadata!.uid;
    delete s.metadata!.creationTimestamp;
    delete (s.metadata as { managedFields?: unknown }).managedFields;
    await client.create(SecretType, s);
    const r = await ocspInNs(['inspect', 'secret', 'relabelled-ocsp']);
    expect(r.code).toBe(1);
    expect(field(r.stdout, 'Consistency')).toBe(
      `AnnotationMismatch: annotation ${ANNOTATION_SERIAL} says ${prev()}, tls.crt holds ${cur()}`,
    );
  });

  it('a source certificate Secret: exit 0, and which staple Secret publishes it', async () => {
    const r = await ocspInNs(['inspect', 'secret', 'src-good']);
    expect(r.code, r.stdout).toBe(0);
    expect(field(r.stdout, 'Role')).toBe(`source certificate of OcspStaple ${ns.name}/web-good (staple Secret src-good-ocsp)`);
    expect(field(r.stdout, 'Published')).toBe('src-good-ocsp publishes this certificate');
  });

  it('inspect staple: conditions, schedule and the staple Secret checked; exit follows Ready and lockstep', async () => {
    const good = await ocspInNs(['inspect', 'staple', 'web-good']);
    expect(good.code, good.stdout).toBe(0);
    expect(good.stdout).toMatch(/^Conditions:\n {2}TYPE +STATUS +REASON +SINCE +MESSAGE\n {2}Ready +True +Stapled /m);
    expect(field(good.stdout, 'next refresh')).toMatch(new RegExp(`^${nextRefresh} \\(in 2[23]h`));
    expect(field(good.stdout, 'lockstep')).toBe(`yes: the staple is for serial ${cur()} from CN=Probe Test CA, O=ocsp-operator tests`);

    const expired = await ocspInNs(['inspect', 'staple', 'web-expired']);
    expect(expired.code).toBe(1);
    expect(field(expired.stdout, 'failures')).toBe(
      '3 (last: TryLater: responder answered tryLater (5 bytes): the responder is busy or not ready; retry later)',
    );
    expect(field(expired.stdout, 'Verdict')).toMatch(/^PROBLEM: TryLater: Ready=False: .*; Expired: /);

    const fresh = await ocspInNs(['inspect', 'staple', 'web-missing']);
    expect(field(fresh.stdout, 'Status')).toBe('no status yet (the operator has not reconciled it)');
  });

  it('not found, a bad context and a missing argument exit 2', async () => {
    const missing = await ocspInNs(['inspect', 'secret', 'nope']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`Secret ${ns.name}/nope not found`);
    const ctx = await exec(join(BIN, 'kubectl-ocsp'), [
      'inspect',
      'secret',
      'src-good-ocsp',
      '-n',
      ns.name,
      '--kubeconfig',
      kubeconfigPath(),
      '--context',
      'no-such-context',
    ]);
    expect(ctx.code).toBe(2);
    expect(ctx.stderr).toContain('context "no-such-context" is not in the kubeconfig');
    const usage = await ocspInNs(['inspect', 'secret']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('usage: kubectl ocsp inspect secret|staple|pool NAME');
  });

  it('--kubeconfig and --context choose the cluster (the flags, no KUBECONFIG)', async () => {
    const { loadKubeConfig } = await import('../../src/kube/config.js');
    const context = loadKubeConfig(kubeconfigPath()).getCurrentContext();
    const env = { KUBECONFIG: '/nonexistent/kubeconfig' };
    const r = await exec(
      join(BIN, 'kubectl-ocsp'),
      ['inspect', 'secret', 'src-good-ocsp', '-n', ns.name, '--kubeconfig', kubeconfigPath(), '--context', context],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(field(r.stdout, 'Verdict')).toBe('OK');
  });
});

describe('inspect a staple Secret the staple controller published', () => {
  let h: Harness;
  let responder: ResponderHandle;

  beforeAll(async () => {
    // the OcspStaple names the responder (spec.responderURL); the leaf's AIA URL goes nowhere
    const leaf = await issueLeaf(pki.ca, { ocspUrl: 'http://127.0.0.1:9/', dnsNames: ['live.test'] });
    responder = await startOpensslResponder({
      ca: pki.ca,
      indexEntries: [{ cert: leaf.cert, status: 'V' }],
      nmin: 60,
      probeRequest: buildOcspRequest({ cert: leaf.cert, issuer: pki.ca.cert }).der,
    });
    h = await startStapleController(ns.name);
    await putSecret(client, tlsSecret(ns.name, 'live-tls', { certPem: leaf.chainPem, keyPem: leaf.keyPem, caPem: pki.ca.certPem }));
    await createStaple(client, ns.name, 'live', { secretName: 'live-tls', responderURL: responder.url });
    await waitForReason(client, ns.name, 'live', 'Stapled');
  });

  afterAll(async () => {
    await h?.stop();
    await responder?.stop();
  });

  it('exit 0 for the Secret and the OcspStaple; the next refresh is the status one; the staple validates', async () => {
    const status = (await getStaple(client, ns.name, 'live')).status!;
    const r = await ocspInNs(['inspect', 'secret', 'live-tls-ocsp']);
    expect(r.code, r.stdout).toBe(0);
    expect(field(r.stdout, 'Lockstep')).toMatch(/^yes: /);
    expect(r.stdout).toContain(`next refresh ${status.nextRefreshTime}`);
    const j = JSON.parse((await ocspInNs(['inspect', 'secret', 'live-tls-ocsp', '-o', 'json'])).stdout) as {
      staple: { response: { thisUpdate: string } };
    };
    expect(j.staple.response.thisUpdate).toBe(status.staple?.thisUpdate?.replace('Z', '.000Z'));
    const s = await ocspInNs(['inspect', 'staple', 'live']);
    expect(s.code, s.stdout).toBe(0);
    expect(field(s.stdout, 'Verdict')).toBe('OK');
    // the same staple bytes, checked independently
    const secret = await client.get<Secret>(SecretType, ns.name, 'live-tls-ocsp');
    const [leaf] = parsePemChain(Buffer.from(secret.data!['tls.crt']!, 'base64').toString());
    const v = validateOcspResponse(new Uint8Array(Buffer.from(secret.data!['tls.ocsp-staple']!, 'base64')), {
      cert: leaf!,
      issuer: pki.ca.cert,
      now: new Date(),
    });
    expect(v.ok).toBe(true);
  });
});

describe('inspect pool', () => {
  const spec = {
    issuer: { secretName: 'example-ca' },
    signing: { softwareKey: { secretName: 'example-ca' } },
    sources: [{ clusterSecrets: {} }],
    responder: { maxReplicationLag: '10s' },
  };

  beforeAll(async () => {
    await client.create<KubeObject>(OcspResponderPoolType, {
      apiVersion: 'ocsp-operator.dev/v1alpha1',
      kind: 'OcspResponderPool',
      metadata: { name: 'ca', namespace: ns.name },
      spec,
    } as KubeObject);
  });

  it('before the pool controller has written anything: "no status yet", exit 0', async () => {
    const r = await ocspInNs(['inspect', 'pool', 'ca']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(field(r.stdout, 'Status')).toBe('no status yet (the pool controller has not reported on this pool)');
    expect(field(r.stdout, 'store')).toBe('Embedded');
    const j = JSON.parse((await ocspInNs(['inspect', 'pool', 'ca', '-o', 'json'])).stdout) as { hasStatus: boolean; problems: unknown[] };
    expect(j).toMatchObject({ hasStatus: false, problems: [] });
  });

  it('backlog, oldest response and a lagging replica: the table and exit 1', async () => {
    await client.mergePatch(
      OcspResponderPoolType,
      { namespace: ns.name, name: 'ca', subresource: 'status' },
      {
        status: {
          certificates: 1200,
          backlog: 35,
          missing: 3,
          oldestResponse: new Date(Date.now() - 100 * 3_600_000).toISOString(),
          signers: { desired: 3, ready: 2, signaturesPerSecond: 850 },
          responders: { ready: 1, outOfRotation: ['responder-1'] },
          replication: [
            { replica: 'redis-0', lagSeconds: 0.4, inRotation: true },
            { replica: 'redis-1', lagSeconds: 42, inRotation: false },
          ],
        },
      },
    );
    const r = await ocspInNs(['inspect', 'pool', 'ca']);
    expect(r.code, r.stdout).toBe(1);
    expect(field(r.stdout, 'backlog')).toBe('35 (3 without any response)');
    expect(field(r.stdout, 'oldest response')).toMatch(/^signed \S+Z \(4d4h ago\) \(warning 96h, critical 144h\)$/);
    expect(field(r.stdout, 'signers')).toBe('2/3 ready, 850 signatures/s');
    expect(r.stdout).toMatch(
      /^Replication:\n {2}REPLICA +LAG +IN ROTATION +STATE\n {2}redis-0 +0\.4s +yes +ok\n {2}redis-1 +42s +no +LAGGING$/m,
    );
    const j = JSON.parse((await ocspInNs(['inspect', 'pool', 'ca', '-o', 'json'])).stdout) as {
      problems: Array<{ reason: string; message: string }>;
    };
    expect(j.problems.map((p) => p.reason)).toEqual(['ResponsesStale', 'ReplicaLagging', 'RespondersOutOfRotation']);
    expect(j.problems[1]?.message).toBe('replica redis-1 lags 42s (max 10s), out of rotation');
  });

  it('a healthy status: exit 0', async () => {
    await client.mergePatch(
      OcspResponderPoolType,
      { namespace: ns.name, name: 'ca', subresource: 'status' },
      {
        status: {
          backlog: 0,
          missing: 0,
          oldestResponse: new Date(Date.now() - 70 * 3_600_000).toISOString(),
          responders: { ready: 2, outOfRotation: null },
          replication: [
            { replica: 'redis-0', lagSeconds: 0.4, inRotation: true },
            { replica: 'redis-1', lagSeconds: 1.5, inRotation: true },
          ],
        },
      },
    );
    const r = await ocspInNs(['inspect', 'pool', 'ca']);
    expect(r.code, r.stdout).toBe(0);
    expect(field(r.stdout, 'Verdict')).toBe('OK');
  });
});
