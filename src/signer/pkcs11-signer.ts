// An OcspSigner whose key lives on a PKCS#11 token (an HSM; SoftHSM2 in tests).
//
// Parallelism: one signing operation occupies one session from C_SignInit to the end of C_Sign,
// so the signer holds a pool of `sessions` logged-in sessions and at most that many operations run
// at once. C_SignAsync runs C_Sign on libuv's threadpool, which has UV_THREADPOOL_SIZE threads
// (default 4), fixed the first time the pool is used — so it must be set in the environment before
// the process starts (the `signer` CLI re-executes itself with it set from --sessions). With fewer
// threads than sessions, the surplus sessions only queue. C_SignInit is synchronous and stays on
// the main thread (tens of µs): that, not the token, is what caps one process.
import { createPublicKey, hash } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import type { OcspSigner, SignatureAlgorithmName } from '../ocsp/index.js';
import { ecdsaRawToDer } from '../ocsp/ecdsa-der.js';
import { acquireModule, errorText, pkcs11Code, type ModuleHandle, type Pkcs11 } from './pkcs11-module.js';

type Handle = Buffer;

export interface Pkcs11SignerOptions {
  /** path of the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so */
  module: string;
  tokenLabel: string;
  keyLabel: string;
  pin: string;
  /** concurrent signing operations (= open sessions); default 4 */
  sessions?: number;
}

export interface Pkcs11Signer extends OcspSigner {
  readonly tokenLabel: string;
  readonly keyLabel: string;
  readonly sessions: number;
  /** operations currently holding a session */
  readonly inFlight: number;
  /** Waits for in-flight operations, closes the sessions and releases the module (C_Finalize when last). */
  close(): Promise<void>;
}

const CURVES: Record<string, { alg: SignatureAlgorithmName; hash: string; crv: string; size: number }> = {
  // DER of the namedCurve OIDs as CKA_EC_PARAMS holds them
  '06082a8648ce3d030107': { alg: 'ECDSA-SHA256', hash: 'sha256', crv: 'P-256', size: 32 },
  '06052b81040022': { alg: 'ECDSA-SHA384', hash: 'sha384', crv: 'P-384', size: 48 },
};

interface KeyInfo {
  algorithm: SignatureAlgorithmName;
  publicKeyDer: Uint8Array | undefined;
  /** EC: the hash computed here before CKM_ECDSA (portable: not every HSM has CKM_ECDSA_SHA384) */
  hash: string | undefined;
  mechanism: pkcs11js.Mechanism;
  signatureBytes: number;
}

/** Opens `sessions` logged-in sessions on the token and finds the private key by label. */
export function openPkcs11Signer(o: Pkcs11SignerOptions): Pkcs11Signer {
  const sessions = o.sessions ?? 4;
  if (!Number.isInteger(sessions) || sessions < 1) throw new Error(`sessions must be a positive integer, got ${sessions}`);
  const mod = acquireModule(o.module);
  const opened: Handle[] = [];
  try {
    const slot = findToken(mod, o.tokenLabel);
    for (let i = 0; i < sessions; i++) opened.push(mod.lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION));
    login(mod.lib, opened[0]!, o.tokenLabel, o.pin);
    const key = findPrivateKey(mod.lib, opened[0]!, o.tokenLabel, o.keyLabel);
    const info = describeKey(mod.lib, opened[0]!, key, o.tokenLabel, o.keyLabel);
    return new SessionPoolSigner(mod, opened, key, info, o.tokenLabel, o.keyLabel);
  } catch (e) {
    for (const s of opened) {
      try {
        mod.lib.C_CloseSession(s);
      } catch {
        // best effort while failing anyway
      }
    }
    mod.release();
    throw e;
  }
}

function findToken(mod: ModuleHandle, tokenLabel: string): Handle {
  const seen: string[] = [];
  for (const slot of mod.lib.C_GetSlotList(true)) {
    const label = mod.lib.C_GetTokenInfo(slot).label.trim(); // labels are blank-padded to 32 bytes
    if (label === tokenLabel) return slot;
    if (label) seen.push(JSON.stringify(label));
  }
  throw new Error(`PKCS#11 token "${tokenLabel}" not found in ${mod.path} (tokens present: ${seen.join(', ') || 'none'})`);
}

