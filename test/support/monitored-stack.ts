// The operator, a signer and a responder as real host processes against the test apiserver, each
// serving /metrics, with objects in the states the alerts are about: staples stapled (good, revoked,
// a delegated signer about to expire), staples that cannot be (Secret missing, key mismatch, staple
// Secret conflict, expired certificate, no first staple on a must-staple certificate, a responder
// that says unknown), one without OCSP, one paused, a pool that serves and one whose issuer is missing. The signer and responder
// report to the serving pool as its pod would. Scrapes of `targets` are what a Prometheus would see
// (minus its target labels): the alert tests check their series against them, and the dashboard
// tests point a real Prometheus at them. Needs the kube project (its apiserver) and dist/ built.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, repoRoot } from '../../src/devenv/control-plane.js';
import { KubeClient } from '../../src/kube/client.js';
import { loadKubeConfig } from '../../src/kube/config.js';
import { OcspResponderPoolType, SecretType, type KubeObject, type Secret } from '../../src/kube/types.js';
import {
  createNamespace,
  kubeconfigPath,
  metricValue,
  putSecret,
  startOperator,
  tlsSecret,
  waitFor,
  type OperatorProcess,
} from './kube.js';
import { startOpensslResponder, type ResponderHandle } from './openssl.js';
import { createCa, indexLine, issueLeaf, issueResponderCert } from './pki.js';
import { createCaObjects } from './pool-harness.js';
import { createStaple, getStaple, condition } from './staple-harness.js';

export type MonitoredJob = 'operator' | 'signer' | 'responder';

export interface MonitoredStackOptions {
  /** The cluster (default: the kube project's apiserver). */
  kubeconfig?: string;
  /** Prefix of the namespace created for the stack's objects. */
  namespacePrefix?: string;
  /** How long to wait for every object to reach its state (default 90 s). */
  settleTimeoutMs?: number;
}

export interface MonitoredStack {
  targets: Array<{ job: MonitoredJob; url: string /* http://127.0.0.1:PORT/metrics */ }>;
  /** The namespace holding the staples and pools. */
  namespace: string;
  /** Each staple's name and the Ready reason it settled on. */
  staples: Record<string, string>;
  /** Each pool's name and the Ready reason it settled on. */
  pools: Record<string, string>;
  stop(): Promise<void>;
}

/** The pool pod the signer and responder report as (an embedded pool: one pod runs both). */
const POD = 'served-6c8d9f7b5-m0n1t';
const POOL = 'served';
const BROKEN_POOL = 'broken';

/** Each staple and the Ready reason it must reach before the stack is up. */
const STAPLE_STATES = {
  good: 'Stapled',
  revoked: 'Stapled', // Revoked=True: the truthful revoked staple is served
  'signer-expiring': 'Stapled', // SignerCertificateExpiring=True
  missing: 'SecretNotFound',
  mismatch: 'KeyMismatch',
  conflict: 'StapleSecretConflict',
  expired: 'CertificateExpired',
  'must-staple': 'ResponderUnreachable', // no first staple; MustStapleSatisfied=False
  unknown: 'ResponderSaysUnknown',
  'no-ocsp': 'NotApplicable', // no OCSP URL: the pair is published without a staple
  paused: 'Paused',
} as const;

