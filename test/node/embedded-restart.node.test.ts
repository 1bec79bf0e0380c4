// The embedded store's state survives its pod. The pool's one pod (signer + responder) keeps its
// log on a PersistentVolumeClaim made from the StatefulSet's claim template, bound here to a
// `local` PersistentVolume on a directory of this machine, so the test reads the very log the
// signer writes. An RSA-4096 CA key makes a backlog that lasts long enough to delete the pod in
// the middle of it (as a node drain or an eviction would): the replacement pod must find every
// response already signed, sign only what is missing, and never overlap the old writer. Then a
// rolling update (a changed pod template) replaces the pod again, at rest: nothing is re-signed.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OcspResponderPoolType, type KubeObject } from '../../src/kube/types.js';
import { canonicalSerial } from '../../src/store/index.js';
import { hasMagic, MAGIC, scanFrames, type ScanResult } from '../../src/store/log-format.js';
import { kubeClient, waitFor } from '../support/kube.js';
import {
  apply,
  clientPod,
  type ClientPod,
  installOperator,
  kubectlOk,
  localVolume,
  nodeUnavailable,
  pods,
  restrictedNamespace,
  slowCa,
  stopwatch,
  waitForReadyPods,
} from '../support/node.js';

const unavailable = nodeUnavailable();
const client = kubeClient();
const POOL = 'big-log';
const CERTIFICATES = 6_000;

interface PoolObj extends KubeObject {
  status?: {
    conditions?: Array<{ type: string; status: string; reason: string }>;
    certificates?: number;
    backlog?: number;
    missing?: number;
  };
}

