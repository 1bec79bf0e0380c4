// Real TLS servers consume the staple Secret: HAProxy 2.6 (`crt haproxy.pem`, which loads
// `haproxy.pem.ocsp` beside it) and nginx (`ssl_stapling_file tls.ocsp-staple`), fed from the
// Secret's keys written as a kubelet writes a Secret volume. The staple Secret comes from the
// staple controller running in this process against the real apiserver, fetching from the real
// `openssl ocsp` responder. `openssl s_client -status` shows what each server staples, before and
// after a renewal; a pair the test mismatches on purpose shows that the check can fail.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OcspStapleType, type Secret } from '../../src/kube/types.js';
import { ANNOTATION_SERIAL, ANNOTATION_STAPLE_SHA256 } from '../../src/api/annotations.js';
import { HAPROXY_OCSP_KEY, HAPROXY_PEM_KEY, STAPLE_KEY } from '../../src/staple/staple-secret.js';
import { createCa, issueLeaf, type Ca, type Issued } from '../support/pki.js';
import { startOpensslResponder, type ResponderHandle } from '../support/openssl.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { createNamespace, kubeClient, putSecret, tlsSecret, waitFor } from '../support/kube.js';
import { createStaple, getSecret, lockstepOf, startStapleController, waitForReason, type Harness } from '../support/staple-harness.js';
import {
  haproxyCommand,
  probeTls,
  probeUntil,
  stapleBelongs,
  stapleBytes,
  startHaproxy,
  startNginx,
  writeSecretVolume,
  type TlsServer,
} from '../support/tls-servers.js';

const HOST = 'shop.test'; // every generation of the certificate names the same site
type Kind = 'haproxy' | 'nginx';
const KINDS: Kind[] = ['haproxy', 'nginx'];

let ca: Ca;
let leaves: Issued[]; // [0] first, [1] the renewal
let proxy: FaultProxy;
let responder: ResponderHandle;
let ns: { name: string; remove(): Promise<void> };
let h: Harness;
let volume: string; // where "the pod" mounts the staple Secret
let haproxy: TlsServer & { socket: string };
let nginx: TlsServer;
const started: TlsServer[] = [];
const dirs: string[] = [];
let first: Secret; // the staple Secret as published for leaves[0]
let renewed: Secret; // … and for leaves[1]

function server(kind: Kind): TlsServer {
  return kind === 'haproxy' ? haproxy : nginx;
}

function data(s: Secret): Record<string, string> {
  if (!s.data) throw new Error(`Secret ${s.metadata?.name} has no data`);
  return s.data;
}

const b64 = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('base64') : undefined);

/** The staple Secret once it publishes `leaf` together with a staple. */
function waitForPublished(leaf: Issued, extra: (s: Secret) => boolean = () => true): Promise<Secret> {
  return waitFor(
    `web-tls-ocsp to publish ${leaf.serial} with its staple`,
    async () => {
      const s = await getSecret(h.client, ns.name, 'web-tls-ocsp');
      return s && s.metadata?.annotations?.[ANNOTATION_SERIAL] === leaf.serial.toLowerCase() && s.data?.[STAPLE_KEY] && extra(s)
        ? s
        : undefined;
    },
    20_000,
  );
}

