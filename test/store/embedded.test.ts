import { spawn, type ChildProcess } from 'node:child_process';
import { appendFile, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EmbeddedFollower,
  EmbeddedStore,
  etagFor,
  openStore,
  WriterLockHeldError,
  type LockHolder,
  type ResponseRecord,
} from '../../src/store/index.js';
import { storeSource } from '../../src/responder/source.js';
import { transpileDir } from './transpile.js';
import { storeStats } from '../support/store-stats.js';

const ISSUER = 'ab'.repeat(32);
const OTHER = 'cd'.repeat(32);
const T0 = Date.UTC(2030, 0, 1);

function rec(serial: string, i = 0, issuerId = ISSUER, extra: Partial<ResponseRecord> = {}): ResponseRecord {
  return {
    issuerId,
    serial,
    der: Buffer.from(`response-${serial}-${i}`),
    thisUpdate: T0 + i,
    nextUpdate: T0 + i + 86_400_000,
    status: 'good',
    ...extra,
  };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ocsp-embedded-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('EmbeddedStore', { timeout: 30_000 }, () => {
  it('stores, returns and survives a reopen; serials are canonical; issuers are separate', async () => {
    const path = join(dir, 'basic.log');
    const s = await EmbeddedStore.open({ path });
    await s.put([rec('0A1b'), rec('ff', 0, OTHER, { status: 'revoked' })]);
    const got = s.get(ISSUER, 'a1b');
    expect(Buffer.from(got!.der).toString()).toBe('response-0A1b-0');
    expect(got?.etag).toBe(etagFor(Buffer.from('response-0A1b-0')));
    expect(s.get(OTHER, 'a1b')).toBeUndefined();
    expect(s.get(OTHER, 'ff')?.status).toBe('revoked');
    await s.close();
    const again = await EmbeddedStore.open({ path });
    expect(again.tornBytesDiscarded).toBe(0);
    expect(again.get(ISSUER, 'a1b')?.thisUpdate).toBe(T0);
    expect((await storeStats(again)).count).toBe(2);
    await again.close();
  });

  it('keeps the newer thisUpdate when an older response arrives late', async () => {
    const s = await EmbeddedStore.open({ path: join(dir, 'newest.log') });
    await s.put([rec('1', 5)]);
    await s.put([rec('1', 3)]);
    expect(s.get(ISSUER, '1')?.thisUpdate).toBe(T0 + 5);
    await s.put([rec('1', 9)]);
    expect(s.get(ISSUER, '1')?.thisUpdate).toBe(T0 + 9);
    await s.close();
  });

  it('rejects malformed records without writing anything', async () => {
    const s = await EmbeddedStore.open({ path: join(dir, 'bad.log') });
    await expect(s.put([rec('zz')])).rejects.toThrow(/hex/);
    await expect(s.put([rec('1', 0, 'short')])).rejects.toThrow(/issuerId/);
    await expect(s.put([rec('1', 0, ISSUER, { nextUpdate: T0 - 1 })])).rejects.toThrow(/validity/);
    expect((await storeStats(s)).count).toBe(0);
    expect(s.bytes).toBe(8);
    await s.close();
  });

  it('ignores and cuts off a torn or corrupt tail, then appends after it', async () => {
    const path = join(dir, 'torn.log');
    const s = await EmbeddedStore.open({ path });
    await s.put([rec('1'), rec('2')]);
    await s.close();
    const good = (await stat(path)).size;
    // A torn frame: a header that promises more bytes than follow.
    await appendFile(path, Buffer.from([0, 0, 1, 0, 1, 2, 3, 4, 9, 9, 9]));
    const s2 = await EmbeddedStore.open({ path });
    expect(s2.tornBytesDiscarded).toBe(11);
    expect((await stat(path)).size).toBe(good);
    await s2.put([rec('3')]);
    await s2.close();
    // A complete frame whose checksum is wrong (a bit flipped in the last record).
    const bytes = await readFile(path);
    bytes[bytes.length - 3]! ^= 0x40;
    await writeFile(path, bytes);
    const s3 = await EmbeddedStore.open({ path });
    expect(s3.get(ISSUER, '3')).toBeUndefined();
    expect(s3.get(ISSUER, '2')).toBeDefined();
    expect(s3.tornBytesDiscarded).toBeGreaterThan(0);
    await s3.close();
  });

  it('refuses a file that is not a response log', async () => {
    const path = join(dir, 'notalog');
    await writeFile(path, 'hello world, not a log');
    await expect(EmbeddedStore.open({ path })).rejects.toThrow(/not an ocsp-operator response log/);
  });

  it('group-commits concurrent puts and every one is durable', async () => {
    const path = join(dir, 'group.log');
    const s = await EmbeddedStore.open({ path });
    await Promise.all(Array.from({ length: 200 }, (_, i) => s.put([rec(i.toString(16), i)])));
    expect((await storeStats(s)).count).toBe(200);
    await s.close();
    const r = await EmbeddedStore.open({ path });
    expect((await storeStats(r)).count).toBe(200);
    await r.close();
  });

  it('compacts: drops superseded and long-expired responses, keeps the rest, file shrinks', async () => {
    const path = join(dir, 'compact.log');
    let now = T0;
    const s = await EmbeddedStore.open({ path, minCompactBytes: 1 << 30, expiredRetentionMs: 1000, now: () => now });
    for (let i = 0; i < 20; i++) await s.put(Array.from({ length: 10 }, (_, k) => rec(String(k + 1), i)));
    await s.put([rec('dead', 0, ISSUER, { nextUpdate: T0 + 10 })]);
    const before = s.bytes;
    now = T0 + 5000;
    await s.compact();
    expect(s.bytes).toBeLessThan(before / 10);
    expect(s.get(ISSUER, 'dead')).toBeUndefined();
    await s.put([rec('b', 50)]);
    await s.close();
    const r = await EmbeddedStore.open({ path });
    expect((await storeStats(r)).count).toBe(11);
    expect(r.get(ISSUER, '1')?.thisUpdate).toBe(T0 + 19);
    expect(r.get(ISSUER, 'b')?.thisUpdate).toBe(T0 + 50);
    await r.close();
  });

  it('reads responses back from the file: a frame damaged on disk is refused, not served from memory', async () => {
    const path = join(dir, 'readback.log');
    const s = await EmbeddedStore.open({ path });
    await s.put([rec('1'), rec('2')]);
    const f = await EmbeddedFollower.open({ path, pollMs: 60_000 });
    expect(Buffer.from(f.get(ISSUER, '1')!.der).toString()).toBe('response-1-0');
    // Flip one byte of the second response's DER (the file ends with it).
    const fh = await open(path, 'r+');
    const size = (await fh.stat()).size;
    await fh.write(Buffer.from('X'), 0, 1, size - 1);
    await fh.close();
    expect(() => s.get(ISSUER, '2')).toThrow(/checksum mismatch/);
    expect(() => f.get(ISSUER, '2')).toThrow(/checksum mismatch/);
    // The serving path turns that into "unavailable" (tryLater), never a wrong or missing answer.
    expect(storeSource(s).lookup(ISSUER, '2')).toBe('unavailable');
    expect(Buffer.from(s.get(ISSUER, '1')!.der).toString()).toBe('response-1-0');
    // Read twice (the second from the recent reads), then superseded: the newer one is served.
    expect(Buffer.from(f.get(ISSUER, '1')!.der).toString()).toBe('response-1-0');
    await s.put([rec('1', 1)]);
    await f.poll();
    expect(Buffer.from(s.get(ISSUER, '1')!.der).toString()).toBe('response-1-1');
    expect(Buffer.from(f.get(ISSUER, '1')!.der).toString()).toBe('response-1-1');
    await f.close();
    await s.close();
  });

  it('lists every response while a compaction replaces the file mid-way', async () => {
    const path = join(dir, 'list-compact.log');
    const s = await EmbeddedStore.open({ path, minCompactBytes: 1 << 30 });
    for (let i = 0; i < 3; i++) await s.put(Array.from({ length: 100 }, (_, k) => rec(String(k + 1), i)));
    const seen = new Map<string, string>();
    let compacted = false;
    for await (const e of s.entries()) {
      seen.set(e.serial, Buffer.from(e.der).toString());
      if (seen.size === 50 && !compacted) {
        const before = s.bytes;
        await s.compact();
        expect(s.bytes).toBeLessThan(before / 2);
        compacted = true;
      }
    }
    expect(compacted).toBe(true);
    expect(seen.size).toBe(100);
    for (let k = 1; k <= 100; k++) expect(seen.get(String(k))).toBe(`response-${k}-2`);
    await s.close();
  });

  it('opens a log larger than its read chunk (8 MiB): frames across chunk ends, one frame longer than a chunk, a torn tail, a corrupt frame mid-file', async () => {
    const path = join(dir, 'chunks.log');
    const s = await EmbeddedStore.open({ path });
    const der = Buffer.alloc(600, 7);
    const N = 20_000; // ~13 MiB of frames of an odd length: chunk ends fall inside frames
    for (let i = 0; i < N; i += 2_000)
      await s.put(
        Array.from({ length: 2_000 }, (_, j) =>
          rec((i + j).toString(16), 0, ISSUER, { der: Buffer.concat([der, Buffer.from(String(i + j))]) }),
        ),
      );
    await s.put([rec('b16', 0, OTHER, { der: Buffer.alloc(9 << 20, 1) })]); // longer than a chunk
    await s.put([rec('fffff', 0)]);
    await s.close();
    const good = (await stat(path)).size;
    await appendFile(path, Buffer.from([0, 0, 4, 0, 1, 2, 3, 4, 9, 9]));

    const reopened = await EmbeddedStore.open({ path });
    expect(reopened.tornBytesDiscarded).toBe(10);
    expect((await stat(path)).size).toBe(good);
    expect((await storeStats(reopened)).count).toBe(N + 2);
    expect(
      Buffer.from(reopened.get(ISSUER, (N - 1).toString(16))!.der)
        .subarray(600)
        .toString(),
    ).toBe(String(N - 1));
    expect(reopened.get(OTHER, 'b16')!.der.byteLength).toBe(9 << 20);
    await reopened.close();
    const follower = await EmbeddedFollower.open({ path, pollMs: 60_000 });
    expect((await storeStats(follower)).count).toBe(N + 2);
    await follower.close();

    // A flipped bit in a frame 10 MiB in: the valid log ends before it, and the writer cuts there.
    const bytes = await readFile(path);
    bytes[10 << 20]! ^= 0x40;
    await writeFile(path, bytes);
    const cut = await EmbeddedStore.open({ path });
    const kept = (await storeStats(cut)).count;
    expect(kept).toBeGreaterThan(10_000);
    expect(kept).toBeLessThan(N);
    expect(cut.get(ISSUER, 'fffff')).toBeUndefined();
    expect(cut.bytes).toBeLessThanOrEqual(10 << 20);
    await cut.close();
  });

  it('compacts on its own once garbage passes the threshold', async () => {
    const s = await EmbeddedStore.open({ path: join(dir, 'auto.log'), minCompactBytes: 4096, compactGarbageRatio: 0.5 });
    for (let i = 0; i < 200; i++) await s.put([rec('7', i)]);
    expect(s.bytes).toBeLessThan(4096 * 2 + 200);
    expect(s.get(ISSUER, '7')?.thisUpdate).toBe(T0 + 199);
    await s.close();
  });
});

describe('EmbeddedFollower', { timeout: 30_000 }, () => {
  it('tails the writer, survives its compaction and a torn tail, and reports lag', async () => {
    const path = join(dir, 'follow.log');
    const w = await EmbeddedStore.open({ path, minCompactBytes: 1 << 30 });
    await w.put([rec('1')]);
    let now = Date.now();
    const f = await EmbeddedFollower.open({ path, pollMs: 60_000, now: () => now });
    expect(f.get(ISSUER, '1')).toBeDefined();
    await w.put([rec('2'), rec('1', 7)]);
    await f.poll();
    expect(f.get(ISSUER, '2')).toBeDefined();
    expect(f.get(ISSUER, '1')?.thisUpdate).toBe(T0 + 7);
    expect((await f.lag()).lagMs).toBe(0);
    now += 5000;
    expect((await f.lag()).lagMs).toBe(5000);
    await w.compact();
    await w.put([rec('3')]);
    await f.poll();
    expect((await storeStats(f)).count).toBe(3);
    expect((await f.lag()).lagMs).toBe(0);
    await w.close();
    // A writer that died mid-frame: the follower waits; the restarted writer cuts and appends.
    await appendFile(path, Buffer.from([0, 0, 0, 50, 1, 2, 3, 4, 5]));
    await f.poll();
    expect((await storeStats(f)).count).toBe(3);
    const w2 = await EmbeddedStore.open({ path });
    await w2.put([rec('4', 0, ISSUER, { der: Buffer.alloc(300, 1) })]);
    await f.poll();
    expect(f.get(ISSUER, '4')?.der.byteLength).toBe(300);
    await expect(f.put([rec('5')])).rejects.toThrow(/read-only/);
    await w2.close();
    await rm(path);
    await f.poll();
    expect((await f.lag()).detached).toBe(true);
    await f.close();
  });
});

describe('openStore', () => {
  it('opens the writer and a follower of the same log from specs', async () => {
    const path = join(dir, 'spec.log');
    const w = await openStore({ kind: 'embedded', path });
    await w.put([rec('abc')]);
    const f = await openStore({ kind: 'embedded-follower', path, pollMs: 60_000 });
    expect(f).toBeInstanceOf(EmbeddedFollower);
    expect((await f.get(ISSUER, 'abc'))?.thisUpdate).toBe(T0);
    await f.close();
    await w.close();
  });
});

describe('kill -9 of the writer process', { timeout: 90_000 }, () => {
  let storeJs: string;
  beforeAll(async () => {
    storeJs = join(dir, 'store-js');
    await transpileDir(resolve('src/store'), storeJs);
  });

  async function runAndKill(path: string, start: number, minAcks: number): Promise<{ acked: Map<string, number>; opened: string }> {
    const child = spawn(process.execPath, [resolve('test/store/fixtures/writer-child.mjs'), storeJs, path, String(start), '16'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acked = new Map<string, number>();
    let opened = '';
    let buf = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`child made too little progress: ${acked.size} acks ${stderr}`)), 20_000);
      child.on('exit', () => rej(new Error(`child exited early: ${stderr}`)));
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        for (const l of lines) {
          const [kind, a, b] = l.split(' ');
          if (kind === 'OPEN') opened = a ?? '';
          if (kind === 'ACK') acked.set(a!, Math.max(acked.get(a!) ?? 0, Number(b)));
        }
        if (acked.size >= minAcks) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          // Killed while more puts are in flight: frames may be half-written.
          child.kill('SIGKILL');
          child.once('exit', () => res());
        }
      });
    });
    return { acked, opened };
  }

  it('loses no acknowledged response across five kills mid-write', async () => {
    const path = join(dir, 'killed.log');
    const all = new Map<string, number>();
    let start = 0;
    const torn: string[] = [];
    for (let round = 0; round < 5; round++) {
      const { acked, opened } = await runAndKill(path, start, 400 + round * 100);
      torn.push(opened);
      for (const [k, v] of acked) all.set(k, Math.max(all.get(k) ?? 0, v));
      const s = await EmbeddedStore.open({ path });
      for (const [serial, thisUpdate] of all) {
        const got = s.get(ISSUER, serial);
        expect(got, `serial ${serial} after round ${round}`).toBeDefined();
        // What is stored is at least as new as the newest acknowledged write.
        expect(got!.thisUpdate).toBeGreaterThanOrEqual(thisUpdate);
      }
      await s.close();
      start += 100_000;
    }
    expect(all.size).toBeGreaterThan(1500);
    // kill -9 cannot tear a single write(2) (the page cache has it whole or not at all), so torn
    // tails come from power loss; the torn-tail test above covers those. Logged for the record.
    console.log(`torn bytes each child found at open: ${torn.join(', ')}`);
  });
});

