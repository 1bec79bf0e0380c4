// `npm run demo`: the whole product on this machine, no cluster needed. It starts a local control
// plane, installs the CRDs, runs the operator, makes a demo CA and an OcspResponderPool for it
// (whose pod — signer and responder — runs on a local node stand-in), then a certificate Secret
// and an OcspStaple that fetches its staple from that pool; it prints what `kubectl get` shows
// for both and checks the staple with openssl. `--keep` leaves it all running.
import { DeploymentType } from '../kube/types.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeClient } from '../kube/client.js';
import { loadKubeConfig } from '../kube/config.js';
import type { KubeObject } from '../kube/types.js';
import { runPod, type PodTemplate } from './local-node.js';
import { freePort, repoRoot, startControlPlane } from './control-plane.js';
import { installCrds } from './crds.js';
import { applyDemoPool, applyDemoStaple, makeDemoCa, poll, showDemo } from './demo-objects.js';

const say = (msg: string) => process.stderr.write(`[demo] ${msg}\n`);

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
    await makeDemoCa(dir, `http://127.0.0.1:${ocspPort}/`);
    say(`demo CA in ${dir}; its OCSP responder pool will answer on 127.0.0.1:${ocspPort}`);

    const healthPort = await freePort();
    const operator = spawn(
      process.execPath,
      [
        join(repoRoot(), 'dist', 'src', 'cli.js'),
        'controller',
        '--kubeconfig',
        plane.kubeconfigPath,
        '--health-addr',
        `127.0.0.1:${healthPort}`,
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
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

    // The CA side: an OcspResponderPool answers for the demo CA's certificates.
    await applyDemoPool(client, dir, 'default');
    say('created OcspResponderPool default/demo-ca; waiting for its pod');
    const deployment = await poll('the pool Deployment', () =>
      client.getOrUndefined<KubeObject & { spec: { template: PodTemplate } }>(DeploymentType, 'default', 'demo-ca'),
    );
    const pod = await runPod({
      client,
      adminKubeconfig: plane.kubeconfigPath,
      namespace: 'default',
      name: 'demo-ca-5c7d9-x2k4p',
      template: deployment.spec.template,
      ports: { ocsp: ocspPort },
    });
    stoppers.push(() => pod.stop());
    say('the pool pod (signer + responder) runs on the local node');

    await applyDemoStaple(client, dir, 'default');
    say('created Secret default/demo-tls and OcspStaple default/demo; waiting for the staple');

    const kubectl = join(plane.binDir, 'kubectl');
    await showDemo(client, { dir, namespace: 'default', kubectl, kubeconfig: plane.kubeconfigPath });
    process.stdout.write(`\ndemo done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    if (keep) {
      process.stdout.write(
        `\nstill running (Ctrl-C stops it). Try:\n  export KUBECONFIG=${plane.kubeconfigPath}\n  ${kubectl} get staple -w\n`,
      );
      await new Promise<void>((r) => process.once('SIGINT', () => r()));
    }
  } finally {
    await stopAll();
  }
}

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(
    'usage: npm run demo [-- --keep]\n  the whole product on this machine, no cluster: a local control plane, the operator, a demo CA\n  with its responder pool, a sample staple, and what `kubectl get` shows; --keep leaves it running\n',
  );
} else {
  main().catch((err: unknown) => {
    process.stderr.write(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
