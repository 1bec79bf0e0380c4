// The staple check and endpoint parsing without servers: the cases the server tests do not reach.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certIdFor, errorResponse, signOcspResponse, softwareSigner } from '../../src/ocsp/index.js';
import { checkStaple } from '../../src/probe/check.js';
import { endpointName, parseEndpoint, readEndpointsFile } from '../../src/probe/endpoint.js';
import { createCa, issueLeaf } from '../support/pki.js';
import { makePki, type Pki } from './fixtures.js';

let pki: Pki;
beforeAll(async () => {
  pki = await makePki();
});

describe('checkStaple', () => {
  const now = () => new Date();

  it('good: no problems, valid and matching, expiring at usableUntil', () => {
    const c = checkStaple({ chain: [pki.current.cert, pki.ca.cert], staple: pki.good, now: now() });
    expect(c.problems).toEqual([]);
    expect(c.staple).toMatchObject({ present: true, matchesCertificate: true, valid: true });
    expect(c.staple.expiresAt).toEqual(pki.goodNextUpdate);
  });

  it('the issuer can come from elsewhere (ca.crt, haproxy.pem.issuer); without it the staple cannot be verified', () => {
    const withIssuer = checkStaple({ chain: [pki.current.cert], issuerCandidates: [pki.ca.cert], staple: pki.good, now: now() });
    expect(withIssuer.problems).toEqual([]);
    const without = checkStaple({ chain: [pki.current.cert], staple: pki.good, now: now() });
    expect(without.staple.matchesCertificate).toBe(true); // by serial alone
    expect(without.staple.entries?.[0]?.issuerMatches).toBeUndefined();
    expect(without.problems[0]?.reason).toBe('IssuerUnknown');
  });

  it('a response from another CA for the same serial does not match', async () => {
    const other = await createCa();
    const forged = await signOcspResponse({
      issuer: other.cert,
      signer: softwareSigner(other.keyObject),
      entries: [
        {
          certId: certIdFor(pki.current.cert, other.cert, 'SHA-256'),
          status: { kind: 'good' },
          thisUpdate: new Date(Date.now() - 60_000),
          nextUpdate: new Date(Date.now() + 3_600_000),
        },
      ],
      producedAt: new Date(),
    });
    const c = checkStaple({ chain: [pki.current.cert, pki.ca.cert], staple: forged, now: now() });
    expect(c.staple.matchesCertificate).toBe(false);
    expect(c.staple.entries?.[0]).toMatchObject({
      serial: pki.current.serial.toLowerCase(),
      hashAlgorithm: 'SHA-256',
      issuerMatches: false,
    });
    expect(c.problems[0]?.message).toBe(
      `not in lockstep: the staple is for serial ${pki.current.serial.toLowerCase()} (other issuer), the certificate is ${pki.current.serial.toLowerCase()}`,
    );
  });

  it('a tryLater body names no certificate', () => {
    const c = checkStaple({ chain: [pki.current.cert, pki.ca.cert], staple: errorResponse('tryLater'), now: now() });
    expect(c.staple.matchesCertificate).toBe(false);
    expect(c.staple.entries).toBeUndefined();
    expect(c.problems[0]?.reason).toBe('TryLater');
  });

  it('revoked is a problem even though the response is valid', async () => {
    const revoked = await signOcspResponse({
      issuer: pki.ca.cert,
      signer: softwareSigner(pki.ca.keyObject),
      entries: [
        {
          certId: certIdFor(pki.current.cert, pki.ca.cert, 'SHA-1'),
          status: { kind: 'revoked', revocationTime: new Date('2026-01-02T03:04:05Z'), reason: 'keyCompromise' },
          thisUpdate: new Date(Date.now() - 60_000),
          nextUpdate: new Date(Date.now() + 3_600_000),
        },
      ],
      producedAt: new Date(),
    });
    const c = checkStaple({ chain: [pki.current.cert, pki.ca.cert], staple: revoked, now: now() });
    expect(c.staple.valid).toBe(true);
    expect(c.problems).toEqual([
      {
        reason: 'Revoked',
        message: `certificate ${pki.current.serial.toLowerCase()} is revoked since 2026-01-02T03:04:05.000Z (keyCompromise)`,
      },
    ]);
  });

  it('no staple: a problem only when the certificate has OCSP (or must-staple); an expired certificate always is', async () => {
    const noOcsp = await issueLeaf(pki.ca, { ocspUrl: null });
    expect(checkStaple({ chain: [noOcsp.cert, pki.ca.cert], now: now() }).problems).toEqual([]);
    expect(checkStaple({ chain: [pki.current.cert, pki.ca.cert], now: now() }).problems.map((p) => p.reason)).toEqual(['NoStaple']);
    const mustStaple = await issueLeaf(pki.ca, { ocspUrl: null, mustStaple: true });
    expect(checkStaple({ chain: [mustStaple.cert, pki.ca.cert], now: now() }).problems[0]?.message).toContain('must-staple');
    const old = await issueLeaf(pki.ca, {
      ocspUrl: null,
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    expect(checkStaple({ chain: [old.cert, pki.ca.cert], now: now() }).problems.map((p) => p.reason)).toEqual(['CertificateExpired']);
  });
});

describe('endpoints', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ocsp-endpoints-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['127.0.0.1:8443', { host: '127.0.0.1', port: 8443 }, '127.0.0.1:8443'],
    ['127.0.0.1:8443@shop.test', { host: '127.0.0.1', port: 8443, servername: 'shop.test' }, '127.0.0.1:8443@shop.test'],
    ['web.shop.svc:443', { host: 'web.shop.svc', port: 443, servername: 'web.shop.svc' }, 'web.shop.svc:443'],
    ['[::1]:443@shop.test', { host: '::1', port: 443, servername: 'shop.test' }, '[::1]:443@shop.test'],
  ])('%s', (text, want, name) => {
    const e = parseEndpoint(text);
    expect(e).toEqual(want);
    expect(endpointName(e)).toBe(name);
  });

  it.each(['127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', 'host:port', ':443', '127.0.0.1:443@bad name'])('refuses %s', (text) => {
    expect(() => parseEndpoint(text)).toThrow(/is not HOST:PORT|is not a host name/);
  });

  it('reads a file of objects and short forms, and names the bad entry', async () => {
    const f = join(dir, 'ok.yaml');
    await writeFile(
      f,
      'endpoints:\n  - address: 10.0.0.1:443\n    servername: a.test\n    issuerFile: /etc/ca.pem\n  - "10.0.0.2:8443@b.test"\n',
    );
    expect(readEndpointsFile(f)).toEqual([
      { host: '10.0.0.1', port: 443, servername: 'a.test', issuerFile: '/etc/ca.pem' },
      { host: '10.0.0.2', port: 8443, servername: 'b.test' },
    ]);
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify([{ address: '10.0.0.1:443' }, { address: '10.0.0.1:443', sni: 'x' }]));
    expect(() => readEndpointsFile(bad)).toThrow(`endpoints file ${bad}, entry #2: unknown field(s) sni`);
  });
});
