// Parse + validate throughput of OCSP responses next to node:crypto's raw signature verification on
// the same key and bytes. The ratio is the figure: how much the protocol layer costs on top of the
// signature check it cannot avoid. Run: npx tsc -p tsconfig.json && node dist/bench/ocsp-verify.js
// (ROUNDS and ROUND_MS in the environment change the defaults of 9 rounds of 800 ms).
import { constants, verify } from 'node:crypto';
import { certIdFor, signOcspResponse, softwareSigner, validateOcspResponse } from '../src/ocsp/index.js';
import { decodeResponse } from '../src/ocsp/response.js';
import { createCa, issueLeaf, issueResponderCert, type KeyAlg } from '../test/support/pki.js';

const ROUNDS = Number(process.env.ROUNDS ?? 9);
const ROUND_MS = Number(process.env.ROUND_MS ?? 800);
const SLICES = 16;

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
    entries: [
      {
        certId: certIdFor(leaf.cert, ca.cert),
        status: { kind: 'good' },
        thisUpdate: now,
        nextUpdate: new Date(now.getTime() + 86_400_000),
      },
    ],
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

interface Tally {
  calls: number;
  /** CPU microseconds of this process */
  us: number;
  /** wall-clock microseconds */
  wallUs: number;
}

/**
 * Calls `f` for about `ms` milliseconds of this process's CPU time. Rates are per CPU second: on a
 * shared machine a slice during which this process waited for a core would otherwise count against
 * whichever side it fell on. Wall time is kept too, for comparison.
 */
function run(f: () => boolean, ms: number, into: Tally): void {
  const start = process.cpuUsage();
  const wallStart = process.hrtime.bigint();
  let used = 0;
  while (used < ms * 1000) {
    for (let i = 0; i < 20; i++) if (!f()) throw new Error('verification failed during the benchmark');
    into.calls += 20;
    const d = process.cpuUsage(start);
    used = d.user + d.system;
  }
  into.us += used;
  into.wallUs += Number(process.hrtime.bigint() - wallStart) / 1000;
}

/**
 * One round of one subject: validate and raw verify in alternating slices, so that whatever else
 * the machine is doing (it is shared) falls on both alike. Returns both rates, calls per second.
 */
function round(s: Subject, ms: number): { validate: number; raw: number; wallRatio: number } {
  const v: Tally = { calls: 0, us: 0, wallUs: 0 };
  const r: Tally = { calls: 0, us: 0, wallUs: 0 };
  for (let i = 0; i < SLICES; i++) {
    for (const [f, into] of i % 2
      ? ([
          [s.raw, r],
          [s.validate, v],
        ] as const)
      : ([
          [s.validate, v],
          [s.raw, r],
        ] as const))
      run(f, ms / SLICES / 2, into);
  }
  return { validate: (v.calls * 1e6) / v.us, raw: (r.calls * 1e6) / r.us, wallRatio: v.calls / v.wallUs / (r.calls / r.wallUs) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const subjects = [
    await subject('P-256', false),
    await subject('RSA-2048', false),
    await subject('P-256', true),
    await subject('RSA-2048', true),
  ];
  const results = new Map(
    subjects.map((s) => [s.name, { validate: [] as number[], raw: [] as number[], ratio: [] as number[], wallRatio: [] as number[] }]),
  );
  for (const s of subjects) round(s, 200); // warm-up: JIT, and the responder certificate's first sight
  // Rounds go through every subject in turn, so that drift over the run hits all alike.
  for (let i = 0; i < ROUNDS; i++) {
    for (const s of subjects) {
      const res = results.get(s.name)!;
      const got = round(s, ROUND_MS);
      res.validate.push(got.validate);
      res.raw.push(got.raw);
      res.ratio.push(got.validate / got.raw);
      res.wallRatio.push(got.wallRatio);
    }
  }
  const rows = subjects.map((s) => {
    const res = results.get(s.name)!;
    return {
      response: s.name,
      'parse+validate/s': Math.round(median(res.validate)),
      'raw verify/s': Math.round(median(res.raw)),
      'ratio min': Math.min(...res.ratio).toFixed(2),
      'ratio median': median(res.ratio).toFixed(2),
      'wall-clock ratio min..median': `${Math.min(...res.wallRatio).toFixed(2)}..${median(res.wallRatio).toFixed(2)}`,
    };
  });
  console.log(
    `node ${process.version}, ${ROUNDS} rounds of ${ROUND_MS} ms of CPU time per response, each alternating validate and raw verify in ${SLICES} slices; ` +
      'rates are calls per CPU second, medians over rounds, ratio = validate/s ÷ raw verify/s within a round (delegated: the responder certificate is checked on first sight and cached by its bytes, as when one responder answers repeatedly)',
  );
  console.table(rows);
}

await main();
