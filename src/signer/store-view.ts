// The planner's view of the store: for each serial of one issuer, when it was signed, until when,
// what status it asserts, and which certificate signed it. The store keeps no signer field, so
// the signer is read from the response itself: the first certificate in BasicOCSPResponse.certs
// is the delegated responder (this package always includes it); no certificate means the issuer.
import { X509Certificate } from '@peculiar/x509';
import { includedSignerCert } from '../ocsp/included-cert.js';
import { certDerFromBytes } from '../ocsp/cert-der.js';
import type { ResponseStore, StoredEntry } from '../store/index.js';
import { hexOf } from '../store/keys.js';
import type { ResponseInfo } from './planner.js';

/** How responses name their signer: hex of the responder certificate's serial INTEGER content. */
export function signerSerialOf(cert: X509Certificate): string {
  return hexOf(certDerFromBytes(new Uint8Array(cert.rawData)).serial);
}

/** Reads signer identities from responses, parsing each distinct signer certificate once. */
export class SignerIdentityReader {
  private readonly bySerial = new Map<string, number>();

  constructor(private readonly issuerNotAfter: number) {}

  /** Registers a certificate this process signs with, so its responses need no parse. */
  remember(cert: X509Certificate): void {
    this.bySerial.set(signerSerialOf(cert), cert.notAfter.getTime());
  }

  read(der: Uint8Array): { signerSerial?: string; signerNotAfter: number } {
    const cert = includedSignerCert(der);
    if (!cert) return { signerNotAfter: this.issuerNotAfter };
    const serial = hexOf(certDerFromBytes(cert).serial);
    let notAfter = this.bySerial.get(serial);
    if (notAfter === undefined) {
      notAfter = new X509Certificate(cert).notAfter.getTime();
      this.bySerial.set(serial, notAfter);
    }
    return { signerSerial: serial, signerNotAfter: notAfter };
  }
}

export function responseInfo(
  e: Pick<StoredEntry, 'serial' | 'thisUpdate' | 'nextUpdate' | 'status' | 'der'>,
  ids: SignerIdentityReader,
): ResponseInfo {
  const s = ids.read(e.der);
  return {
    serial: e.serial,
    thisUpdate: e.thisUpdate,
    nextUpdate: e.nextUpdate,
    status: e.status,
    signerNotAfter: s.signerNotAfter,
    ...(s.signerSerial !== undefined ? { signerSerial: s.signerSerial } : {}),
  };
}

/** Every stored response of `issuerId`, keyed by serial. */
export async function loadResponses(store: ResponseStore, issuerId: string, ids: SignerIdentityReader): Promise<Map<string, ResponseInfo>> {
  const out = new Map<string, ResponseInfo>();
  let n = 0;
  for await (const e of store.entries()) {
    // An in-memory store yields without ever leaving the microtask queue: let timers and I/O
    // run now and then, or a 100,000-response scan is one long event-loop stall.
    if (++n % 4096 === 0) await new Promise((r) => setImmediate(r));
    if (e.issuerId !== issuerId) continue;
    try {
      out.set(e.serial, responseInfo(e, ids));
    } catch {
      // An unreadable stored response is treated as missing: it gets re-signed.
    }
  }
  return out;
}