export async function startMonitoredStack(o: MonitoredStackOptions = {}): Promise<MonitoredStack> {
  const cli = join(repoRoot(), 'dist', 'src', 'cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (npm test does)`);
  const kubeconfig = o.kubeconfig ?? kubeconfigPath();
  const settle = o.settleTimeoutMs ?? 90_000;
  const client = new KubeClient(loadKubeConfig(kubeconfig));
  const procs: ChildProcess[] = [];
  const output: string[] = [];
  let op: OperatorProcess | undefined;
  let openssl: ResponderHandle | undefined;
  let ns: { name: string; remove(): Promise<void> } | undefined;
  let dir: string | undefined;

  const stop = async (): Promise<void> => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
    await Promise.all(
      procs.map((p) =>
        p.exitCode !== null || p.signalCode !== null
          ? Promise.resolve()
          : new Promise<void>((r) => {
              const t = setTimeout(() => p.kill('SIGKILL'), 10_000); // bounded: a stuck child is killed
              p.once('exit', () => (clearTimeout(t), r()));
            }),
      ),
    );
    await op?.stop();
    await openssl?.stop();
    await ns?.remove().catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  };

  const start = (args: string[]): ChildProcess => {
    const p = spawn(process.execPath, [cli, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, KUBECONFIG: kubeconfig, POD_NAME: POD, POD_NAMESPACE: ns?.name ?? '' },
    });
    p.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
    p.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
    procs.push(p);
    return p;
  };
  const scrape = async (url: string) => (await fetch(url).catch(() => undefined))?.text();

  try {
    dir = await mkdtemp(join(tmpdir(), 'ocsp-monitored-'));
    ns = await createNamespace(client, o.namespacePrefix ?? 'monitored');
    const namespace = ns.name;
    const responderPort = await freePort();
    const responderUrl = `http://127.0.0.1:${responderPort}/`;
    const ca = await createCa({ keyAlg: 'P-256', name: 'CN=Monitored CA' });
    const good = await issueLeaf(ca, { dnsNames: ['good.test'], ocspUrl: responderUrl });
    const revoked = await issueLeaf(ca, { dnsNames: ['revoked.test'], ocspUrl: responderUrl });
    const mustStaple = await issueLeaf(ca, { dnsNames: ['must.test'], mustStaple: true }); // AIA: a dead port
    const otherKey = await issueLeaf(ca, { dnsNames: ['other.test'], freshKey: true });
    const noOcsp = await issueLeaf(ca, { dnsNames: ['no-ocsp.test'], ocspUrl: null });
    const expired = await issueLeaf(ca, {
      dnsNames: ['expired.test'],
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    // A second responder, openssl's, signing with a delegated certificate that expires within the
    // staples' signerExpiryWarning (168 h), and answering `unknown` for what its index lacks.
    const delegated = await issueLeaf(ca, { dnsNames: ['delegated.test'] });
    const stranger = await issueLeaf(ca, { dnsNames: ['stranger.test'] });
    const responderCert = await issueResponderCert(ca, { notAfter: new Date(Date.now() + 2 * 86_400_000) });
    openssl = await startOpensslResponder({
      ca,
      responder: responderCert,
      indexEntries: [{ cert: delegated.cert, status: 'V' }],
      ndays: 1,
    });

    // The serving pool: its CA objects for the controller, its index for the signer.
    await createCaObjects(client, namespace, ca, [good, revoked]);
    await writeFile(join(dir, 'ca.pem'), ca.certPem);
    await writeFile(join(dir, 'ca.key'), ca.keyPem, { mode: 0o600 });
    await writeFile(
      join(dir, 'index.txt'),
      [indexLine({ cert: good.cert, status: 'V' }), indexLine({ cert: revoked.cert, status: 'R', reason: 'keyCompromise' })].join('\n') +
        '\n',
    );
    await writeFile(join(dir, 'index.txt.attr'), 'unique_subject = no\n');
    const poolSpec = (issuer: string) => ({
      issuer: { secretName: issuer },
      signing: { softwareKey: { secretName: issuer } },
      delegatedResponder: { mode: 'None' },
      sources: [{ opensslIndex: { configMapName: 'ca-db' } }],
    });
    for (const [name, issuer] of [
      [POOL, 'ca'],
      [BROKEN_POOL, 'absent-ca'],
    ] as const) {
      await client.create(OcspResponderPoolType, {
        apiVersion: 'ocsp-operator.dev/v1alpha1',
        kind: 'OcspResponderPool',
        metadata: { name, namespace },
        spec: poolSpec(issuer),
      } as KubeObject);
    }

    op = await startOperator(['--namespaces', namespace], {}, kubeconfig);
    const signerMetrics = await freePort();
    const responderMetrics = await freePort();
    start([
      'signer',
      '--index',
      join(dir, 'index.txt'),
      '--ca-cert',
      join(dir, 'ca.pem'),
      '--key-file',
      join(dir, 'ca.key'),
      '--store-dir',
      join(dir, 'store'),
      '--interval',
      '1s',
      '--sessions',
      '1',
      '--report-pool',
      POOL,
      '--metrics-addr',
      `127.0.0.1:${signerMetrics}`,
      '--log-level',
      'warn',
    ]);
    await waitFor("the signer's store", () => existsSync(join(dir!, 'store', 'responses.log')) || undefined, 30_000);
    start([
      'responder',
      '--ca-cert',
      join(dir, 'ca.pem'),
      '--store-dir',
      join(dir, 'store'),
      '--lag-policy',
      'TryLater',
      '--listen',
      `127.0.0.1:${responderPort}`,
      '--metrics-addr',
      `127.0.0.1:${responderMetrics}`,
      '--workers',
      '1',
      '--report-pool',
      POOL,
      '--log-level',
      'warn',
    ]);
    const targets: MonitoredStack['targets'] = [
      { job: 'operator', url: `${op.healthUrl}/metrics` },
      { job: 'signer', url: `http://127.0.0.1:${signerMetrics}/metrics` },
      { job: 'responder', url: `http://127.0.0.1:${responderMetrics}/metrics` },
    ];
    // Both responses signed and the responder serving them: the staples' first fetch succeeds.
    await waitFor(
      'the signer to sign both certificates',
      async () => {
        const t = await scrape(targets[1]!.url);
        return (
          t !== undefined &&
          (metricValue(t, 'ocsp_signer_backlog', { kind: 'due' }) ?? 1) === 0 &&
          (metricValue(t, 'ocsp_signer_certificates') ?? 0) >= 2
        );
      },
      settle,
    );
    await waitFor(
      'the responder ready',
      async () => metricValue((await scrape(targets[2]!.url)) ?? '', 'ocsp_responder_ready') === 1,
      settle,
    );

    // The certificate Secrets and the staples (a short retry so no state waits on a 10 s backoff).
    const secrets: Array<[string, { certPem: string; keyPem: string }]> = [
      ['good-tls', { certPem: good.chainPem, keyPem: good.keyPem }],
      ['revoked-tls', { certPem: revoked.chainPem, keyPem: revoked.keyPem }],
      ['delegated-tls', { certPem: delegated.chainPem, keyPem: delegated.keyPem }],
      ['mismatch-tls', { certPem: good.chainPem, keyPem: otherKey.keyPem }],
      ['expired-tls', { certPem: expired.chainPem, keyPem: expired.keyPem }],
      ['must-tls', { certPem: mustStaple.chainPem, keyPem: mustStaple.keyPem }],
      ['stranger-tls', { certPem: stranger.chainPem, keyPem: stranger.keyPem }],
      ['no-ocsp-tls', { certPem: noOcsp.chainPem, keyPem: noOcsp.keyPem }],
    ];
    for (const [name, pair] of secrets) await putSecret(client, tlsSecret(namespace, name, pair));
    // Not owned by any OcspStaple: the `conflict` staple must refuse to overwrite it.
    await client.create<Secret>(SecretType, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'taken', namespace },
      data: { note: Buffer.from('someone else').toString('base64') },
    });
    const refresh = { retryInitial: '1s', retryMax: '5s' };
    const specs: Record<keyof typeof STAPLE_STATES, Record<string, unknown>> = {
      good: { secretName: 'good-tls' },
      revoked: { secretName: 'revoked-tls' },
      'signer-expiring': { secretName: 'delegated-tls', responderURL: openssl.url },
      missing: { secretName: 'absent-tls' },
      mismatch: { secretName: 'mismatch-tls' },
      conflict: { secretName: 'good-tls', stapleSecretName: 'taken' },
      expired: { secretName: 'expired-tls' },
      'must-staple': { secretName: 'must-tls', requestTimeout: '2s' },
      unknown: { secretName: 'stranger-tls', responderURL: openssl.url },
      'no-ocsp': { secretName: 'no-ocsp-tls' },
      paused: { secretName: 'good-tls', stapleSecretName: 'paused-staple', paused: true },
    };
    for (const [name, spec] of Object.entries(specs)) await createStaple(client, namespace, name, { ...spec, refresh });

    const staples: Record<string, string> = {};
    for (const [name, reason] of Object.entries(STAPLE_STATES)) {
      await waitFor(
        `staple ${namespace}/${name} Ready reason ${reason}`,
        async () => condition(await getStaple(client, namespace, name), 'Ready')?.reason === reason,
        settle,
      );
      staples[name] = reason;
    }
    type Pool = KubeObject & { status?: { conditions?: Array<{ type: string; status: string; reason: string }> } };
    const poolReady = async (name: string) =>
      (await client.get<Pool>(OcspResponderPoolType, namespace, name)).status?.conditions?.find((c) => c.type === 'Ready');
    const pools: Record<string, string> = {};
    pools[POOL] = await waitFor(
      `pool ${POOL} Ready`,
      async () => ((await poolReady(POOL))?.status === 'True' ? 'Serving' : undefined),
      settle,
    );
    pools[BROKEN_POOL] = await waitFor(
      `pool ${BROKEN_POOL} IssuerNotFound`,
      async () => ((await poolReady(BROKEN_POOL))?.reason === 'IssuerNotFound' ? 'IssuerNotFound' : undefined),
      settle,
    );
    // The operator's series say what the statuses say (they are set after each status write).
    await waitFor(
      "every staple and pool in the operator's /metrics",
      async () => {
        const t = (await scrape(targets[0]!.url)) ?? '';
        return (
          Object.entries(staples).every(
            ([name, reason]) => metricValue(t, 'ocsp_operator_staple_ready', { namespace, name, reason }) !== undefined,
          ) &&
          Object.entries(pools).every(
            ([name, reason]) => metricValue(t, 'ocsp_operator_pool_ready', { namespace, name, reason }) !== undefined,
          )
        );
      },
      settle,
    );
    return { targets, namespace, staples, pools, stop };
  } catch (err) {
    const logs = `${op?.logs().slice(-2000) ?? ''}\n${output.join('').slice(-2000)}`;
    await stop();
    throw new Error(`${String(err)}\n${logs}`);
  }
}
