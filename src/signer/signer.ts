// The signing loop: plan -> sign in parallel -> store in batches, round after round.
//
// Parallelism is bounded by `concurrency` (the signer's session count): that many workers pull
// from the planned list, so the token always has work while the main thread only encodes
// (response-encoder.ts, a few µs) and starts operations. Never one at a time: a serial signer is
// what let a large CA's responses expire. Store writes overlap signing (at most `maxPutsInFlight`
// batches in flight, which is also the back-pressure when the store is slower than the HSM).
import type { X509Certificate } from '@peculiar/x509';
import type { Logger } from 'pino';
import pino from 'pino';
import type { Registry } from 'prom-client';
import { issuerHashes, type ResponseEntryStatus } from '../ocsp/index.js';
import type { HashAlgorithm } from '../ocsp/oids.js';
import { systemClock, type Clock } from '../base/clock.js';
import { issuerIdFromKeyHash, type ResponseRecord, type ResponseStore } from '../store/index.js';
import { lintResponderCert, type SigningIdentity } from './delegated-responder.js';
import { SignerMetrics } from './metrics.js';
import type { CertificateInfo } from '../ca-db/index-txt.js';
import { createPlanner, type Backlog, type ResponseInfo, type Shard, type WorkItem, type WorkReason } from './planner.js';
import { ResponseEncoder } from '../ocsp/response-encoder.js';
import { loadResponses, SignerIdentityReader, signerSerialOf } from './store-view.js';

export interface ResponseSignerOptions {
  /** the CA whose certificates are answered for */
  issuer: X509Certificate;
  /** the key (and delegated certificate) to sign with, or a function asked at the start of each round (rotation) */
  identity: SigningIdentity | ((now: Date) => SigningIdentity | Promise<SigningIdentity>);
  /**
   * The certificates of the issuer, read at the start of each round. Returning the very same
   * array as last time says nothing changed: a round with nothing due then skips the planner
   * (its cost no longer grows with the CA's size).
   */
  certificates: () => readonly CertificateInfo[] | Promise<readonly CertificateInfo[]>;
  store: ResponseStore;
  responseValidityMs: number;
  refreshAgeMs: number;
  /** signatures in flight: the PKCS#11 session count (default 4) */
  concurrency?: number;
  /** records per store.put (default 256) */
  batchSize?: number;
  maxPutsInFlight?: number;
  /** at most this many signatures per round (default: all that are due) */
  maxPerRound?: number;
  /** thisUpdate = now - backdate, for clients whose clocks are behind (default 0) */
  backdateMs?: number;
  certIdHash?: HashAlgorithm;
  responderIdBy?: 'name' | 'keyHash';
  /** re-read the whole store this often, to see responses other signers wrote (default 5 min) */
  rescanEveryMs?: number;
  /**
   * This signer's share of the serials: fixed, or asked at the start of each round and before
   * each signature (a StatefulSet's replica count learned at run time, shard-source.ts). When it
   * changes, the round ends early and the next one re-reads the store, so responses the previous
   * owners of the new share wrote are seen rather than signed again.
   */
  shard?: Shard | (() => Shard);
  clock?: Clock;
  registry?: Registry;
  logger?: Logger;
}

export interface RoundResult {
  planned: number;
  signed: number;
  failed: number;
  byReason: Record<WorkReason, number>;
  /** from the first signature started to the last record durable */
  durationMs: number;
  /** signatures per second over durationMs */
  rate: number;
  before: Backlog;
  after: Backlog;
  /** Up to ten certificates this round found without any response (signed or not). */
  newSerials: string[];
  /** the share this round planned with (undefined: every serial) */
  shard?: Shard;
  /** the share changed during the round, which ended early: the next round starts at once */
  shareChanged: boolean;
  /** certificates the planner went through: 0 when nothing changed and nothing was due */
  evaluated: number;
}

/**
 * What the last plan was made from, and what of it is left: while the certificates, the store
 * view, the share and the signer are the same, the next round signs the next slice of `work`
 * without planning again (a backlog of a million costs one plan, not one per --max-per-round), and
 * once nothing is left, a round before `backlog.nextChangeAt` has nothing to plan at all.
 */
