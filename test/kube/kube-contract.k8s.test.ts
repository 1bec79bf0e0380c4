// The KubeApi contract (test/support/kube-contract.ts) against the real apiserver: the same cases
// test/kube/fake-kube.test.ts runs against the in-memory fake, so the fake cannot drift.
import { afterAll, beforeAll } from 'vitest';
import type { KubeClient } from '../../src/kube/client.js';
import { createNamespace, kubeClient } from '../support/kube.js';
import { kubeContract } from '../support/kube-contract.js';

let client: KubeClient;
let ns: { name: string; remove(): Promise<void> };

beforeAll(async () => {
  client = kubeClient();
  ns = await createNamespace(client, 'contract');
});

afterAll(async () => {
  await ns?.remove();
});

kubeContract('real apiserver', () => ({ api: client, namespace: ns.name }));
