// `npm run demo`: the whole product on this machine, no cluster needed. It starts a local control
// plane, installs the CRDs, runs the operator, makes a demo CA and an OcspResponderPool for it
// (whose pod — signer and responder — runs on a local node stand-in), then a certificate Secret
// and an OcspStaple that fetches its staple from that pool; it prints what `kubectl get` shows
// for both and checks the staple with openssl. `--keep` leaves it all running.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeClient } from '../kube/client.js';
import { loadKubeConfig } from '../kube/config.js';
import { OcspResponderPoolType, OcspStapleType, SecretType, type KubeObject, type Secret } from '../kube/types.js';
import { ConfigMapType, type ConfigMap } from '../pool/report.js';
import { DeploymentType } from '../pool/workloads.js';
import { runPod, type PodTemplate } from './local-node.js';
import { freePort, repoRoot, startControlPlane } from './control-plane.js';
import { installCrds } from './crds.js';

const run = promisify(execFile);
const say = (msg: string) => process.stderr.write(`[demo] ${msg}\n`);

async function makeDemoCa(dir: string, ocspPort: number): Promise<void> {
  const o = (args: string[]) => run('openssl', args, { cwd: dir });
  await o(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '365', '-subj', '/CN=ocsp-operator demo CA']);
  await writeFile(join(dir, 'leaf.ext'), `subjectAltName=DNS:demo.example.test\nextendedKeyUsage=serverAuth\nauthorityInfoAccess=OCSP;URI:http://127.0.0.1:${ocspPort}/\n`);
  await o(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'tls.key', '-out', 'leaf.csr', '-subj', '/CN=demo.example.test']);
  await o(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', '0x0DE40001', '-out', 'leaf.crt', '-days', '90', '-extfile', 'leaf.ext']);
  const { stdout: enddate } = await o(['x509', '-in', 'leaf.crt', '-noout', '-enddate']);
  const notAfter = new Date(enddate.replace('notAfter=', '').trim());
  const utc = notAfter.toISOString().replace(/^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d).*$/, '$1$2$3$4$5$6Z');
  await writeFile(join(dir, 'index.txt'), `V\t${utc}\t\t0DE40001\tunknown\t/CN=demo.example.test\n`);
}

