// The public half read from a private key's DER must say exactly what importing the key through
// node:crypto says, for every encoding cert-manager and openssl write; anything it does not read
// is left to the import (undefined), never guessed.
import { describe, expect, it } from 'vitest';
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { publicHalfMatches, statedPublicHalf } from '../../src/ocsp/private-key-public-half.js';
import { children, encodeTlv, readTlv, bytesOf } from '../../src/ocsp/der.js';

const spkiOf = (k: KeyObject) => new Uint8Array(createPublicKey(k).export({ type: 'spki', format: 'der' }));
/** What keyMatchesCertificate asked node:crypto before: import the key, derive its public key, compare. */
const imported = (pem: string, spki: Uint8Array): boolean => {
  try {
    return createPublicKey(createPrivateKey(pem)).equals(createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }));
  } catch {
    return false; // keys of different types do not compare
  }
};
const pemOf = (label: string, der: Uint8Array) =>
  `-----BEGIN ${label}-----\n${(
    Buffer.from(der)
      .toString('base64')
      .match(/.{1,64}/g) ?? []
  ).join('\n')}\n-----END ${label}-----\n`;

const keys = [
  generateKeyPairSync('rsa', { modulusLength: 2048 }),
  generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }),
  generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  generateKeyPairSync('ec', { namedCurve: 'P-384' }),
];
const encodings = (k: KeyObject): string[] => {
  const pkcs8 = k.export({ type: 'pkcs8', format: 'pem' }) as string;
  const own = k.asymmetricKeyType === 'rsa' ? 'pkcs1' : 'sec1';
  return [pkcs8, k.export({ type: own, format: 'pem' }) as string];
};

describe('statedPublicHalf', () => {
  it('agrees with the import for RSA and EC keys in PKCS#8, PKCS#1 and SEC1, against their own key and others', () => {
    let compared = 0;
    for (const { privateKey } of keys) {
      for (const pem of encodings(privateKey)) {
        const half = statedPublicHalf(pem);
        expect(half, pem.split('\n')[0]).toBeDefined();
        for (const other of keys) {
          const spki = spkiOf(other.privateKey);
          expect(publicHalfMatches(half!, spki)).toBe(imported(pem, spki));
          compared++;
        }
        expect(publicHalfMatches(half!, spkiOf(privateKey))).toBe(true);
      }
    }
    expect(compared).toBe(keys.length * 2 * keys.length);
  });

  it('leaves to the import what it does not read (Ed25519, encrypted, two keys, no public point, damaged), takes a stated point as the import does', () => {
    const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(statedPublicHalf(ed)).toBeUndefined();
    const { privateKey: ec } = keys[2]!;
    const encrypted = ec.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-128-cbc', passphrase: 'x' }) as string;
    expect(statedPublicHalf(encrypted)).toBeUndefined();
    const sec1 = ec.export({ type: 'sec1', format: 'pem' }) as string;
    expect(statedPublicHalf(sec1 + (keys[3]!.privateKey.export({ type: 'sec1', format: 'pem' }) as string))).toBeUndefined();
    expect(statedPublicHalf(sec1 + encrypted)).toBeUndefined();

    // SEC1 without its [1] public point: the import computes it; this reader does not.
    const der = new Uint8Array(ec.export({ type: 'sec1', format: 'der' }));
    const fields = children(der, readTlv(der, 0)).filter((t) => t.tag !== 0xa1);
    const withoutPoint = encodeTlv(0x30, Buffer.concat(fields.map((t) => bytesOf(der, t))));
    expect(statedPublicHalf(pemOf('EC PRIVATE KEY', withoutPoint))).toBeUndefined();
    expect(imported(pemOf('EC PRIVATE KEY', withoutPoint), spkiOf(ec))).toBe(true); // the case the fallback serves

    // A SEC1 key carrying another key's public point: the import takes the point as written, and so does this.
    const sameCurve = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const foreign = new Uint8Array(sameCurve.privateKey.export({ type: 'sec1', format: 'der' }));
    const point = children(foreign, readTlv(foreign, 0)).find((t) => t.tag === 0xa1)!;
    const mixed = pemOf('EC PRIVATE KEY', encodeTlv(0x30, Buffer.concat([...fields.map((t) => bytesOf(der, t)), bytesOf(foreign, point)])));
    const foreignSpki = spkiOf(sameCurve.privateKey);
    expect(imported(mixed, foreignSpki)).toBe(true);
    expect(publicHalfMatches(statedPublicHalf(mixed)!, foreignSpki)).toBe(true);

    // An RSA key cut after its public exponent is not a key, whatever its first fields say.
    const rsa = new Uint8Array(keys[0]!.privateKey.export({ type: 'pkcs1', format: 'der' }));
    const [version, n, e] = children(rsa, readTlv(rsa, 0));
    const cut = encodeTlv(0x30, Buffer.concat([version!, n!, e!].map((t) => bytesOf(rsa, t))));
    expect(statedPublicHalf(pemOf('RSA PRIVATE KEY', cut))).toBeUndefined();
    expect(() => createPrivateKey(pemOf('RSA PRIVATE KEY', cut))).toThrow();

    expect(statedPublicHalf('not a key')).toBeUndefined();
    expect(statedPublicHalf(pemOf('PRIVATE KEY', new Uint8Array([0x30, 0x03, 0x02, 0x01])))).toBeUndefined();
  });
});
