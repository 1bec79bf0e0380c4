// The staple cases the prober and kubectl-ocsp must tell apart, built once: a CA, the current
// certificate and the previous one (both for shop.test), responses signed by our own signer (so a
// response can be made whose nextUpdate has passed), and the staple Secret data for each case.
// Plus nginx without ssl_stapling_file (nginx refuses to start when that file is missing, so a
// "missing staple" nginx is one that staples on its own and cannot reach the responder).
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certIdFor, signOcspResponse, softwareSigner } from '../../src/ocsp/index.js';
import { freePort } from '../support/openssl.js';
import { createCa, issueLeaf, type Ca, type Issued } from '../support/pki.js';
import { NGINX } from '../support/tls-servers.js';
import { stopProcessGroup } from '../../src/devenv/process-group.js';

export const HOST = 'shop.test';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export type CaseName = 'good' | 'missing' | 'expired' | 'mismatched';
export const CASES: CaseName[] = ['good', 'missing', 'expired', 'mismatched'];

export interface Pki {
  ca: Ca;
  /** the certificate every server serves */
  current: Issued;
  /** the certificate it replaced */
  previous: Issued;
  /** the current certificate's response: thisUpdate an hour ago, nextUpdate in two days */
  good: Uint8Array;
  goodNextUpdate: Date;
  /** the current certificate's response whose nextUpdate passed a day ago */
  expired: Uint8Array;
  expiredNextUpdate: Date;
  /** a valid response, but for the previous certificate */
  previousGood: Uint8Array;
}

const b64 = (s: string | Uint8Array) => Buffer.from(s).toString('base64');

export async function makePki(): Promise<Pki> {
  const ca = await createCa({ keyAlg: 'P-256', name: 'CN=Probe Test CA,O=ocsp-operator tests' });
  const current = await issueLeaf(ca, { dnsNames: [HOST] });
  const previous = await issueLeaf(ca, { dnsNames: [HOST] });
  const signer = softwareSigner(ca.keyObject);
  const now = Date.now();
  const sign = (leaf: Issued, thisUpdate: number, nextUpdate: number) =>
    signOcspResponse({
      issuer: ca.cert,
      signer,
      // SHA-1 CertIDs: what HAProxy 2.6 matches a .ocsp against
      entries: [
        {
          certId: certIdFor(leaf.cert, ca.cert, 'SHA-1'),
          status: { kind: 'good' },
          thisUpdate: new Date(thisUpdate),
          nextUpdate: new Date(nextUpdate),
        },
      ],
      producedAt: new Date(thisUpdate),
    });
  const goodNextUpdate = new Date(Math.floor((now + 2 * DAY) / 1000) * 1000);
  const expiredNextUpdate = new Date(Math.floor((now - DAY) / 1000) * 1000);
  return {
    ca,
    current,
    previous,
    good: await sign(current, now - HOUR, goodNextUpdate.getTime()),
    goodNextUpdate,
    expired: await sign(current, now - 3 * DAY, expiredNextUpdate.getTime()),
    expiredNextUpdate,
    previousGood: await sign(previous, now - HOUR, goodNextUpdate.getTime()),
  };
}

/** A good response for the current certificate with this nextUpdate (thisUpdate an hour ago). */
export function signFor(pki: Pki, nextUpdate: number): Promise<Uint8Array> {
  const thisUpdate = new Date(Date.now() - HOUR);
  return signOcspResponse({
    issuer: pki.ca.cert,
    signer: softwareSigner(pki.ca.keyObject),
    entries: [
      { certId: certIdFor(pki.current.cert, pki.ca.cert, 'SHA-1'), status: { kind: 'good' }, thisUpdate, nextUpdate: new Date(nextUpdate) },
    ],
    producedAt: thisUpdate,
  });
}

/** The staple for a case (undefined: none). */
export function stapleFor(pki: Pki, c: CaseName): Uint8Array | undefined {
  return c === 'good' ? pki.good : c === 'expired' ? pki.expired : c === 'mismatched' ? pki.previousGood : undefined;
}

/** Secret data (base64 values) in the staple Secret's layout, with the current certificate and the case's staple. */
export function secretData(pki: Pki, c: CaseName): Record<string, string> {
  const { current, ca } = pki;
  const staple = stapleFor(pki, c);
  return {
    'tls.crt': b64(current.chainPem),
    'tls.key': b64(current.keyPem),
    'ca.crt': b64(ca.certPem),
    'haproxy.pem': b64(`${current.chainPem.trimEnd()}\n${current.keyPem.trimEnd()}\n`),
    'haproxy.pem.issuer': b64(ca.certPem),
    ...(staple ? { 'tls.ocsp-staple': b64(staple), 'haproxy.pem.ocsp': b64(staple) } : {}),
  };
}

export interface PlainNginx {
  port: number;
  stop(): Promise<void>;
}

/**
 * nginx with `ssl_stapling on` and no `ssl_stapling_file`: it would fetch the staple itself from the
 * certificate's AIA URL (http://127.0.0.1:9/, where nothing listens), so it staples nothing.
 */
export async function startNginxWithoutStapleFile(o: { certPath: string; keyPath: string }): Promise<PlainNginx> {
  const dir = await mkdtemp(join(tmpdir(), 'ocsp-nginx-plain-'));
  const port = await freePort();
  const p = (n: string) => join(dir, n);
  await writeFile(
    p('nginx.conf'),
    [
      'daemon off;',
      'worker_processes 1;',
      `pid ${p('nginx.pid')};`,
      `error_log ${p('error.log')} info;`,
      'events { worker_connections 64; }',
      'http {',
      '  access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${p(t)};`),
      '  server {',
      `    listen 127.0.0.1:${port} ssl;`,
      `    server_name ${HOST};`,
      `    ssl_certificate ${o.certPath};`,
      `    ssl_certificate_key ${o.keyPath};`,
      '    ssl_stapling on;',
      '    location / { return 200 "ok\\n"; }',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  const fd = openSync(p('nginx.out'), 'a');
  const child = spawn(NGINX, ['-p', dir, '-e', p('error.log'), '-c', p('nginx.conf')], {
    cwd: dir,
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  closeSync(fd);
  const stop = async () => {
    await stopProcessGroup(child, 5_000);
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      const log = await readFile(p('error.log'), 'utf8').catch(() => '');
      await stop();
      throw new Error(`nginx exited (${child.exitCode}) before listening:\n${log}`);
    }
    const up = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port });
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (up) return { port, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`nginx did not listen on 127.0.0.1:${port} within 10 s`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