async function poll<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`the demo timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function main(): Promise<void> {
  const keep = process.argv.includes('--keep');
  const started = Date.now();
  const children: ChildProcess[] = [];
  const plane = await startControlPlane({ log: say });
  const stoppers: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const s of stoppers) await s().catch(() => undefined);
    for (const c of children) c.kill('SIGTERM');
    await plane.stop();
  };
  try {
    const kc = loadKubeConfig(plane.kubeconfigPath);
    await installCrds(kc, say);
    const client = new KubeClient(kc);

    const dir = await mkdtemp(join(tmpdir(), 'ocsp-operator-demo-'));
    const ocspPort = await freePort();
    await makeDemoCa(dir, ocspPort);
    say(`demo CA in ${dir}; its OCSP responder pool will answer on 127.0.0.1:${ocspPort}`);

    const healthPort = await freePort();
    const operator = spawn(process.execPath, [join(repoRoot(), 'dist', 'src', 'cli.js'), 'controller', '--kubeconfig', plane.kubeconfigPath, '--health-addr', `127.0.0.1:${healthPort}`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(operator);
    operator.stdout?.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) {
        if (!line) continue;
        try {
          const l = JSON.parse(line) as { msg?: string; object?: string };
          say(`operator: ${l.msg}${l.object ? ` (${l.object})` : ''}`);
        } catch {
          say(`operator: ${line}`);
        }
      }
    });

    const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
    const [leaf, ca, key, caKey, index] = await Promise.all(['leaf.crt', 'ca.crt', 'tls.key', 'ca.key', 'index.txt'].map((f) => readFile(join(dir, f), 'utf8')));

    // The CA side: an OcspResponderPool answers for the demo CA's certificates.
    await client.apply(SecretType, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'demo-ca', namespace: 'default' }, data: { 'tls.crt': b64(ca ?? ''), 'tls.key': b64(caKey ?? '') } } as Secret, 'demo');
    await client.apply(ConfigMapType, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'demo-ca-db', namespace: 'default' }, data: { 'index.txt': index ?? '' } } as ConfigMap, 'demo');
    await client.apply(OcspResponderPoolType, {
      apiVersion: 'ocsp-operator.dev/v1alpha1',
      kind: 'OcspResponderPool',
      metadata: { name: 'demo-ca', namespace: 'default' },
      spec: { issuer: { secretName: 'demo-ca' }, signing: { softwareKey: { secretName: 'demo-ca' } }, delegatedResponder: { mode: 'Issue' }, sources: [{ opensslIndex: { configMapName: 'demo-ca-db' } }] },
    } as KubeObject, 'demo');
    say('created OcspResponderPool default/demo-ca; waiting for its pod');
    const deployment = await poll('the pool Deployment', () => client.getOrUndefined<KubeObject & { spec: { template: PodTemplate } }>(DeploymentType, 'default', 'demo-ca'));
    const pod = await runPod({ client, adminKubeconfig: plane.kubeconfigPath, namespace: 'default', name: 'demo-ca-5c7d9-x2k4p', template: deployment.spec.template, ports: { ocsp: ocspPort } });
    stoppers.push(() => pod.stop());
    say('the pool pod (signer + responder) runs on the local node');

    await client.apply(SecretType, {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: { name: 'demo-tls', namespace: 'default', annotations: { 'cert-manager.io/certificate-name': 'demo' } },
      data: { 'tls.crt': b64(`${leaf}${ca}`), 'tls.key': b64(key ?? ''), 'ca.crt': b64(ca ?? '') },
    } as Secret, 'demo');
    await client.apply(OcspStapleType, {
      apiVersion: 'ocsp-operator.dev/v1alpha1',
      kind: 'OcspStaple',
      metadata: { name: 'demo', namespace: 'default' },
      spec: { secretName: 'demo-tls' },
    } as KubeObject, 'demo');
    say('created Secret default/demo-tls and OcspStaple default/demo; waiting for the staple');

    type WithConditions = KubeObject & { status?: { conditions?: Array<{ type: string; status: string }> } };
    const isReady = (o: WithConditions | undefined) => o?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    await poll('the staple Ready', async () => isReady(await client.get<WithConditions>(OcspStapleType, 'default', 'demo')) || undefined);
    await poll('the pool Ready', async () => isReady(await client.get<WithConditions>(OcspResponderPoolType, 'default', 'demo-ca')) || undefined);
    const kubectl = join(plane.binDir, 'kubectl');
    const show = async (args: string[]) => {
      const { stdout } = await run(kubectl, ['--kubeconfig', plane.kubeconfigPath, ...args]);
      process.stdout.write(`\n$ kubectl ${args.join(' ')}\n${stdout}`);
    };
    await show(['get', 'ocspresponderpools']);
    await show(['get', 'ocspstaples']);
    await show(['get', 'ocspstaples', '-o', 'wide']);
    await show(['get', 'secret', 'demo-tls-ocsp', '-o', 'jsonpath={.metadata.annotations}{"\\n"}']);
    const staple = await client.get<Secret>(SecretType, 'default', 'demo-tls-ocsp');
    await writeFile(join(dir, 'staple.der'), Buffer.from(staple.data?.['tls.ocsp-staple'] ?? '', 'base64'));
    const { stdout, stderr } = await run('openssl', ['ocsp', '-respin', 'staple.der', '-CAfile', 'ca.crt', '-issuer', 'ca.crt', '-cert', 'leaf.crt', '-no_nonce', '-resp_text'], { cwd: dir });
    const verdict = `${stderr}${stdout}`.split('\n').filter((l) => /Response verify|leaf.crt|This Update|Next Update|Cert Status|Responder Id/.test(l));
    process.stdout.write(`\n$ openssl ocsp -respin <tls.ocsp-staple> -CAfile ca.crt -cert leaf.crt\n${verdict.join('\n')}\n`);
    process.stdout.write(`\ndemo done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    if (keep) {
      process.stdout.write(`\nstill running (Ctrl-C stops it). Try:\n  export KUBECONFIG=${plane.kubeconfigPath}\n  ${kubectl} get staple -w\n`);
      await new Promise<void>((r) => process.once('SIGINT', () => r()));
    }
  } finally {
    await stopAll();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
