// What every pool test starts from: the CA as a Secret (`ca`: tls.crt, tls.key), its certificate
// database as a ConfigMap (`ca-db`: index.txt), and the pool controller in this process, whose
// log says which pool it reconciled: a test that asserts "nothing happened" first waits for one
// more reconcile of that pool (reconciledAgain), so it knows the controller looked.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { KubeApi } from '../../src/kube/api.js';
import type { KubeClient } from '../../src/kube/client.js';
import { SecretType, ConfigMapType, type Secret } from '../../src/kube/types.js';
import { addPoolController } from '../../src/pool/controller.js';
import type { ConfigMap } from '../../src/report/protocol.js';
import { systemClock, type Clock } from '../../src/base/clock.js';
import { Manager } from '../../src/runtime/manager.js';
import { indexLine, type Ca, type Issued } from './pki.js';

export async function createCaObjects(client: KubeApi, namespace: string, ca: Ca, certificates: Issued[]): Promise<void> {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  await client.create<Secret>(SecretType, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'ca', namespace },
    data: { 'tls.crt': b64(ca.certPem), 'tls.key': b64(ca.keyPem) },
  });
  await client.create<ConfigMap>(ConfigMapType, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'ca-db', namespace },
    data: { 'index.txt': certificates.map((l) => indexLine({ cert: l.cert, status: 'V' })).join('\n') + '\n' },
  });
}

/** Reconciles of each pool ("ns/name") this process's controller finished, from its own log. */
const reconciles = new Map<string, number>();
const counting = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.includes('"reconciled"')) continue;
      try {
        const r = JSON.parse(line) as { msg?: string; kind?: string; object?: string };
        if (r.msg === 'reconciled' && r.kind === 'OcspResponderPool' && r.object)
          reconciles.set(r.object, (reconciles.get(r.object) ?? 0) + 1);
      } catch {
        // not one of ours
      }
    }
    done();
  },
});

export const reconcileCount = (key: string): number => reconciles.get(key) ?? 0;

/** Resolves once the controller has finished `n` more reconciles of `key` than `since` (bounded by `timeoutMs`). */
export async function reconciledAgain(key: string, since: number, n = 1, timeoutMs = 40_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (reconcileCount(key) < since + n) {
    if (Date.now() > deadline) throw new Error(`${key}: ${reconcileCount(key) - since} of ${n} reconciles within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startPoolController(client: KubeClient, namespace: string, clock: Clock = systemClock): Promise<Manager> {
  // debug: the reconciler's "reconciled" line, counted above; nothing is printed
  const manager = new Manager({
    client,
    clock,
    log: pino({ level: 'debug' }, counting),
    healthAddress: { host: '127.0.0.1', port: 0 },
    namespaces: [namespace],
  });
  addPoolController(manager, { workers: 2, images: { operator: 'ocsp-operator:test', signer: 'ocsp-operator:test-signer' } });
  await manager.start();
  return manager;
}