function login(lib: Pkcs11, session: Handle, tokenLabel: string, pin: string): void {
  try {
    lib.C_Login(session, pkcs11js.CKU_USER, pin);
  } catch (e) {
    const code = pkcs11Code(e);
    // Login state is per token and application: another signer in this process may have logged in.
    if (code === pkcs11js.CKR_USER_ALREADY_LOGGED_IN) return;
    if (code === pkcs11js.CKR_PIN_INCORRECT) throw new Error(`PKCS#11 token "${tokenLabel}": PIN rejected (CKR_PIN_INCORRECT)`);
    if (code === pkcs11js.CKR_PIN_LOCKED)
      throw new Error(`PKCS#11 token "${tokenLabel}": PIN locked (CKR_PIN_LOCKED) after too many wrong PINs`);
    throw new Error(`PKCS#11 token "${tokenLabel}": login failed: ${errorText(e)}`);
  }
}

function findObjects(lib: Pkcs11, session: Handle, template: pkcs11js.Template): Handle[] {
  lib.C_FindObjectsInit(session, template);
  try {
    return lib.C_FindObjects(session, 64);
  } finally {
    lib.C_FindObjectsFinal(session);
  }
}

function labelOf(lib: Pkcs11, session: Handle, h: Handle): string {
  const [a] = lib.C_GetAttributeValue(session, h, [{ type: pkcs11js.CKA_LABEL }]);
  return a?.value.toString('utf8') ?? '';
}

function findPrivateKey(lib: Pkcs11, session: Handle, tokenLabel: string, keyLabel: string): Handle {
  const keys = findObjects(lib, session, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
    { type: pkcs11js.CKA_LABEL, value: keyLabel },
  ]);
  if (keys.length === 1) return keys[0]!;
  if (keys.length > 1)
    throw new Error(`PKCS#11 token "${tokenLabel}": ${keys.length} private keys labelled "${keyLabel}"; labels must be unique`);
  const all = findObjects(lib, session, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY }]).map((h) =>
    JSON.stringify(labelOf(lib, session, h)),
  );
  throw new Error(
    `PKCS#11 token "${tokenLabel}": no private key labelled "${keyLabel}" (private keys on the token: ${all.join(', ') || 'none'})`,
  );
}

function attr(lib: Pkcs11, session: Handle, h: Handle, type: number): Buffer | undefined {
  try {
    return lib.C_GetAttributeValue(session, h, [{ type }])[0]?.value;
  } catch {
    return undefined; // attribute absent or sensitive on this token
  }
}

function b64url(b: Uint8Array): string {
  return Buffer.from(b).toString('base64url');
}

function describeKey(lib: Pkcs11, session: Handle, key: Handle, tokenLabel: string, keyLabel: string): KeyInfo {
  const keyType = attr(lib, session, key, pkcs11js.CKA_KEY_TYPE)?.readUIntLE(0, 4);
  const where = `PKCS#11 token "${tokenLabel}" key "${keyLabel}"`;
  if (keyType === pkcs11js.CKK_EC) {
    const params = attr(lib, session, key, pkcs11js.CKA_EC_PARAMS);
    const curve = params && CURVES[params.toString('hex')];
    if (!curve)
      throw new Error(
        `${where}: unsupported EC curve (CKA_EC_PARAMS ${params?.toString('hex') ?? 'absent'}); P-256 and P-384 are supported`,
      );
    return {
      algorithm: curve.alg,
      publicKeyDer: ecPublicKey(lib, session, keyLabel, curve),
      hash: curve.hash,
      mechanism: { mechanism: pkcs11js.CKM_ECDSA },
      signatureBytes: 2 * curve.size,
    };
  }
  if (keyType === pkcs11js.CKK_RSA) {
    const n = attr(lib, session, key, pkcs11js.CKA_MODULUS);
    const e = attr(lib, session, key, pkcs11js.CKA_PUBLIC_EXPONENT);
    const publicKeyDer =
      n && e
        ? new Uint8Array(
            createPublicKey({ key: { kty: 'RSA', n: b64url(n), e: b64url(e) }, format: 'jwk' }).export({ type: 'spki', format: 'der' }),
          )
        : undefined;
    return {
      algorithm: 'RSA-SHA256',
      publicKeyDer,
      hash: undefined,
      mechanism: { mechanism: pkcs11js.CKM_SHA256_RSA_PKCS },
      signatureBytes: n ? n.length : 512,
    };
  }
  throw new Error(`${where}: unsupported key type ${keyType ?? 'unknown'} (EC P-256/P-384 and RSA are supported)`);
}