describe('one writer per log (flock on <log>.lock)', { timeout: 60_000 }, () => {
  let storeJs: string;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    storeJs = join(dir, 'store-js-lock');
    await transpileDir(resolve('src/store'), storeJs);
  });
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  /** A writer in another process (appending flat out), once it has opened the log. */
  async function startWriter(path: string, env: Record<string, string>): Promise<{ child: ChildProcess; acked: Map<string, number> }> {
    const child = spawn(process.execPath, [resolve('test/store/fixtures/writer-child.mjs'), storeJs, path, '0', '16'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    children.push(child);
    const acked = new Map<string, number>();
    let buf = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`writer did not open the log: ${stderr}`)), 20_000);
      child.once('exit', () => rej(new Error(`writer exited early: ${stderr}`)));
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        for (const l of lines) {
          const [kind, a, b] = l.split(' ');
          if (kind === 'OPEN') {
            clearTimeout(timer);
            res();
          }
          if (kind === 'ACK') acked.set(a!, Math.max(acked.get(a!) ?? 0, Number(b)));
        }
      });
    });
    return { child, acked };
  }

  it('a second writer in this process is refused at once, naming the holder; close lets the next in', async () => {
    const path = join(dir, 'locked-here.log');
    const first = await EmbeddedStore.open({ path });
    const started = Date.now();
    const err = await EmbeddedStore.open({ path }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WriterLockHeldError);
    expect((err as Error).message).toContain(`${path}.lock is held by another writer (host ${hostname()}, pid ${process.pid}, since `);
    expect(Date.now() - started).toBeLessThan(1000);
    // A follower takes no lock.
    const follower = await EmbeddedFollower.open({ path, pollMs: 60_000 });
    await follower.close();
    await first.close();
    const next = await EmbeddedStore.open({ path });
    const holder = JSON.parse(await readFile(`${path}.lock`, 'utf8')) as LockHolder;
    expect(holder).toMatchObject({ host: hostname(), pid: process.pid });
    expect(Date.parse(holder.since)).toBeGreaterThanOrEqual(started);
    await next.close();
  });

  it('another process holds it: fails fast with lockWaitMs 0, after the bound with a wait; a waiter takes over from a SIGKILLed holder', async () => {
    const path = join(dir, 'locked-there.log');
    const { child, acked } = await startWriter(path, { POD_NAME: 'signer-7' });
    const named = new RegExp(`\\(pod signer-7, host [^,]+, pid ${child.pid}, since [0-9T:.-]+Z\\)`);

    let started = Date.now();
    await expect(EmbeddedStore.open({ path, lockWaitMs: 0 })).rejects.toThrow(named);
    expect(Date.now() - started).toBeLessThan(1000);

    const waits: string[] = [];
    started = Date.now();
    await expect(EmbeddedStore.open({ path, lockWaitMs: 400, onLockWait: (h) => waits.push(h) })).rejects.toThrow(
      /still after waiting 400 ms/,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(waits).toHaveLength(1);
    expect(waits[0]).toMatch(/^pod signer-7, host [^,]+, pid \d+/);

    // The holder is killed while this one waits: the kernel drops its lock and the waiter opens.
    let killedAt = 0;
    const exited = new Promise((r) => child.once('exit', r));
    const s = await EmbeddedStore.open({
      path,
      lockWaitMs: 20_000,
      onLockWait: () => {
        killedAt = Date.now();
        child.kill('SIGKILL');
      },
    });
    const takeoverMs = Date.now() - killedAt;
    await exited;
    try {
      expect(killedAt).toBeGreaterThan(0);
      expect(takeoverMs).toBeLessThan(5000);
      expect(acked.size).toBeGreaterThan(0);
      for (const [serial, thisUpdate] of acked)
        expect(s.get(ISSUER, serial)?.thisUpdate, `serial ${serial}`).toBeGreaterThanOrEqual(thisUpdate);
      // and appends after what the killed writer left.
      await s.put([rec('abcdef', 1)]);
      expect(s.get(ISSUER, 'abcdef')).toBeDefined();
    } finally {
      await s.close();
    }
    console.log(`takeover after SIGKILL of the holder: ${takeoverMs} ms (poll 200 ms); ${acked.size} acknowledged serials intact`);
  });
});
