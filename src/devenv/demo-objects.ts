// What both demos make and show: a demo CA (openssl), its OcspResponderPool, a certificate Secret
// and an OcspStaple that staples from that pool; then what `kubectl get` shows and openssl's
// verdict on the published staple. The demos differ only in where the pool's pod runs.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { KubeClient } from '../kube/client.js';
import { OcspResponderPoolType, OcspStapleType, SecretType, ConfigMapType, type KubeObject, type Secret } from '../kube/types.js';

const run = promisify(execFile);

/** A CA and one leaf whose AIA names `ocspUrl`, plus the CA's index.txt, written into `dir`. */
export async function makeDemoCa(dir: string, ocspUrl: string): Promise<void> {
  const o = (args: string[]) => run('openssl', args, { cwd: dir });
  await o([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '365',
    '-subj',
    '/CN=ocsp-operator demo CA',
  ]);
  await writeFile(
    join(dir, 'leaf.ext'),
    `subjectAltName=DNS:demo.example.test\nextendedKeyUsage=serverAuth\nauthorityInfoAccess=OCSP;URI:${ocspUrl}\n`,
  );
  await o([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'tls.key',
    '-out',
    'leaf.csr',
    '-subj',
    '/CN=demo.example.test',
  ]);
  await o([
    'x509',
    '-req',
    '-in',
    'leaf.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-set_serial',
    '0x0DE40001',
    '-out',
    'leaf.crt',
    '-days',
    '90',
    '-extfile',
    'leaf.ext',
  ]);
  const { stdout: enddate } = await o(['x509', '-in', 'leaf.crt', '-noout', '-enddate']);
  const notAfter = new Date(enddate.replace('notAfter=', '').trim());
  const utc = notAfter.toISOString().replace(/^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d).*$/, '$1$2$3$4$5$6Z');
  await writeFile(join(dir, 'index.txt'), `V\t${utc}\t\t0DE40001\tunknown\t/CN=demo.example.test\n`);
}

export async function poll<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`the demo timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const demoFiles = async (dir: string) => {
  const [leaf, ca, key, caKey, index] = await Promise.all(
    ['leaf.crt', 'ca.crt', 'tls.key', 'ca.key', 'index.txt'].map((f) => readFile(join(dir, f), 'utf8')),
  );
  return { leaf: leaf!, ca: ca!, key: key!, caKey: caKey!, index: index! };
};

/** The CA side: the CA Secret, its database and an OcspResponderPool answering for it. */
export async function applyDemoPool(client: KubeClient, dir: string, namespace: string): Promise<void> {
  const f = await demoFiles(dir);
  await client.apply(
    SecretType,
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'demo-ca', namespace }, data: { 'tls.crt': b64(f.ca), 'tls.key': b64(f.caKey) } },
    'demo',
  );
  await client.apply(
    ConfigMapType,
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'demo-ca-db', namespace }, data: { 'index.txt': f.index } },
    'demo',
  );
  await client.apply(
    OcspResponderPoolType,
    {
      apiVersion: 'ocsp-operator.dev/v1alpha1',
      kind: 'OcspResponderPool',
      metadata: { name: 'demo-ca', namespace },
      spec: {
        issuer: { secretName: 'demo-ca' },
        signing: { softwareKey: { secretName: 'demo-ca' } },
        delegatedResponder: { mode: 'Issue' },
        sources: [{ opensslIndex: { configMapName: 'demo-ca-db' } }],
        // A demo: its responses may go with the pod. A real CA keeps the default, a claim.
        store: { embedded: { ephemeral: true } },
      },
    } as KubeObject,
    'demo',
  );
}

/** The TLS side: a certificate Secret as cert-manager writes it, and an OcspStaple for it. */
export async function applyDemoStaple(client: KubeClient, dir: string, namespace: string): Promise<void> {
  const f = await demoFiles(dir);
  await client.apply(
    SecretType,
    {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: { name: 'demo-tls', namespace, annotations: { 'cert-manager.io/certificate-name': 'demo' } },
      data: { 'tls.crt': b64(`${f.leaf}${f.ca}`), 'tls.key': b64(f.key), 'ca.crt': b64(f.ca) },
    },
    'demo',
  );
  await client.apply(
    OcspStapleType,
    {
      apiVersion: 'ocsp-operator.dev/v1alpha1',
      kind: 'OcspStaple',
      metadata: { name: 'demo', namespace },
      spec: { secretName: 'demo-tls' },
    } as KubeObject,
    'demo',
  );
}

type WithConditions = KubeObject & { status?: { conditions?: Array<{ type: string; status: string }> } };
const isReady = (o: WithConditions | undefined) => o?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

/** Waits for both objects Ready, prints what kubectl shows and openssl's verdict on the staple. */
export async function showDemo(
  client: KubeClient,
  o: { dir: string; namespace: string; kubectl: string; kubeconfig: string; timeoutMs?: number },
): Promise<void> {
  const { dir, namespace } = o;
  await poll(
    'the staple Ready',
    async () => isReady(await client.get<WithConditions>(OcspStapleType, namespace, 'demo')) || undefined,
    o.timeoutMs,
  );
  await poll(
    'the pool Ready',
    async () => isReady(await client.get<WithConditions>(OcspResponderPoolType, namespace, 'demo-ca')) || undefined,
    o.timeoutMs,
  );
  const show = async (args: string[]) => {
    const { stdout } = await run(o.kubectl, ['--kubeconfig', o.kubeconfig, '-n', namespace, ...args]);
    process.stdout.write(`\n$ kubectl ${args.join(' ')}\n${stdout}`);
  };
  await show(['get', 'ocspresponderpools']);
  await show(['get', 'ocspstaples']);
  await show(['get', 'ocspstaples', '-o', 'wide']);
  await show(['get', 'secret', 'demo-tls-ocsp', '-o', 'jsonpath={.metadata.annotations}{"\\n"}']);
  const staple = await client.get<Secret>(SecretType, namespace, 'demo-tls-ocsp');
  await writeFile(join(dir, 'staple.der'), Buffer.from(staple.data?.['tls.ocsp-staple'] ?? '', 'base64'));
  const { stdout, stderr } = await run(
    'openssl',
    ['ocsp', '-respin', 'staple.der', '-CAfile', 'ca.crt', '-issuer', 'ca.crt', '-cert', 'leaf.crt', '-no_nonce', '-resp_text'],
    { cwd: dir },
  );
  const verdict = `${stderr}${stdout}`
    .split('\n')
    .filter((l) => /Response verify|leaf.crt|This Update|Next Update|Cert Status|Responder Id/.test(l));
  process.stdout.write(`\n$ openssl ocsp -respin <tls.ocsp-staple> -CAfile ca.crt -cert leaf.crt\n${verdict.join('\n')}\n`);
}