async function tempDir(prefix: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

beforeAll(async () => {
  proxy = await startFaultProxy();
  ca = await createCa({ keyAlg: 'P-256', name: 'CN=Consumers Test CA' });
  leaves = [];
  for (let i = 0; i < 2; i++) leaves.push(await issueLeaf(ca, { ocspUrl: proxy.url, dnsNames: [HOST] }));
  responder = await startOpensslResponder({ ca, indexEntries: leaves.map((l) => ({ cert: l.cert, status: 'V' as const })), nmin: 60 });
  proxy.upstream = responder.url;
  ns = await createNamespace(kubeClient(), 'consumers');
  h = await startStapleController(ns.name);

  // cert-manager's CA issuer shape: tls.crt = leaf + issuer, tls.key, ca.crt
  await putSecret(h.client, tlsSecret(ns.name, 'web-tls', { certPem: leaves[0]!.chainPem, keyPem: leaves[0]!.keyPem, caPem: ca.certPem }));
  await createStaple(h.client, ns.name, 'web', { secretName: 'web-tls' });
  await waitForReason(h.client, ns.name, 'web', 'Stapled');
  first = await waitForPublished(leaves[0]!);

  volume = await tempDir('ocsp-volume-');
  await writeSecretVolume(volume, data(first));
  haproxy = await startHaproxy({ secretDir: volume });
  started.push(haproxy);
  nginx = await startNginx({ secretDir: volume, serverName: HOST });
  started.push(nginx);
});

afterAll(async () => {
  await Promise.all(started.map((s) => s.stop()));
  await h?.stop();
  await ns?.remove();
  await proxy?.close();
  await responder?.stop();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('TLS servers serve the staple Secret', () => {
  it('the staple Secret carries what each server reads', () => {
    const d = data(first);
    for (const k of ['tls.crt', 'tls.key', STAPLE_KEY, HAPROXY_PEM_KEY, HAPROXY_OCSP_KEY]) expect(d[k], k).toBeTruthy();
    expect(d[HAPROXY_OCSP_KEY]).toBe(d[STAPLE_KEY]);
    // HAProxy computes the CertID it checks the .ocsp against from the issuer in the same PEM
    const pem = Buffer.from(d[HAPROXY_PEM_KEY]!, 'base64').toString('utf8');
    expect(pem.match(/BEGIN CERTIFICATE/g)?.length).toBeGreaterThanOrEqual(2);
    expect(pem).toMatch(/BEGIN (EC |RSA )?PRIVATE KEY/);
    expect(lockstepOf(first).verdict?.ok).toBe(true);
  });

  it.each(KINDS)('%s staples the published response, for the certificate it serves', async (kind) => {
    const s = server(kind);
    const p = await probeTls(s.port, HOST);
    expect(p.certSerial).toBe(leaves[0]!.serial);
    expect(p.staple?.responseStatus).toBe('successful');
    expect(p.staple?.certStatus).toBe('good');
    expect(p.staple?.serial).toBe(leaves[0]!.serial);
    expect(stapleBelongs(p)).toEqual({ ok: true });
    // byte for byte the operator's staple
    expect(b64(await stapleBytes(s.port, HOST))).toBe(data(first)[STAPLE_KEY]);
  });

  it('after a renewal, reloaded from the updated Secret, both serve the new certificate with its new staple', async () => {
    await putSecret(
      h.client,
      tlsSecret(ns.name, 'web-tls', { certPem: leaves[1]!.chainPem, keyPem: leaves[1]!.keyPem, caPem: ca.certPem }),
    );
    renewed = await waitForPublished(leaves[1]!);
    expect(lockstepOf(renewed).verdict?.ok).toBe(true);
    expect(data(renewed)[STAPLE_KEY]).not.toBe(data(first)[STAPLE_KEY]);

    await writeSecretVolume(volume, data(renewed));
    await Promise.all(KINDS.map((k) => server(k).reload()));
    for (const kind of KINDS) {
      const s = server(kind);
      const p = await probeUntil(s.port, HOST, `${kind} to serve ${leaves[1]!.serial}`, (x) => x.certSerial === leaves[1]!.serial);
      expect(stapleBelongs(p), kind).toEqual({ ok: true });
      expect(p.staple?.serial, kind).toBe(leaves[1]!.serial);
      expect(p.staple?.serial, kind).not.toBe(leaves[0]!.serial);
      expect(p.staple?.certStatus, kind).toBe('good');
      expect(b64(await stapleBytes(s.port, HOST)), kind).toBe(data(renewed)[STAPLE_KEY]);
    }
  });

  it('a refreshed staple for the same certificate reaches HAProxy over its runtime API without a reload, and nginx on a reload', async () => {
    const current = renewed; // published by the renewal above
    const loadsBefore = (await haproxy.log()).split('Loading success.').length;
    await new Promise((r) => setTimeout(r, 1_100)); // the refreshed response gets a later thisUpdate
    // a spec change is a new generation: the controller fetches at once
    await h.client.mergePatch(OcspStapleType, { namespace: ns.name, name: 'web' }, { spec: { clockSkew: '301s' } });
    const refreshed = await waitForPublished(
      leaves[1]!,
      (s) => s.metadata?.annotations?.[ANNOTATION_STAPLE_SHA256] !== current.metadata?.annotations?.[ANNOTATION_STAPLE_SHA256],
    );
    const staple = data(refreshed)[HAPROXY_OCSP_KEY]!;
    expect(staple).not.toBe(data(current)[HAPROXY_OCSP_KEY]);

    const answer = await haproxyCommand(haproxy.socket, `set ssl ocsp-response ${staple}`);
    expect(answer).toContain('OCSP Response updated');
    expect(b64(await stapleBytes(haproxy.port, HOST))).toBe(staple);
    const p = await probeTls(haproxy.port, HOST);
    expect(stapleBelongs(p)).toEqual({ ok: true });
    expect(p.certSerial).toBe(leaves[1]!.serial);
    expect((await haproxy.log()).split('Loading success.').length).toBe(loadsBefore); // no reload happened
    // HAProxy itself refuses, at runtime too, a response that is not for any certificate it serves
    const stale = await haproxyCommand(haproxy.socket, `set ssl ocsp-response ${data(first)[HAPROXY_OCSP_KEY]!}`);
    expect(stale).toMatch(/does not match/);
    expect(b64(await stapleBytes(haproxy.port, HOST))).toBe(staple);
    // nginx reads ssl_stapling_file at (re)load only: it takes the refresh from the volume
    expect(b64(await stapleBytes(nginx.port, HOST))).toBe(data(current)[STAPLE_KEY]);
    await writeSecretVolume(volume, data(refreshed));
    await nginx.reload();
    await waitFor(
      'nginx to staple the refreshed response',
      async () => b64(await stapleBytes(nginx.port, HOST)) === data(refreshed)[STAPLE_KEY],
      10_000,
    );
    expect(stapleBelongs(await probeTls(nginx.port, HOST))).toEqual({ ok: true });
  });

  describe('a mismatched pair (the previous staple beside the new certificate, written by the test) is caught', () => {
    let mixed: Record<string, string>;
    let bad: Map<Kind, TlsServer>;

    beforeAll(async () => {
      const now = renewed; // published by the renewal above
      mixed = { ...data(now), [STAPLE_KEY]: data(first)[STAPLE_KEY]!, [HAPROXY_OCSP_KEY]: data(first)[HAPROXY_OCSP_KEY]! };
      const dir = await tempDir('ocsp-volume-mixed-');
      await writeSecretVolume(dir, mixed);
      const hx = await startHaproxy({ secretDir: dir });
      started.push(hx);
      const nx = await startNginx({ secretDir: dir, serverName: HOST });
      started.push(nx);
      bad = new Map<Kind, TlsServer>([
        ['haproxy', hx],
        ['nginx', nx],
      ]);
    });

    it('the lockstep check on the Secret rejects it', () => {
      const ls = lockstepOf({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'mixed' }, data: mixed });
      expect(ls.certSerial).toBe(leaves[1]!.serial.toLowerCase());
      expect(ls.verdict?.ok).toBe(false);
    });

    it('nginx staples whatever file it is given: the served staple names the previous serial, and the check says so', async () => {
      const p = await probeTls(bad.get('nginx')!.port, HOST);
      expect(p.certSerial).toBe(leaves[1]!.serial);
      expect(p.staple?.responseStatus).toBe('successful');
      expect(p.staple?.serial).toBe(leaves[0]!.serial);
      const v = stapleBelongs(p);
      expect(v.ok).toBe(false);
      expect(v.ok ? '' : v.why).toBe(`staple for serial ${leaves[0]!.serial} served with certificate ${leaves[1]!.serial}`);
    });

    it('HAProxy refuses the mismatched .ocsp at load and staples nothing; the check says so', async () => {
      const s = bad.get('haproxy')!;
      const p = await probeTls(s.port, HOST);
      expect(p.certSerial).toBe(leaves[1]!.serial);
      expect(p.staple).toBeUndefined();
      expect(await stapleBytes(s.port, HOST)).toBeUndefined();
      const v = stapleBelongs(p);
      expect(v.ok).toBe(false);
      expect(v.ok ? '' : v.why).toBe(`no staple served with certificate ${leaves[1]!.serial}`);
      expect(await s.log()).toContain('Certificate ID does not match certificate and issuer');
    });
  });
});
