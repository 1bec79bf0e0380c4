// Parse + validate throughput of OCSP responses next to node:crypto's raw signature verification on
// the same key and bytes. The ratio is the figure: how much the protocol layer costs on top of the
// signature check it cannot avoid. Run: npx tsc -p tsconfig.json && node dist/bench/ocsp-verify.js
import { constants, verify } from 'node:crypto';
import { certIdFor, signOcspResponse, softwareSigner, validateOcspResponse } from '../src/ocsp/index.js';
import { decodeResponse } from '../src/ocsp/response.js';
import { createCa, issueLeaf, issueResponderCert, type KeyAlg } from '../test/support/pki.js';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const ROUND_MS = Number(process.env.ROUND_MS ?? 400);

interface Subject {
  name: string;
  validate: () => boolean;
  raw: () => boolean;
}

async function subject(keyAlg: KeyAlg, delegated: boolean): Promise<Subject> {
  const ca = await createCa({ keyAlg });
  const leaf = await issueLeaf(ca);
  const responder = delegated ? await issueResponderCert(ca, { keyAlg }) : undefined;
  const now = new Date();
  const body = await signOcspResponse({
    issuer: ca.cert,
    signer: softwareSigner((responder ?? ca).keyObject),
    ...(responder ? { responderCert: responder.cert } : {}),
    entries: [{ certId: certIdFor(leaf.cert, ca.cert), status: { kind: 'good' }, thisUpdate: now, nextUpdate: new Date(now.getTime() + 86_400_000) }],
    producedAt: now,
  });
  const d = decodeResponse(body);
  if (!d.ok) throw new Error(d.message);
  const signer = (responder ?? ca).keyObject;
  const pub = signer.type === 'private' ? (await import('node:crypto')).createPublicKey(signer) : signer;
  const sig = d.signature;
  const opts = { cert: leaf.cert, issuer: ca.cert, now };
  const rawVerify =
    keyAlg === 'RSA-2048'
      ? () => verify('sha256', d.tbs, { key: pub, padding: constants.RSA_PKCS1_PADDING }, sig)
      : () => verify('sha256', d.tbs, { key: pub, dsaEncoding: 'der' }, sig);
  if (!validateOcspResponse(body, opts).ok || !rawVerify()) throw new Error('setup: the response does not validate');
  return {
    name: `${keyAlg === 'RSA-2048' ? 'RSA-2048' : 'ECDSA P-256'}${delegated ? ', delegated' : ''}`,
    validate: () => validateOcspResponse(body, opts).ok,
    raw: rawVerify,
  };
}

/** Calls `f` for about `ms` milliseconds; returns calls per second. */
function rate(f: () => boolean, ms: number): number {
  let n = 0;
  const start = process.hrtime.bigint();
  const limit = BigInt(ms) * 1_000_000n;
  let elapsed = 0n;
  while (elapsed < limit) {
    for (let i = 0; i < 20; i++) if (!f()) throw new Error('verification failed during the benchmark');
    n += 20;
    elapsed = process.hrtime.bigint() - start;
  }
  return (n * 1e9) / Number(elapsed);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const subjects = [await subject('P-256', false), await subject('RSA-2048', false), await subject('P-256', true), await subject('RSA-2048', true)];
  const results = new Map(subjects.map((s) => [s.name, { validate: [] as number[], raw: [] as number[] }]));
  // warm-up, then rounds interleaving every subject and both measurements so drift hits all alike
  for (const s of subjects) {
    rate(s.validate, 100);
    rate(s.raw, 100);
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const s of subjects) {
      const res = results.get(s.name)!;
      res.validate.push(rate(s.validate, ROUND_MS));
      res.raw.push(rate(s.raw, ROUND_MS));
    }
  }
  const rows = subjects.map((s) => {
    const res = results.get(s.name)!;
    const v = median(res.validate);
    const raw = median(res.raw);
    return {
      response: s.name,
      'parse+validate/s': Math.round(v),
      'raw verify/s': Math.round(raw),
      ratio: (v / raw).toFixed(2),
      'validate spread': `${Math.round(Math.min(...res.validate))}..${Math.round(Math.max(...res.validate))}`,
    };
  });
  console.log(`node ${process.version}, ${ROUNDS} interleaved rounds of ${ROUND_MS} ms, medians; ratio = validate/s ÷ raw verify/s (delegated: the responder certificate is checked on first sight and cached by its bytes, as when one responder answers repeatedly)`);
  console.table(rows);
}

await main();
