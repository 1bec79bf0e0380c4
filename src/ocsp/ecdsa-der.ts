// PKCS#11 CKM_ECDSA returns the signature as raw r‖s (two big-endian integers of the field size);
// X.509 and OCSP carry it as the DER Ecdsa-Sig-Value SEQUENCE { r INTEGER, s INTEGER }.

function derInteger(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++; // minimal: no leading zero octets
  const v = bytes.subarray(i);
  const pad = v[0]! & 0x80 ? 1 : 0; // a set top bit would read as negative
  const out = Buffer.allocUnsafe(2 + pad + v.length);
  out[0] = 0x02;
  out[1] = pad + v.length;
  if (pad) out[2] = 0;
  out.set(v, 2 + pad);
  return out;
}

/** DER Ecdsa-Sig-Value from raw r‖s (P-256: 64 bytes, P-384: 96 bytes). */
export function ecdsaRawToDer(raw: Uint8Array): Uint8Array {
  if (raw.length === 0 || raw.length % 2 !== 0 || raw.length > 132) throw new Error(`raw ECDSA signature of ${raw.length} bytes`);
  const half = raw.length / 2;
  const r = derInteger(raw.subarray(0, half));
  const s = derInteger(raw.subarray(half));
  const len = r.length + s.length;
  // P-521 can exceed 127 content bytes: long-form length.
  const head = len < 0x80 ? [0x30, len] : [0x30, 0x81, len];
  // A plain Uint8Array that owns its memory: callers may take `.slice().buffer` (src/ocsp/sign.ts
  // does), which on a pooled Buffer would be the whole shared slab.
  const out = new Uint8Array(head.length + len);
  out.set(head, 0);
  out.set(r, head.length);
  out.set(s, head.length + r.length);
  return out;
}
