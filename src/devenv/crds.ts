// Installs the CRDs from crds/ (server-side apply, so re-running is harmless) and waits until the
// apiserver reports them Established: the step every test and the demo start from.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { KubeClient } from '../kube/client.js';
import { CrdType, type KubeObject } from '../kube/types.js';
import { repoRoot } from './control-plane.js';

interface Crd extends KubeObject {
  status?: { conditions?: Array<{ type: string; status: string }> };
}

export async function readCrds(): Promise<Crd[]> {
  const dir = join(repoRoot(), 'crds');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort();
  return Promise.all(files.map(async (f) => parse(await readFile(join(dir, f), 'utf8')) as Crd));
}

export async function installCrds(kc: KubeConfig, log: (msg: string) => void = () => {}, timeoutMs = 60_000): Promise<void> {
  const client = new KubeClient(kc);
  const crds = await readCrds();
  for (const crd of crds) await client.apply(CrdType, crd, 'ocsp-operator-installer');
  const deadline = Date.now() + timeoutMs;
  for (const crd of crds) {
    const name = crd.metadata?.name ?? '';
    for (;;) {
      const live = await client.get<Crd>(CrdType, undefined, name);
      if (live.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
    log(`CRD ${name} established`);
  }
}
