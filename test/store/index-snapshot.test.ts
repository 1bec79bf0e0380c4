import { copyFile, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedFollower, EmbeddedStore, type ResponseRecord, type ResponseStore } from '../../src/store/index.js';
import { decodeIndexSnapshot, indexSnapshotParts, snapshotPath, writeIndexSnapshot } from '../../src/store/index-snapshot.js';
import { LogIndex } from '../../src/store/log-index.js';

const ISSUER = 'ab'.repeat(32);
const OTHER = 'cd'.repeat(32);
const T0 = Date.UTC(2030, 0, 1);

function rec(serial: string, i = 0, issuerId = ISSUER): ResponseRecord {
  return {
    issuerId,
    serial,
    der: Buffer.from(`response-${issuerId.slice(0, 2)}-${serial}-${i}`),
    thisUpdate: T0 + i,
    nextUpdate: T0 + i + 86_400_000,
    status: 'good',
  };
}

const serials = (n: number, from = 0) => Array.from({ length: n }, (_, i) => (from + i + 1).toString(16));

/** Every record the store answers for, as `serial:i` of its DER. */
function answers(store: ResponseStore, keys: Array<[issuerId: string, serial: string]>): string[] {
  return keys.map(([issuerId, serial]) => {
    const r = store.get(issuerId, serial);
    if (r === undefined || r instanceof Promise) return `${serial}:missing`;
    return Buffer.from(r.der).toString();
  });
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ocsp-index-snapshot-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('index checkpoint', () => {
  it('decodes to an index with the same keys and places, and refuses a damaged or cut copy', () => {
    const index = new LogIndex();
    serials(3000).forEach((s, i) =>
      index.apply({ issuerId: i % 3 ? ISSUER : OTHER, serial: s, thisUpdate: i, nextUpdate: i + 1 }, 8 + i * 100, 100),
    );
    const bytes = Buffer.concat(indexSnapshotParts(index, { ino: 1234, covered: 300_008 }));
    const back = decodeIndexSnapshot(bytes);
    expect(back?.cover).toEqual({ ino: 1234, covered: 300_008 });
    expect([...back!.index.slots()]).toEqual([...index.slots()]);
    for (const [issuerId, serial, slot] of index.slots()) {
      const other = back!.index.slotOf(issuerId, serial);
      expect(back!.index.place(other)).toEqual(index.place(slot));
      expect(back!.index.nextUpdateOf(other)).toBe(index.nextUpdateOf(slot));
    }
    // The decoded index keeps working as an index: new keys past its restored arrays.
    back!.index.apply({ issuerId: ISSUER, serial: 'feed', thisUpdate: 1, nextUpdate: 2 }, 999_999, 50);
    expect(back!.index.place(back!.index.slotOf(ISSUER, 'feed'))).toEqual({ at: 999_999, frameLength: 50 });
    expect(back!.index.size).toBe(3001);

    const flipped = Buffer.from(bytes);
    flipped[bytes.length >> 1]! ^= 1;
    expect(decodeIndexSnapshot(flipped)).toBeUndefined();
    expect(decodeIndexSnapshot(bytes.subarray(0, bytes.length - 100))).toBeUndefined();
    expect(decodeIndexSnapshot(Buffer.alloc(0))).toBeUndefined();
  });

  it('a writer leaves one on close; the next writer and a follower index only the frames after it', async () => {
    const path = join(dir, 'resume.log');
    const w = await EmbeddedStore.open({ path });
    expect(w.lastLoad).toEqual({ checkpointBytes: 0, scannedBytes: 0 });
    for (let i = 0; i < 5; i++) await w.put(serials(400, i * 400).map((s) => rec(s, i)));
    await w.put([rec('1', 9, OTHER)]);
    await w.close();
    const closedAt = (await stat(path)).size;
    const keys: Array<[string, string]> = [...serials(2000).map((s): [string, string] => [ISSUER, s]), [OTHER, '1']];
    const expected = keys.map(
      ([issuerId, s]) => `response-${issuerId.slice(0, 2)}-${s}-${issuerId === OTHER ? 9 : Math.floor((parseInt(s, 16) - 1) / 400)}`,
    );

    const again = await EmbeddedStore.open({ path });
    expect(again.lastLoad).toEqual({ checkpointBytes: closedAt, scannedBytes: 0 });
    expect(answers(again, keys)).toEqual(expected);
    // Appended after the checkpoint: a follower reads the checkpoint, then these frames.
    await again.put([rec('1', 20), rec('beef', 20)]);
    const follower = await EmbeddedFollower.open({ path, pollMs: 60_000 });
    expect(follower.lastLoad.checkpointBytes).toBe(closedAt);
    expect(follower.lastLoad.scannedBytes).toBe((await stat(path)).size - closedAt);
    expect(answers(follower, [[ISSUER, '1'], [ISSUER, 'beef'], ...keys.slice(1)])).toEqual([
      `response-ab-1-20`,
      `response-ab-beef-20`,
      ...expected.slice(1),
    ]);
    await follower.close();
    await again.close();
  });

  it('is not used for another file (a compaction renamed a new log into place) nor past the end of a cut log', async () => {
    const path = join(dir, 'foreign.log');
    const w = await EmbeddedStore.open({ path });
    for (let i = 0; i < 3; i++) await w.put(serials(300).map((s) => rec(s, i)));
    await w.close();
    await copyFile(snapshotPath(path), join(dir, 'old.index'));
    const c = await EmbeddedStore.open({ path });
    await c.put([rec('e0e0', 5)]);
    await c.compact();
    await c.close();
    await copyFile(join(dir, 'old.index'), snapshotPath(path)); // the checkpoint of the file before the compaction

    const keys = serials(300).map((s): [string, string] => [ISSUER, s]);
    const f = await EmbeddedFollower.open({ path, pollMs: 60_000 });
    expect(f.lastLoad.checkpointBytes).toBe(0);
    expect(answers(f, [...keys, [ISSUER, 'e0e0']])).toEqual([...serials(300).map((s) => `response-ab-${s}-2`), 'response-ab-e0e0-5']);
    await f.close();

    // The same file cut shorter than the checkpoint covers: read whole.
    const reopened = await EmbeddedStore.open({ path });
    await reopened.close();
    const size = (await stat(path)).size;
    await truncate(path, size - 10);
    const cut = await EmbeddedStore.open({ path });
    expect(cut.lastLoad.checkpointBytes).toBe(0);
    expect(cut.tornBytesDiscarded).toBeGreaterThan(0);
    expect(answers(cut, keys.slice(0, 3))).toEqual(serials(3).map((s) => `response-ab-${s}-2`));
    await cut.close();
  });

  it('a frame damaged under a checkpoint: the writer reads the log whole and cuts it there', async () => {
    const path = join(dir, 'damaged.log');
    const w = await EmbeddedStore.open({ path });
    for (let i = 0; i < 4; i++) await w.put(serials(250, i * 250).map((s) => rec(s)));
    await w.close();
    const bytes = await readFile(path);
    bytes[bytes.length >> 1]! ^= 0x40;
    await writeFile(path, bytes);
    const cut = await EmbeddedStore.open({ path });
    expect(cut.lastLoad.checkpointBytes).toBe(0);
    expect(cut.bytes).toBeLessThan(bytes.length / 2 + 1);
    expect(cut.get(ISSUER, serials(1)[0]!)).toBeDefined();
    expect(cut.get(ISSUER, serials(1, 999)[0]!)).toBeUndefined();
    await cut.close();
  });

  it('a follower never answers with another key’s frame, even where a checkpoint went unchecked', async () => {
    const path = join(dir, 'crossed.log');
    const w = await EmbeddedStore.open({ path });
    await w.put(serials(200).map((s) => rec(s)));
    await w.close();
    const f = await EmbeddedFollower.open({ path, pollMs: 60_000 });
    // A checkpoint of this very file whose slot for serial 2 points at serial 3's frame. With 200
    // keys the follower reads back every third slot (0, 3, 6, …) and the last: slot 1 is not among them.
    expect(Buffer.from(f.get(ISSUER, '2')!.der).toString()).toBe('response-ab-2-0');
    const index = new LogIndex();
    const honest = decodeIndexSnapshot(await readFile(snapshotPath(path)))!;
    for (const [issuerId, serial, slot] of honest.index.slots()) {
      const place = honest.index.place(serial === '2' ? honest.index.slotOf(issuerId, '3') : slot);
      index.apply({ issuerId, serial, thisUpdate: T0, nextUpdate: honest.index.nextUpdateOf(slot) }, place.at, place.frameLength);
    }
    await writeIndexSnapshot(path, index, honest.cover);
    await f.close();

    const crossed = await EmbeddedFollower.open({ path, pollMs: 60_000 });
    expect(crossed.lastLoad.checkpointBytes).toBe(honest.cover.covered);
    expect(() => crossed.get(ISSUER, '2')).toThrow(/not 2's/);
    expect(Buffer.from(crossed.get(ISSUER, '3')!.der).toString()).toBe('response-ab-3-0');
    await crossed.close();
  });
});