/** The SPKI of the EC public key object with the same label, when the token has one. */
function ecPublicKey(lib: Pkcs11, session: Handle, keyLabel: string, curve: { crv: string; size: number }): Uint8Array | undefined {
  const [pub] = findObjects(lib, session, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
    { type: pkcs11js.CKA_LABEL, value: keyLabel },
  ]);
  if (!pub) return undefined;
  let point = attr(lib, session, pub, pkcs11js.CKA_EC_POINT);
  if (!point) return undefined;
  // CKA_EC_POINT is a DER OCTET STRING around the uncompressed point (some tokens omit the wrapper).
  if (point[0] === 0x04 && point.length === 2 + 1 + 2 * curve.size) point = point.subarray(2);
  if (point[0] !== 0x04 || point.length !== 1 + 2 * curve.size) return undefined;
  const x = point.subarray(1, 1 + curve.size);
  const y = point.subarray(1 + curve.size);
  return new Uint8Array(
    createPublicKey({ key: { kty: 'EC', crv: curve.crv, x: b64url(x), y: b64url(y) }, format: 'jwk' }).export({
      type: 'spki',
      format: 'der',
    }),
  );
}

class SessionPoolSigner implements Pkcs11Signer {
  readonly algorithm: SignatureAlgorithmName;
  readonly publicKeyDer?: Uint8Array;
  readonly sessions: number;
  private readonly free: { session: Handle; out: Buffer }[];
  private readonly waiters: ((s: { session: Handle; out: Buffer }) => void)[] = [];
  private closing: Promise<void> | undefined;
  private busy = 0;
  private idle: (() => void) | undefined;

  constructor(
    private readonly mod: ModuleHandle,
    private readonly all: Handle[],
    private readonly key: Handle,
    private readonly info: KeyInfo,
    readonly tokenLabel: string,
    readonly keyLabel: string,
  ) {
    this.algorithm = info.algorithm;
    if (info.publicKeyDer) this.publicKeyDer = info.publicKeyDer;
    this.sessions = all.length;
    // One output buffer per session: a session runs one operation at a time, so it is never shared.
    this.free = all.map((session) => ({ session, out: Buffer.alloc(info.signatureBytes) }));
  }

  get inFlight(): number {
    return this.busy;
  }

  async sign(tbs: Uint8Array): Promise<Uint8Array> {
    if (this.closing) throw new Error(`PKCS#11 signer for token "${this.tokenLabel}" key "${this.keyLabel}" is closed`);
    // crypto.hash (Node >= 20.12): one call, no Hash object; a third of createHash's cost per signature
    const data = this.info.hash ? hash(this.info.hash, tbs, 'buffer') : Buffer.from(tbs.buffer, tbs.byteOffset, tbs.byteLength);
    const s = this.acquire() ?? (await new Promise<{ session: Handle; out: Buffer }>((r) => this.waiters.push(r)));
    let raw: Uint8Array;
    try {
      const lib = this.mod.lib;
      lib.C_SignInit(s.session, this.info.mechanism, this.key);
      // `sig` is a view of the session's buffer: copy it out before the session is reused.
      raw = new Uint8Array(await lib.C_SignAsync(s.session, data, s.out));
    } catch (e) {
      throw new Error(`PKCS#11 token "${this.tokenLabel}" key "${this.keyLabel}": signing failed: ${errorText(e)}`);
    } finally {
      // Hand the session on before converting: the next operation starts a little earlier.
      this.releaseSession(s);
    }
    return this.info.hash ? ecdsaRawToDer(raw) : raw;
  }

  private acquire(): { session: Handle; out: Buffer } | undefined {
    const s = this.free.pop();
    if (s) this.busy++;
    return s;
  }

  /** Hands the session straight to the next waiter (it stays counted as busy), else frees it. */
  private releaseSession(s: { session: Handle; out: Buffer }): void {
    const next = this.waiters.shift();
    if (next) return next(s);
    this.busy--;
    this.free.push(s);
    if (this.busy === 0) this.idle?.();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.busy > 0) await new Promise<void>((r) => (this.idle = r));
      for (const s of this.all) {
        try {
          this.mod.lib.C_CloseSession(s); // closing the last session also logs the token out
        } catch {
          // the token may be gone already; C_Finalize below still runs
        }
      }
      this.mod.release();
    })();
    return this.closing;
  }
}
