// A Bloom filter of object keys: a fixed 128 KiB that answers "certainly never added" or "maybe",
// however many keys pass. An informer records in one the objects it saw and did not keep, so a
// reconciler can tell an object that does not exist from one that streamed past before anybody
// wanted it, without holding a key for each of 50,000 unrelated Secrets.
const BITS = 1 << 20;
const HASHES = 4;

export class KeyFilter {
  private readonly bits = new Uint32Array(BITS / 32);

  add(key: string): void {
    const [h1, h2] = hashes(key);
    for (let i = 0; i < HASHES; i++) {
      const bit = (h1 + i * h2) % BITS;
      this.bits[bit >>> 5]! |= 1 << (bit & 31);
    }
  }

  /** False: `key` was never added. True: it may have been (about 1 in 1,000 at 50,000 keys, 1 in 2 at 500,000). */
  mightHave(key: string): boolean {
    const [h1, h2] = hashes(key);
    for (let i = 0; i < HASHES; i++) {
      const bit = (h1 + i * h2) % BITS;
      if ((this.bits[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}

/** Two 32-bit multiplicative hashes (FNV-1a's and MurmurHash2's multipliers), combined by double hashing. */
function hashes(key: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  // An odd step visits distinct bits; unsigned for the modulo.
  return [a >>> 0, (b | 1) >>> 0];
}