describe.skipIf(unavailable)('an embedded pool whose pod is replaced mid-backlog', { timeout: 900_000 }, () => {
  let operator: { namespace: string; uninstall(): Promise<void> };
  let ns: { name: string; remove(): Promise<void> };
  let volume: Awaited<ReturnType<typeof localVolume>> | undefined;
  let dir: string;
  let serials: string[];
  let asker: ClientPod;
  const selector = `ocsp-operator.dev/pool=${POOL}`;

  /** The log as the signer has written it so far (the valid frames; a torn tail is reported). */
  async function scanLog(): Promise<ScanResult | undefined> {
    const buf = await readFile(join(volume!.dir, 'responses.log')).catch(() => undefined);
    return buf && hasMagic(buf) ? scanFrames(buf, MAGIC.length) : undefined;
  }
  const getPool = () => client.get<PoolObj>(OcspResponderPoolType, ns.name, POOL);

  beforeAll(async () => {
    operator = await installOperator('restart-op');
    ns = await restrictedNamespace('restart');
    dir = await mkdtemp(join(tmpdir(), 'embedded-restart-'));
    const ca = await slowCa(dir, CERTIFICATES - 1, '/CN=Node Embedded Restart CA');
    serials = ca.serials;
    // Bound by class: the claim the StatefulSet makes from its template finds it.
    volume = await localVolume({ name: `${ns.name}-store`, size: '1Gi', storageClassName: `${ns.name}-local` });
    await apply([
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'ca', namespace: ns.name },
        stringData: { 'tls.crt': ca.caCrt, 'tls.key': ca.caKey },
      },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ca-db', namespace: ns.name }, data: { 'index.txt': ca.index } },
    ]);
    asker = await clientPod(ns.name, 'asker', { 'ca.pem': ca.caCrt, 'leaf.pem': ca.leafCrt });
  }, 600_000);

  afterAll(async () => {
    await ns?.remove();
    await volume?.remove();
    await operator?.uninstall();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the replacement pod finds every signed response on the claim and signs each missing one once', async () => {
    const { mark, lines: timeline } = stopwatch();
    await apply([
      {
        apiVersion: 'ocsp-operator.dev/v1alpha1',
        kind: 'OcspResponderPool',
        metadata: { name: POOL, namespace: ns.name },
        spec: {
          issuer: { secretName: 'ca' },
          signing: { softwareKey: { secretName: 'ca' } },
          delegatedResponder: { mode: 'None' },
          sources: [{ opensslIndex: { configMapName: 'ca-db' } }],
          store: { embedded: { storageClassName: `${ns.name}-local`, storageSize: '1Gi' } },
        },
      },
    ]);
    const [first] = await waitForReadyPods(ns.name, selector, 1, 240_000);
    mark(`pod ${first!.name} Ready`);
    const claim = JSON.parse(await kubectlOk(['-n', ns.name, 'get', 'pvc', `data-${POOL}-0`, '-o', 'json'])) as {
      spec: { volumeName?: string };
      status: { phase?: string };
    };
    expect(claim, `PersistentVolumeClaim ${ns.name}/data-${POOL}-0 from the claim template`).toMatchObject({
      spec: { volumeName: volume!.name },
      status: { phase: 'Bound' },
    });

    // Mid-backlog: a quarter signed, the rest waiting.
    const before = await waitFor(
      'a quarter of the certificates signed into the log',
      async () => {
        const s = await scanLog();
        return s && s.entries.length >= CERTIFICATES / 4 ? s : undefined;
      },
      300_000,
      250,
    );
    mark(`${before.entries.length} of ${CERTIFICATES} responses in the log; deleting pod ${first!.name}`);
    expect(before.entries.length, 'the pod was deleted in the middle of the backlog, not after it').toBeLessThan(CERTIFICATES);
    await kubectlOk(['-n', ns.name, 'delete', 'pod', first!.name, '--wait=false']);
    // The old pod stops at SIGTERM after the batch in flight: what the log holds once it is gone
    // is all it signed.
    const atStop = await waitFor(
      `pod ${first!.name} (uid ${first!.uid.slice(0, 8)}) gone`,
      async () => {
        const now = await pods(ns.name, selector);
        return now.every((p) => p.uid !== first!.uid) ? (await scanLog())! : undefined;
      },
      120_000,
      250,
    );
    mark(`old pod gone after signing ${atStop.entries.length} responses in all`);
    expect(atStop.entries.length, 'the old pod stopped in the middle of the backlog, not after it').toBeLessThan(CERTIFICATES);
    const [second] = await waitFor(
      'a replacement pod Ready',
      async () => {
        const now = await pods(ns.name, selector);
        return now.length === 1 && now[0]!.uid !== first!.uid && now[0]!.ready ? now : undefined;
      },
      240_000,
      500,
    );
    mark(`replacement pod ${second!.name} (uid ${second!.uid.slice(0, 8)}) Ready`);

    await waitFor(
      `${ns.name}/${POOL} backlog drained`,
      async () => {
        const p = await getPool();
        return p.status?.certificates === CERTIFICATES && p.status.backlog === 0 && p.status.missing === 0;
      },
      600_000,
      2_000,
    );
    mark('backlog 0');
    const after = (await scanLog())!;
    // What the first pod acknowledged is still there, unchanged, in the same place.
    expect(
      after.entries.slice(0, before.entries.length).map((e) => `${e.serial}@${e.thisUpdate}`),
      'the responses signed before the restart, as they were',
    ).toEqual(before.entries.map((e) => `${e.serial}@${e.thisUpdate}`));
    const unique = new Set(after.entries.map((e) => e.serial.toUpperCase()));
    expect(unique.size, 'a response for every certificate of the index').toBe(CERTIFICATES);
    expect([...unique].sort(), 'exactly the serials of the index').toEqual(serials.map((s) => canonicalSerial(s).toUpperCase()).sort());
    const signedTwice = after.entries.length - unique.size;
    expect(after.tornTail, 'no frame of one writer overwritten by another').toBe(false);
    // The old pod stopped (SIGTERM: its last batch either reached the log or not at all) before
    // the new one opened the log; what was in flight was never acknowledged, so was signed once.
    expect(signedTwice, 'responses signed twice across the restart').toBe(0);

    // A rolling update (the pod template changes) at rest: the new pod signs nothing.
    const entriesAtRest = after.entries.length;
    await client.mergePatch(
      OcspResponderPoolType,
      { namespace: ns.name, name: POOL },
      { spec: { responder: { pod: { annotations: { 'example.com/rolled': '1' } } } } },
    );
    const [third] = await waitFor(
      'the rolled pod Ready',
      async () => {
        const now = await pods(ns.name, selector);
        return now.length === 1 && now[0]!.uid !== second!.uid && now[0]!.ready ? now : undefined;
      },
      240_000,
      500,
    );
    mark(`rolled pod ${third!.name} Ready`);
    const answer = await asker.exec(
      [
        'openssl',
        'ocsp',
        '-issuer',
        '/work/ca.pem',
        '-cert',
        '/work/leaf.pem',
        '-url',
        `http://${POOL}.${ns.name}.svc.cluster.local/`,
        '-CAfile',
        '/work/ca.pem',
        '-no_nonce',
        '-timeout',
        '5',
      ],
      30_000,
    );
    expect(answer.stdout + answer.stderr, 'the rolled pod serves from the log it found').toMatch(/leaf\.pem: good/);
    // The new signer has looked: its own metrics count finished rounds over all certificates,
    // with nothing due; and the log is exactly as it was.
    await waitFor(
      `pod ${third!.name}: the rolled signer finished rounds over ${CERTIFICATES} certificates with nothing due`,
      async () => {
        const m = await asker.exec(['curl', '-sf', `http://${third!.ip}:9090/metrics`], 15_000);
        const rounds = Number(/^ocsp_signer_round_duration_seconds_count (\d+)/m.exec(m.stdout)?.[1] ?? 0);
        const certs = Number(/^ocsp_signer_certificates (\d+)/m.exec(m.stdout)?.[1] ?? 0);
        const due = Number(/^ocsp_signer_backlog\{kind="due"\} (\d+)/m.exec(m.stdout)?.[1] ?? -1);
        return rounds >= 2 && certs === CERTIFICATES && due === 0;
      },
      120_000,
      2_000,
    );
    const rolled = (await scanLog())!;
    expect(rolled.entries.length, 'entries in the log after the rolling update').toBe(entriesAtRest);
    process.stderr.write(
      `[node embedded restart] ${CERTIFICATES} certificates, signed twice: ${signedTwice}\n  ${timeline.join('\n  ')}\n`,
    );
  });
});
