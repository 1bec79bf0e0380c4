// What every pool test starts from: the CA as a Secret (`ca`: tls.crt, tls.key), its certificate
// database as a ConfigMap (`ca-db`: index.txt), and the pool controller in this process.
import { pino } from 'pino';
import type { KubeClient } from '../../src/kube/client.js';
import { SecretType, type Secret } from '../../src/kube/types.js';
import { addPoolController } from '../../src/pool/controller.js';
import { ConfigMapType, type ConfigMap } from '../../src/pool/report.js';
import { systemClock, type Clock } from '../../src/runtime/clock.js';
import { Manager } from '../../src/runtime/manager.js';
import { indexLine, type Ca, type Issued } from './pki.js';

export async function createCaObjects(client: KubeClient, namespace: string, ca: Ca, certificates: Issued[]): Promise<void> {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  await client.create<Secret>(SecretType, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'ca', namespace }, data: { 'tls.crt': b64(ca.certPem), 'tls.key': b64(ca.keyPem) } });
  await client.create<ConfigMap>(ConfigMapType, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'ca-db', namespace },
    data: { 'index.txt': certificates.map((l) => indexLine({ cert: l.cert, status: 'V' })).join('\n') + '\n' },
  });
}

export async function startPoolController(client: KubeClient, namespace: string, clock: Clock = systemClock): Promise<Manager> {
  const manager = new Manager({ client, clock, log: pino({ level: 'silent' }), healthAddress: { host: '127.0.0.1', port: 0 }, namespaces: [namespace] });
  addPoolController(manager, { workers: 2, images: { operator: 'ocsp-operator:test', signer: 'ocsp-operator:test-signer' } });
  await manager.start();
  return manager;
}