interface Plan {
  certs: readonly CertificateInfo[];
  view: Map<string, ResponseInfo>;
  share: string;
  signerSerial: string | undefined;
  /** the backlog at `at`, after the round that made or last took from this plan */
  backlog: Backlog;
  at: number;
  /** the whole planned list, most urgent first, and where the next round starts in it */
  work: readonly WorkItem[];
  next: number;
}

/** A backlog `ms` later with nothing signed: only the oldest response is older. */
function aged(b: Backlog, ms: number): Backlog {
  return b.oldestAgeMs === undefined ? b : { ...b, oldestAgeMs: b.oldestAgeMs + ms };
}

/**
 * The backlog after a round that signed `signed` of a plan made at `planAt`, without looking at
 * every response: each signature takes one certificate off the counts of its reason. Undefined
 * when the oldest response was re-signed (which one is oldest now is not known without a look).
 */
function afterSigning(
  before: Backlog,
  planAt: number,
  signed: Record<WorkReason, number>,
  work: readonly WorkItem[],
  view: ReadonlyMap<string, ResponseInfo>,
  at: number,
): Backlog | undefined {
  let oldest = before.oldestAgeMs === undefined ? undefined : { serial: before.oldestSerial, thisUpdate: planAt - before.oldestAgeMs };
  if (oldest?.serial !== undefined && (view.get(oldest.serial)?.thisUpdate ?? -Infinity) > oldest.thisUpdate) return undefined;
  // What this round signed may now be the oldest (the first responses of a fill).
  for (const w of work) {
    const r = view.get(w.serial);
    if (r && (oldest === undefined || r.thisUpdate < oldest.thisUpdate)) oldest = { serial: w.serial, thisUpdate: r.thisUpdate };
  }
  const total = REASONS.reduce((n, r) => n + signed[r], 0);
  return {
    ...before,
    due: before.due - total,
    missing: Math.max(0, before.missing - signed.new),
    status: before.status - signed.status,
    refresh: before.refresh - signed.refresh,
    signer: before.signer - signed.signer,
    oldestAgeMs: oldest === undefined ? undefined : at - oldest.thisUpdate,
    oldestSerial: oldest?.serial,
  };
}

/** The longest stretch of signing without letting the event loop's I/O run. */
const YIELD_EVERY_MS = 20;

const shareKey = (s: Shard | undefined): string => (s ? `${s.index}/${s.count}` : 'all');

const REASONS: readonly WorkReason[] = ['status', 'new', 'refresh', 'signer'];

export class ResponseSigner {
  readonly issuerId: string;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly metrics: SignerMetrics | undefined;
  private readonly ids: SignerIdentityReader;
  private view: Map<string, ResponseInfo> | undefined;
  private lastScan = -Infinity;
  private encoder: { key: string; enc: ResponseEncoder } | undefined;
  private lastCerts: readonly CertificateInfo[] = [];
  private lastSignerSerial: string | undefined;
  private lastShard: Shard | undefined;
  private plan: Plan | undefined;
  private signed = 0;
  /** Set when run()'s signal aborts: the round in progress stops taking new work. */
  private stopping = false;

  constructor(private readonly o: ResponseSignerOptions) {
    this.issuerId = issuerIdFromKeyHash(issuerHashes(o.issuer, 'SHA-256').keyHash);
    this.clock = o.clock ?? systemClock;
    this.log = o.logger ?? pino({ level: 'silent' });
    this.metrics = o.registry ? new SignerMetrics(o.registry) : undefined;
    this.ids = new SignerIdentityReader(o.issuer.notAfter.getTime());
    if (o.refreshAgeMs >= o.responseValidityMs) throw new Error('refreshAge must be shorter than responseValidity');
  }

  /** The backlog as of the last round's certificates and the current view of the store. */
  backlog(now = this.clock.now()): Backlog {
    return createPlanner(this.lastCerts, this.view ?? new Map(), this.policy(this.lastSignerSerial, this.lastShard)).backlog(now);
  }

  /** Signatures this signer made and stored since it was created. */
  get signedTotal(): number {
    return this.signed;
  }

  private shardNow(): Shard | undefined {
    return typeof this.o.shard === 'function' ? this.o.shard() : this.o.shard;
  }

