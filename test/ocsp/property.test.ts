// Hostile bytes: random input, every truncation and every single-bit flip of valid responses never
// throw and never validate.
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  buildOcspRequest,
  certIdFor,
  signOcspResponse,
  softwareSigner,
  validateOcspResponse,
  type ValidationOptions,
} from '../../src/ocsp/index.js';
import { createCa, issueLeaf, issueResponderCert, type Ca, type Issued } from '../support/pki.js';
import { opensslRespond } from '../support/openssl.js';

const DAY = 86_400_000;
let p256: Ca;
let rsa: Ca;
let leafP: Issued;
let leafR: Issued;
const valid: { name: string; body: Uint8Array; opts: ValidationOptions }[] = [];

beforeAll(async () => {
  [p256, rsa] = await Promise.all([createCa({ keyAlg: 'P-256' }), createCa({ keyAlg: 'RSA-2048' })]);
  [leafP, leafR] = await Promise.all([issueLeaf(p256), issueLeaf(rsa)]);
  const now = new Date();
  const entries = (leaf: Issued, ca: Ca) => [
    {
      certId: certIdFor(leaf.cert, ca.cert),
      status: { kind: 'good' as const },
      thisUpdate: now,
      nextUpdate: new Date(now.getTime() + DAY),
    },
  ];
  const optsP = { cert: leafP.cert, issuer: p256.cert, now };
  const optsR = { cert: leafR.cert, issuer: rsa.cert, now };
  const responder = await issueResponderCert(p256);
  valid.push(
    {
      name: 'ours, P-256 issuer-signed',
      body: await signOcspResponse({
        issuer: p256.cert,
        signer: softwareSigner(p256.keyObject),
        entries: entries(leafP, p256),
        producedAt: now,
      }),
      opts: optsP,
    },
    {
      name: 'ours, P-256 delegated, byKey',
      body: await signOcspResponse({
        issuer: p256.cert,
        signer: softwareSigner(responder.keyObject),
        responderCert: responder.cert,
        responderIdBy: 'keyHash',
        entries: entries(leafP, p256),
        producedAt: now,
      }),
      opts: optsP,
    },
    {
      name: 'openssl, RSA issuer-signed with the CA certificate included',
      body: await opensslRespond({
        ca: rsa,
        indexEntries: [{ cert: leafR.cert, status: 'V' }],
        requestDer: buildOcspRequest({ cert: leafR.cert, issuer: rsa.cert }).der,
        ndays: 1,
      }),
      opts: optsR,
    },
    {
      name: 'openssl, P-256 delegated',
      body: await opensslRespond({
        ca: p256,
        responder,
        indexEntries: [{ cert: leafP.cert, status: 'V' }],
        requestDer: buildOcspRequest({ cert: leafP.cert, issuer: p256.cert }).der,
        ndays: 1,
      }),
      opts: optsP,
    },
  );
});

function mustNotValidate(body: Uint8Array, opts: ValidationOptions): void {
  const v = validateOcspResponse(body, opts); // a throw fails the test by itself
  expect(v.ok).toBe(false);
  if (!v.ok) expect(v.message.length).toBeGreaterThan(0);
}

describe('hostile input', () => {
  it('the unmodified responses validate (so the properties below mean something)', () => {
    expect(valid).toHaveLength(4);
    for (const v of valid) expect(validateOcspResponse(v.body, v.opts).ok, v.name).toBe(true);
  });

  it('random bytes, bare and behind an OCSP-looking header, never throw and never validate', () => {
    const opts = valid[0]!.opts;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.boolean(), (bytes, header) => {
        const body = header ? new Uint8Array([0x30, 0x82, bytes.length >> 8, bytes.length & 0xff, 0x0a, 0x01, 0x00, ...bytes]) : bytes;
        mustNotValidate(body, opts);
      }),
      { numRuns: 2000 },
    );
  });

  it('every truncation of every valid response fails', () => {
    for (const v of valid) for (let n = 0; n < v.body.length; n++) mustNotValidate(v.body.subarray(0, n), v.opts);
  });

  it('every single-bit flip of every valid response fails', () => {
    for (const v of valid) {
      const b = v.body.slice();
      for (let i = 0; i < b.length; i++) {
        for (let bit = 0; bit < 8; bit++) {
          b[i] = b[i]! ^ (1 << bit);
          const verdict = validateOcspResponse(b, v.opts);
          if (verdict.ok) expect.fail(`${v.name}: flipping bit ${bit} of byte ${i} still validates`);
          b[i] = b[i]! ^ (1 << bit);
        }
      }
    }
  });

  it('random multi-byte corruption, appended and inserted bytes never validate', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.uint8Array({ minLength: 1, maxLength: 16 }),
        fc.constantFrom('xor', 'append', 'insert'),
        (which, edits, extra, mode) => {
          const v = valid[which]!;
          let body = v.body.slice();
          if (mode === 'xor') for (const [pos, x] of edits) body[pos % body.length] = body[pos % body.length]! ^ x;
          else if (mode === 'append') body = new Uint8Array([...body, ...extra]);
          else {
            const at = edits[0]![0] % body.length;
            body = new Uint8Array([...body.subarray(0, at), ...extra, ...body.subarray(at)]);
          }
          mustNotValidate(body, v.opts);
        },
      ),
      { numRuns: 1500 },
    );
  });
});
