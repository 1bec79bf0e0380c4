// One loaded, initialised PKCS#11 library per module path, shared by every signer in the process.
// C_Initialize/C_Finalize are per process, not per caller: a second C_Initialize fails with
// CKR_CRYPTOKI_ALREADY_INITIALIZED and a C_Finalize would pull the library out from under the
// other users, so the handle is reference-counted and finalised when the last user lets go.
import pkcs11js from 'pkcs11js';

export type Pkcs11 = pkcs11js.PKCS11;

interface Loaded {
  lib: Pkcs11;
  refs: number;
  /** false when someone outside this module had initialised the library: then we never finalise it */
  owned: boolean;
}

const loaded = new Map<string, Loaded>();

export interface ModuleHandle {
  readonly lib: Pkcs11;
  readonly path: string;
  release(): void;
}

export function acquireModule(path: string): ModuleHandle {
  let l = loaded.get(path);
  if (!l) {
    const lib = new pkcs11js.PKCS11();
    try {
      lib.load(path);
    } catch (e) {
      throw new Error(`cannot load PKCS#11 module ${path}: ${errorText(e)}`);
    }
    let owned = true;
    try {
      // CKF_OS_LOCKING_OK: we call the library from several threads at once (libuv's pool runs
      // C_Sign); without this flag SoftHSM assumes a single-threaded caller and turns its locking off.
      lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
    } catch (e) {
      if (pkcs11Code(e) !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        lib.close();
        throw new Error(`C_Initialize failed for PKCS#11 module ${path}: ${errorText(e)}`);
      }
      owned = false;
    }
    l = { lib, refs: 0, owned };
    loaded.set(path, l);
  }
  l.refs++;
  const entry = l;
  let released = false;
  return {
    lib: entry.lib,
    path,
    release(): void {
      if (released) return;
      released = true;
      if (--entry.refs > 0) return;
      loaded.delete(path);
      try {
        if (entry.owned) entry.lib.C_Finalize();
      } finally {
        entry.lib.close();
      }
    },
  };
}

/** The CKR_ code of a pkcs11js error, if it is one. */
export function pkcs11Code(e: unknown): number | undefined {
  if (e && typeof e === 'object' && 'code' in e && typeof e.code === 'number') return (e as { code: number }).code;
  return undefined;
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