  /** One round: plan what is due now, sign it all, store it. */
  async runOnce(): Promise<RoundResult> {
    const now = this.clock.now();
    const identity = await this.identityAt(now);
    const signerSerial = identity.responderCert ? signerSerialOf(identity.responderCert) : undefined;
    this.lastSignerSerial = signerSerial;
    const enc = this.encoderFor(identity, signerSerial);
    this.lastCerts = await this.o.certificates();
    const shard = this.shardNow();
    const share = shareKey(shard);
    if (this.lastShard !== undefined && shareKey(this.lastShard) !== share) {
      // Serials new to this signer were someone else's until now: what they stored is in the
      // store, not in this view.
      this.log.info({ from: shareKey(this.lastShard), to: share }, 'share changed; re-reading the store');
      this.view = undefined;
    }
    this.lastShard = shard;
    // A share that owns nothing (a pod being scaled away) needs no view of the store.
    const owns = !shard || shard.index < shard.count;
    if (owns && (!this.view || now - this.lastScan >= (this.o.rescanEveryMs ?? 300_000))) {
      this.view = await loadResponses(this.o.store, this.issuerId, this.ids);
      this.lastScan = now;
    }
    const view = this.view ?? new Map<string, ResponseInfo>();
    const kept = this.keptPlan(view, share, signerSerial);
    if (kept && kept.next >= kept.work.length && now < kept.backlog.nextChangeAt) {
      const quiet = aged(kept.backlog, now - kept.at);
      this.metrics?.setBacklog(quiet);
      this.metrics?.roundDuration.observe(0);
      return {
        planned: 0,
        signed: 0,
        failed: 0,
        byReason: { status: 0, new: 0, refresh: 0, signer: 0 },
        durationMs: 0,
        rate: 0,
        before: quiet,
        after: quiet,
        newSerials: [],
        ...(shard ? { shard } : {}),
        shareChanged: false,
        evaluated: 0,
      };
    }
    this.plan = undefined;
    let planned: readonly WorkItem[];
    let before: Backlog;
    let from: number;
    if (kept && kept.next < kept.work.length) {
      ({ work: planned, next: from } = kept);
      before = aged(kept.backlog, now - kept.at);
    } else {
      ({ work: planned, backlog: before } = createPlanner(this.lastCerts, view, this.policy(signerSerial, shard)).evaluate(now));
      from = 0;
    }
    const evaluated = planned === kept?.work ? 0 : this.lastCerts.length;
    const work = planned.slice(from, from + (this.o.maxPerRound ?? Infinity));
    this.metrics?.setBacklog(before);

    const byReason: Record<WorkReason, number> = { status: 0, new: 0, refresh: 0, signer: 0 };
    let failed = 0;
    const started = performance.now();
    const responderNotAfter = identity.responderCert?.notAfter.getTime() ?? Infinity;
    const batchSize = this.o.batchSize ?? 256;
    const maxPuts = this.o.maxPutsInFlight ?? 2;
    const puts = new Set<Promise<void>>();
    let batch: { rec: ResponseRecord; item: WorkItem }[] = [];

    const flush = (): Promise<void> | undefined => {
      if (batch.length === 0) return undefined;
      const b = batch;
      batch = [];
      const t0 = performance.now();
      const p: Promise<void> = this.o.store.put(b.map((x) => x.rec)).then(
        () => {
          this.metrics?.batchLatency.observe((performance.now() - t0) / 1000);
          for (const { rec, item } of b) {
            view.set(rec.serial, {
              serial: rec.serial,
              thisUpdate: rec.thisUpdate,
              nextUpdate: rec.nextUpdate,
              status: rec.status,
              signerNotAfter: responderNotAfter === Infinity ? this.o.issuer.notAfter.getTime() : responderNotAfter,
              ...(signerSerial !== undefined ? { signerSerial } : {}),
            });
            byReason[item.reason]++;
          }
          this.signed += b.length;
          for (const { rec, item } of b) {
            this.metrics?.signed(item.reason);
            // revocations (and lifted ones) are named once they are durable, i.e. servable
            if (item.reason === 'status')
              this.log.info({ serial: item.serial, status: rec.status, revoked: item.revoked }, 'signed status change');
          }
        },
        (e: unknown) => {
          failed += b.length;
          for (const { item } of b) this.metrics?.errors.inc({ reason: item.reason });
          this.log.error(
            { err: e, serials: b.slice(0, 20).map((x) => x.item.serial), count: b.length },
            'store put failed; these responses will be signed again next round',
          );
        },
      );
      puts.add(p);
      void p.finally(() => puts.delete(p));
      return p;
    };

    let next = 0;
    let shareChanged = false;
    let lastYield = performance.now();
    const worker = async (): Promise<void> => {
      while (next < work.length) {
        // Asked to stop (SIGTERM: a pod deleted, a node drained): finish what is in flight and
        // store it, sign nothing more; the next signer on this store picks up the rest.
        if (this.stopping) break;
        // Not one signature past a share change: another signer may own the rest of this list now.
        if (shareChanged || (typeof this.o.shard === 'function' && shareKey(this.shardNow()) !== share)) {
          if (!shareChanged)
            this.log.info(
              { from: share, to: shareKey(this.shardNow()), left: work.length - next },
              'share changed during the round; ending it',
            );
          shareChanged = true;
          break;
        }
        const item = work[next++]!;
        try {
          const rec = await this.signOne(item, enc, responderNotAfter, identity);
          batch.push({ rec, item });
        } catch (e) {
          // A dead HSM fails every item: name the first few, then only count (the round log sums up).
          if (++failed <= 20) this.log.warn({ err: e, serial: item.serial, reason: item.reason }, 'signing failed');
          this.metrics?.errors.inc({ reason: item.reason });
        }
        if (batch.length >= batchSize) {
          void flush(); // tracked in `puts`, awaited below
          // back-pressure: never more than maxPuts batches waiting on the store
          while (puts.size > maxPuts) await Promise.race(puts);
        }
        // A synchronous signer (a software key) never returns to the event loop by itself, and
        // awaiting it only runs microtasks: let I/O in every few ms, or the watch that moves shares,
        // the store's replies (their timeouts) and the health probes all wait for the round's end.
        if (performance.now() - lastYield >= YIELD_EVERY_MS) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          lastYield = performance.now();
        }
      }
    };
    // Two workers per session: while one waits for its signature, the other has its next response
    // encoded and queued for the session, so a session never idles while the main thread encodes.
    await Promise.all(Array.from({ length: Math.max(1, Math.min(2 * (this.o.concurrency ?? 4), work.length)) }, worker));
    void flush(); // tracked in `puts`
    await Promise.all(puts);

