// Pre-signed responses for responder tests, made the way a signer pod makes them: the core's
// signOcspResponse with the CA key, stored under (issuerIdOf(ca), serial).
import { certIdFor, serialHex, signOcspResponse, softwareSigner, type ResponseEntryStatus } from '../../src/ocsp/index.js';
import { issuerIdOf } from '../../src/responder/issuers.js';
import type { ResponseRecord } from '../../src/store/types.js';
import type { Ca, Issued } from '../support/pki.js';

export async function presign(
  ca: Ca,
  leaf: Issued,
  o: { status?: ResponseEntryStatus; thisUpdate?: Date; nextUpdate?: Date } = {},
): Promise<ResponseRecord> {
  const thisUpdate = new Date(Math.floor((o.thisUpdate ?? new Date(Date.now() - 60_000)).getTime() / 1000) * 1000);
  const nextUpdate = new Date(Math.floor((o.nextUpdate ?? new Date(thisUpdate.getTime() + 3 * 86_400_000)).getTime() / 1000) * 1000);
  const status = o.status ?? { kind: 'good' };
  const der = await signOcspResponse({
    issuer: ca.cert,
    signer: softwareSigner(ca.keyObject),
    entries: [{ certId: certIdFor(leaf.cert, ca.cert, 'SHA-1'), status, thisUpdate, nextUpdate }],
    producedAt: new Date(),
  });
  return {
    issuerId: issuerIdOf(ca.cert),
    serial: serialHex(leaf.cert),
    der,
    thisUpdate: thisUpdate.getTime(),
    nextUpdate: nextUpdate.getTime(),
    status: status.kind,
  };
}
