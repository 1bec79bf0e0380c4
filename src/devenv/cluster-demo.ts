// `npm run demo:cluster`: the product as users run it, on a real single-node Kubernetes made on
// this machine (containerd, kubelet, kube-proxy, CoreDNS; src/devenv/node-cluster.ts). The images
// are built from the Dockerfile, the operator is installed by `helm install` of the chart, and a
// demo CA's OcspResponderPool and an OcspStaple that staples from it run as real pods. Prints
// what `kubectl get` shows and checks the staple with openssl. `--keep` leaves the cluster up.
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeClient } from '../kube/client.js';
import { loadKubeConfig } from '../kube/config.js';
import { repoRoot } from './control-plane.js';
import { applyDemoPool, applyDemoStaple, makeDemoCa, showDemo } from './demo-objects.js';
import { buildImages } from './images.js';
import { nodeCapabilityProblem, startNodeCluster } from './node-cluster.js';

const run = promisify(execFile);
const say = (msg: string) => process.stderr.write(`[demo:cluster] ${msg}\n`);

async function main(): Promise<void> {
  const keep = process.argv.includes('--keep');
  const problem = await nodeCapabilityProblem();
  if (problem) throw new Error(`this machine cannot run the local node: ${problem} (use \`npm run demo\`, which needs no node)`);
  const started = Date.now();
  say('building the images (first run: several minutes) and helm');
  const [images, helmOut] = await Promise.all([
    buildImages(['operator', 'signer', 'pause']),
    run(join(repoRoot(), 'hack', 'install-helm.sh'), [], { maxBuffer: 4 << 20, timeout: 20 * 60_000 }),
  ]);
  const helm = helmOut.stdout.trim().split('\n').pop() ?? 'helm';
  const ref = (name: string) => {
    const r = images.find((i) => i.name === name)?.ref;
    if (!r) throw new Error(`hack/build-images.sh built no ${name} image`);
    return r;
  };
  const cluster = await startNodeCluster({ log: say });
  try {
    await cluster.importImages(images.map((i) => i.tarball));
    const split = (r: string) => [r.slice(0, r.lastIndexOf(':')), r.slice(r.lastIndexOf(':') + 1)];
    const [repo, tag] = split(ref('operator'));
    const [signerRepo, signerTag] = split(ref('signer'));
    say('helm install ocsp-operator (namespace ocsp-operator-system)');
    await run(
      helm,
      [
        'install',
        'ocsp-operator',
        join(repoRoot(), 'charts', 'ocsp-operator'),
        '--kubeconfig',
        cluster.kubeconfigPath,
        '--namespace',
        'ocsp-operator-system',
        '--create-namespace',
        '--wait',
        '--timeout',
        '5m',
        '--set',
        `image.repository=${repo}`,
        '--set',
        `image.tag=${tag}`,
        '--set',
        `signerImage.repository=${signerRepo}`,
        '--set',
        `signerImage.tag=${signerTag}`,
      ],
      {
        env: {
          ...process.env,
          HELM_CACHE_HOME: join(tmpdir(), 'ocsp-operator-helm', 'cache'),
          HELM_CONFIG_HOME: join(tmpdir(), 'ocsp-operator-helm', 'config'),
          HELM_DATA_HOME: join(tmpdir(), 'ocsp-operator-helm', 'data'),
        },
      },
    );

    const client = new KubeClient(loadKubeConfig(cluster.kubeconfigPath));
    const dir = await mkdtemp(join(tmpdir(), 'ocsp-operator-demo-'));
    await makeDemoCa(dir, 'http://demo-ca.default.svc.cluster.local/');
    await applyDemoPool(client, dir, 'default');
    await applyDemoStaple(client, dir, 'default');
    say('created OcspResponderPool default/demo-ca, Secret default/demo-tls and OcspStaple default/demo; waiting for both');
    const kubectl = join(cluster.binDir, 'kubectl');
    await showDemo(client, { dir, namespace: 'default', kubectl, kubeconfig: cluster.kubeconfigPath, timeoutMs: 300_000 });
    const { stdout } = await run(kubectl, ['--kubeconfig', cluster.kubeconfigPath, 'get', 'pods', '-A', '-o', 'wide']);
    process.stdout.write(`\n$ kubectl get pods -A -o wide\n${stdout}`);
    process.stdout.write(`\ndemo on the local node done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    if (keep) {
      process.stdout.write(
        `\nstill running (Ctrl-C stops it and tears the node down). Try:\n  export KUBECONFIG=${cluster.kubeconfigPath}\n  ${kubectl} get pods -A\n`,
      );
      await new Promise<void>((r) => {
        process.once('SIGINT', () => r());
        process.once('SIGTERM', () => r());
      });
    }
  } finally {
    say('tearing the node down');
    await cluster.stop();
  }
}

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(
    'usage: npm run demo:cluster [-- --keep]\n  the product on a real single-node Kubernetes made on this machine: images from the Dockerfile,\n  the chart installed by helm, a pool and a staple as pods; --keep leaves the cluster up\n',
  );
} else {
  main().catch((err: unknown) => {
    process.stderr.write(`demo:cluster failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