    const durationMs = performance.now() - started;
    const signed = REASONS.reduce((n, r) => n + byReason[r], 0);
    const rate = signed > 0 ? signed / (durationMs / 1000) : 0;
    if (signed > 0) this.metrics?.rate.set(rate);
    this.metrics?.roundDuration.observe(durationMs / 1000);
    const afterAt = this.clock.now();
    const taken = from + work.length;
    // Work left in the plan: the backlog follows from what was signed, unless the oldest response
    // was among it (then only a look at every response says which is oldest now).
    const cheap =
      taken < planned.length && !shareChanged && !this.stopping ? afterSigning(before, now, byReason, work, view, afterAt) : undefined;
    const after = cheap ?? createPlanner(this.lastCerts, view, this.policy(signerSerial, shard)).backlog(afterAt);
    this.metrics?.setBacklog(after);
    if (!shareChanged && !this.stopping && (taken < planned.length || after.due === 0))
      this.plan = { certs: this.lastCerts, view, share, signerSerial, backlog: after, at: afterAt, work: planned, next: taken };
    if (work.length > 0 || failed > 0) {
      this.log.info(
        {
          planned: work.length,
          signed,
          failed,
          byReason,
          rate: Math.round(rate),
          durationMs: Math.round(durationMs),
          backlog: after.due,
          newSerials: work
            .filter((w) => w.reason === 'new')
            .slice(0, 10)
            .map((w) => w.serial),
        },
        'signing round',
      );
    }
    const newSerials = work
      .filter((w) => w.reason === 'new')
      .slice(0, 10)
      .map((w) => w.serial);
    return {
      planned: work.length,
      signed,
      failed,
      byReason,
      durationMs,
      rate,
      before,
      after,
      newSerials,
      ...(shard ? { shard } : {}),
      shareChanged,
      evaluated,
    };
  }

  /** The last plan, if it was made from the same certificates, store view, share and signer. */
  private keptPlan(view: Map<string, ResponseInfo>, share: string, signerSerial: string | undefined): Plan | undefined {
    const p = this.plan;
    return p && p.certs === this.lastCerts && p.view === view && p.share === share && p.signerSerial === signerSerial ? p : undefined;
  }

  /**
   * Rounds until `signal` aborts: a round, then a pause of `intervalMs` (by the clock), or
   * `errorBackoffMs` after a round that failed outright (HSM or store down).
   */
  async run(o: {
    intervalMs: number;
    errorBackoffMs?: number;
    signal?: AbortSignal;
    onRound?: (r: RoundResult | Error) => void;
  }): Promise<void> {
    o.signal?.addEventListener('abort', () => (this.stopping = true), { once: true });
    while (!o.signal?.aborted) {
      let pause = o.intervalMs;
      try {
        const r = await this.runOnce();
        o.onRound?.(r);
        // More due than one round takes: go again at once. Nothing signed but failures: back off.
        if (r.shareChanged || (this.o.maxPerRound !== undefined && r.planned >= this.o.maxPerRound && r.failed === 0)) pause = 0;
        else if (r.failed > 0 && r.signed === 0) pause = o.errorBackoffMs ?? Math.max(o.intervalMs, 5_000);
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        this.log.error({ err }, 'signing round failed');
        o.onRound?.(err);
        pause = o.errorBackoffMs ?? Math.max(o.intervalMs, 5_000);
      }
      await this.sleep(pause, o.signal);
    }
  }

  private sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const onAbort = () => {
        t.cancel();
        resolve();
      };
      const t = this.clock.setTimer(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private policy(signerSerial: string | undefined, shard: Shard | undefined) {
    return {
      refreshAgeMs: this.o.refreshAgeMs,
      responseValidityMs: this.o.responseValidityMs,
      currentSignerSerial: signerSerial,
      ...(shard ? { shard } : {}),
    };
  }

  private async identityAt(now: number): Promise<SigningIdentity> {
    const id = typeof this.o.identity === 'function' ? await this.o.identity(new Date(now)) : this.o.identity;
    if (id.responderCert) {
      // Never sign under a responder certificate clients would reject.
      const problems = lintResponderCert(id.responderCert, this.o.issuer, new Date(now));
      if (problems.length) throw new Error(`delegated responder certificate unusable: ${problems.map((p) => p.message).join('; ')}`);
    }
    return id;
  }

  private encoderFor(id: SigningIdentity, signerSerial: string | undefined): ResponseEncoder {
    const key = `${signerSerial ?? 'issuer'}/${id.signer.algorithm}`;
    if (this.encoder?.key !== key) {
      if (this.encoder)
        this.log.info(
          { signer: signerSerial ?? 'issuer', previous: this.encoder.key },
          'signing identity changed; responses of the previous signer will be re-signed',
        );
      if (id.responderCert) this.ids.remember(id.responderCert);
      this.encoder = {
        key,
        enc: new ResponseEncoder({
          issuer: this.o.issuer,
          algorithm: id.signer.algorithm,
          ...(id.responderCert ? { responderCert: id.responderCert } : {}),
          ...(this.o.responderIdBy ? { responderIdBy: this.o.responderIdBy } : {}),
          ...(this.o.certIdHash ? { certIdHash: this.o.certIdHash } : {}),
        }),
      };
    }
    return this.encoder.enc;
  }

  private async signOne(item: WorkItem, enc: ResponseEncoder, responderNotAfter: number, id: SigningIdentity): Promise<ResponseRecord> {
    const now = this.clock.now();
    const thisUpdate = now - (this.o.backdateMs ?? 0);
    // A response must not outlive the certificate that signed it (rotation re-signs before then).
    const nextUpdate = Math.min(thisUpdate + this.o.responseValidityMs, responderNotAfter);
    const status: ResponseEntryStatus = item.revoked
      ? {
          kind: 'revoked',
          revocationTime: new Date(item.revoked.time),
          ...(item.revoked.reason !== undefined ? { reason: item.revoked.reason } : {}),
        }
      : { kind: 'good' };
    const tbs = enc.tbs({ serial: item.serial, status, thisUpdate, nextUpdate, producedAt: now });
    const der = enc.wrap(tbs, await id.signer.sign(tbs));
    // The store keeps whole-second times, as the response carries them.
    const sec = (t: number) => Math.floor(t / 1000) * 1000;
    return {
      issuerId: this.issuerId,
      serial: item.serial,
      der,
      thisUpdate: sec(thisUpdate),
      nextUpdate: sec(nextUpdate),
      status: item.revoked ? 'revoked' : 'good',
    };
  }
}
