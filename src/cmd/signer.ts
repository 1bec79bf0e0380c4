// `ocsp-operator signer`: pre-signs OCSP responses for every unexpired certificate of its sources
// (an OpenSSL CA database, a PostgreSQL table) into the response store, round after round (or once
// with --once).
import { readFile } from 'node:fs/promises';
import { createPrivateKey } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { z } from 'zod';
import type { Logger } from 'pino';
import { registerDefaultMetrics } from '../runtime/default-metrics.js';
import { parseDuration } from '../api/duration.js';
import { parsePemChain, softwareSigner, type OcspSigner } from '../ocsp/index.js';
import { createLogger } from '../runtime/logger.js';
import { startHealthServer } from '../runtime/health-server.js';
import { EmbeddedStore, RedisWriter, redisOptionsFromUrl, redisPasswordFromEnv, type ResponseStore } from '../store/index.js';
import { lintResponderCert, ResponderRotator, type SigningIdentity } from '../signer/delegated-responder.js';
import { openPkcs11Signer } from '../signer/pkcs11-signer.js';
import { podName, startReportLoop } from '../report/loop.js';
import type { SignerReport } from '../report/protocol.js';
import { ResponseSigner, type RoundResult } from '../signer/signer.js';
import type { Shard } from '../signer/planner.js';
import { StatefulSetShare } from '../signer/shard-source.js';
import { KubeClient } from '../kube/client.js';
import { loadClusterAccess } from '../kube/cluster-access.js';
import { applyDeclaredRevocations, parseIndexTxt, type CertificateInfo, type IndexRevocation } from '../ca-db/index-txt.js';
import { PostgresCertificateReader, type PostgresColumns, type PostgresRowSource } from '../ca-db/postgres.js';
import { mergeCertificates, PostgresSource, SourceUnusableError } from '../signer/postgres-source.js';
import { SameInputs } from '../signer/same-inputs.js';
import { ensureThreadpool, threadpoolSizeFor } from '../signer/threadpool.js';
import { helpRequested } from './flags.js';

export const signerUsage = `  signer       pre-sign OCSP responses for an issuer's certificates into the response store
               certificates, one or both of:
               --index PATH                 OpenSSL CA database (index.txt) listing the certificates
               --postgres-url-env NAME      a PostgreSQL database (its URL in this environment variable,
                                            postgres://user:password@host:port/db), read each round in
                                            pages; a table serial, not_after, revoked_at, reason (README)
                 --postgres-table [SCHEMA.]T   (default certificates)
                 --postgres-columns serial=C,notAfter=C,revokedAt=C,reason=C   other column names
                 --postgres-query SQL       instead of a table: a SELECT returning those four columns
                 --postgres-page-size N     rows per page (default 5000)
                 --postgres-changed-at COLUMN  a timestamptz set on every insert and update: reads
                                            after the first ask only for rows changed since the last
                 --postgres-full-read-every DURATION  with it, a full read still this often (default 10m)
                 --postgres-max-lag DURATION  refuse a read (sign nothing) from a replica lagging more
                                            (default 30s)
                 --postgres-name TEXT       the source in messages and metrics (default postgres)
               --revocations PATH           declared revocations laid over every source, JSON
                                            [{"serial":HEX,"time":EPOCH_MS,"reason":NAME}] (the pool's
                                            spec.revocations); a missing file declares none
               --ca-cert PATH               the issuer certificate (PEM; the first certificate is used)
               key, one of:
               --pkcs11-module PATH         (default /usr/lib/softhsm/libsofthsm2.so)
                 --token-label L --key-label K
                 --pin-env NAME | --pin-file PATH   (default: env OCSP_SIGNER_PIN)
               --key-file PATH              a software key (PKCS#8/SEC1/PKCS#1 PEM)
               --sessions N                 concurrent signatures / PKCS#11 sessions (default 4);
                                            UV_THREADPOOL_SIZE is set from it (the command re-executes
                                            itself when the variable is smaller)
               delegated responder (optional):
               --responder-cert PATH [--responder-key PATH]  sign with this responder certificate; without
                                            --responder-key its key is the signing key above (an HSM key)
               --issue-responder            issue one from the CA key; --responder-validity (720h),
                                            --responder-renew-before (168h)
               store, one of:
               --store-dir DIR              embedded store (DIR/responses.log)
                 --store-lock-wait DURATION   wait this long for another writer of DIR to stop
                                            (default 30s), then fail naming it
               --redis-url redis://HOST:PORT[/DB]
                 --redis-password-env NAME  the password from this environment variable (when the URL has none)
               --validity DURATION          response validity (default 168h)
               --refresh-age DURATION       re-sign responses this old (default 72h)
               --interval DURATION          pause between rounds (default 10s)
               --max-per-round N            signatures per round (default 10000): rounds stay short,
                                            so a new revocation waits at most one short round
               --shard I/N                  sign only this signer's share of the serials
               --shard-from-statefulset NAME  the share of this pod of StatefulSet NAME, learned at run
                                            time: its ordinal (from POD_NAME) of the StatefulSet's
                                            spec.replicas, watched (needs get and watch on it);
                                            an ordinal at or past the replicas signs nothing
               --report-pool NAME           write backlog, rate and ages to the pool's report
                                            ConfigMap after each round (needs POD_NAME, POD_NAMESPACE)
               --once                       one round, then exit (non-zero if anything failed)
               --metrics-addr HOST:PORT     /metrics, /healthz, /readyz (default: none)
               --log-level LEVEL            (default info)
`;

export async function run(argv: string[]): Promise<number> {
  if (helpRequested(argv, 'signer', signerUsage)) return 0;
  const { values: v } = parseArgs({
    args: argv,
    options: {
      index: { type: 'string' },
      'postgres-url-env': { type: 'string' },
      'postgres-table': { type: 'string' },
      'postgres-columns': { type: 'string' },
      'postgres-query': { type: 'string' },
      'postgres-page-size': { type: 'string', default: '5000' },
      'postgres-changed-at': { type: 'string' },
      'postgres-full-read-every': { type: 'string', default: '10m' },
      'postgres-max-lag': { type: 'string', default: '30s' },
      'postgres-name': { type: 'string', default: 'postgres' },
      revocations: { type: 'string' },
      'ca-cert': { type: 'string' },
      'pkcs11-module': { type: 'string', default: '/usr/lib/softhsm/libsofthsm2.so' },
      'token-label': { type: 'string' },
      'key-label': { type: 'string' },
      'pin-env': { type: 'string', default: 'OCSP_SIGNER_PIN' },
      'pin-file': { type: 'string' },
      'key-file': { type: 'string' },
      sessions: { type: 'string', default: '4' },
      'responder-cert': { type: 'string' },
      'responder-key': { type: 'string' },
      'issue-responder': { type: 'boolean', default: false },
      'responder-validity': { type: 'string', default: '720h' },
      'responder-renew-before': { type: 'string', default: '168h' },
      'store-dir': { type: 'string' },
      'store-lock-wait': { type: 'string', default: '30s' },
      'redis-url': { type: 'string' },
      validity: { type: 'string', default: '168h' },
      'refresh-age': { type: 'string', default: '72h' },
      interval: { type: 'string', default: '10s' },
      'max-per-round': { type: 'string', default: '10000' },
      shard: { type: 'string' },
      'shard-from-statefulset': { type: 'string' },
      'report-pool': { type: 'string' },
      'redis-password-env': { type: 'string' },
      once: { type: 'boolean', default: false },
      'metrics-addr': { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
    },
    strict: true,
  });
  const need = (name: keyof typeof v): string => {
    const x = v[name];
    if (typeof x !== 'string' || x === '') throw new Error(`signer: --${name} is required`);
    return x;
  };
  const sessions = Number(v.sessions);
  if (!Number.isInteger(sessions) || sessions < 1 || sessions > 256)
    throw new Error(`--sessions must be an integer 1..256, got ${JSON.stringify(v.sessions)}`);
  // Before anything else: a threadpool smaller than the session count would serialise signing.
  const child = ensureThreadpool(threadpoolSizeFor(sessions));
  if (child) return child;

  const log = createLogger({ level: v['log-level'], name: 'ocsp-signer' });
  const indexPath = v.index;
  if (!indexPath && !v['postgres-url-env']) throw new Error('signer: --index or --postgres-url-env is required');
  const [issuer] = parsePemChain(await readFile(need('ca-cert')));
  if (!issuer) throw new Error(`--ca-cert ${v['ca-cert']}: no certificate`);
  const duration = (
    flag:
      | 'validity'
      | 'refresh-age'
      | 'interval'
      | 'responder-validity'
      | 'responder-renew-before'
      | 'store-lock-wait'
      | 'postgres-max-lag'
      | 'postgres-full-read-every',
  ): number => {
    try {
      return parseDuration(v[flag]);
    } catch {
      throw new Error(`--${flag}: not a duration: ${JSON.stringify(v[flag])} (e.g. 168h, 90m, 10s)`);
    }
  };

  const closers: (() => Promise<void>)[] = [];
  try {
    // The CA key
    let caSigner: OcspSigner;
    if (v['key-file']) {
      if (v['token-label'] || v['key-label']) throw new Error('give either --key-file or --token-label/--key-label, not both');
      caSigner = softwareSigner(createPrivateKey(await readFile(v['key-file'])));
    } else {
      const pin = v['pin-file'] ? (await readFile(v['pin-file'], 'utf8')).trim() : process.env[v['pin-env']];
      if (!pin) throw new Error(`no PIN: set ${v['pin-env']} or --pin-file`);
      const p11 = openPkcs11Signer({
        module: v['pkcs11-module'],
        tokenLabel: need('token-label'),
        keyLabel: need('key-label'),
        pin,
        sessions,
      });
      closers.push(() => p11.close());
      caSigner = p11;
    }

    // Who signs responses
    let identity: SigningIdentity | ((now: Date) => Promise<SigningIdentity>) = { signer: caSigner };
    if (v['responder-cert'] || v['responder-key']) {
      const [cert] = parsePemChain(await readFile(need('responder-cert')));
      if (!cert) throw new Error(`--responder-cert ${v['responder-cert']}: no certificate`);
      const responderSigner = v['responder-key'] ? softwareSigner(createPrivateKey(await readFile(v['responder-key']))) : caSigner;
      const spki = new Uint8Array(cert.publicKey.rawData);
      if (responderSigner.publicKeyDer && Buffer.compare(Buffer.from(responderSigner.publicKeyDer), Buffer.from(spki)) !== 0) {
        throw new Error(
          `--responder-cert ${v['responder-cert']}: its public key is not the key of ${v['responder-key'] ? `--responder-key ${v['responder-key']}` : 'the signing key (--key-file or the PKCS#11 key)'}`,
        );
      }
      const problems = lintResponderCert(cert, issuer);
      if (problems.length) throw new Error(`--responder-cert: ${problems.map((p) => p.message).join('; ')}`);
      identity = { signer: responderSigner, responderCert: cert };
    } else if (v['issue-responder']) {
      const rotator = new ResponderRotator(
        { issuer, issuerSigner: caSigner, validityMs: duration('responder-validity'), renewBeforeMs: duration('responder-renew-before') },
        (cert, prev) =>
          log.info(
            { serial: cert.serialNumber, notAfter: cert.notAfter, previous: prev?.serialNumber },
            'issued delegated responder certificate',
          ),
      );
      identity = (now) => rotator.current(now);
    }

    // The store
    let store: ResponseStore;
    if (v['store-dir'] && v['redis-url']) throw new Error('give either --store-dir or --redis-url, not both');
    if (v['redis-url']) {
      store = new RedisWriter({ redis: redisOptionsFromUrl(v['redis-url'], redisPasswordFromEnv(v['redis-password-env'])) });
    } else {
      // One writer per store: a rolling update's old pod (or an orphaned signer) holds it a while.
      const opening = performance.now();
      const embedded = await EmbeddedStore.open({
        path: join(need('store-dir'), 'responses.log'),
        lockWaitMs: duration('store-lock-wait'),
        onLockWait: (holder, lockPath) =>
          log.warn({ lock: lockPath, holder, waitMs: duration('store-lock-wait') }, 'another writer holds the store; waiting for it'),
      });
      log.info({ ms: Math.round(performance.now() - opening), ...embedded.lastLoad }, 'response log indexed');
      store = embedded;
    }
    closers.unshift(() => store.close());

    let shard: Shard | (() => Shard) | undefined;
    let share: StatefulSetShare | undefined;
    if (v['shard-from-statefulset'] && v.shard) throw new Error('give either --shard or --shard-from-statefulset, not both');
    if (v['shard-from-statefulset']) {
      // Not in the pod template: scaling the StatefulSet restarts no signer (shard-source.ts).
      const namespace = process.env.POD_NAMESPACE;
      if (!namespace) throw new Error('--shard-from-statefulset needs POD_NAME and POD_NAMESPACE in the environment (the downward API)');
      const client = new KubeClient(loadClusterAccess(), { userAgent: 'ocsp-operator-signer-share', timeoutMs: 10_000 });
      const source = new StatefulSetShare({ client, namespace, name: v['shard-from-statefulset'], podName: podName(), log });
      source.start();
      closers.unshift(async () => {
        source.stop();
        log.info({ statefulSet: v['shard-from-statefulset'], requests: source.requests }, 'share source stopped');
      });
      share = source;
      shard = () => source.current();
    } else if (v.shard) {
      const m = /^(\d+)\/(\d+)$/.exec(v.shard);
      if (!m || Number(m[1]) >= Number(m[2])) throw new Error(`--shard must be I/N with I < N, got ${JSON.stringify(v.shard)}`);
      shard = { index: Number(m[1]), count: Number(m[2]) };
    }

    const maxPerRound = Number(v['max-per-round']);
    if (!Number.isInteger(maxPerRound) || maxPerRound < 1)
      throw new Error(`--max-per-round must be a positive integer, got ${JSON.stringify(v['max-per-round'])}`);
    const registry = new Registry();
    registerDefaultMetrics(registry);
    const postgres = v['postgres-url-env']
      ? postgresSource(v, registry, log, duration('postgres-max-lag'), duration('postgres-full-read-every'))
      : undefined;
    if (postgres) closers.push(() => postgres.close());
    // Parsed and merged again only when an input changed: an unchanged list lets a round at rest skip planning.
    const index = new SameInputs<readonly CertificateInfo[]>();
    const declared = new SameInputs<IndexRevocation[]>();
    const merged = new SameInputs<readonly CertificateInfo[]>();
    const parseIndexLogged = (text: string): readonly CertificateInfo[] => {
      const r = parseIndexTxt(text);
      for (const p of r.problems) log.warn({ file: indexPath, line: p.line }, p.message);
      return r.certificates;
    };
    const signer = new ResponseSigner({
      issuer,
      identity,
      certificates: async () => {
        const fromIndex = indexPath ? index.get([await readFile(indexPath, 'utf8')], parseIndexLogged) : undefined;
        // A lagging or unreadable database throws here, before anything is planned: the round signs nothing.
        const fromDb = postgres ? await postgres.certificates() : undefined;
        const revocations = v.revocations ? declared.get([await readTextOrEmpty(v.revocations)], parseDeclaredRevocations) : undefined;
        return merged.get([fromIndex, fromDb, revocations] as const, (a, b, declaredRevocations) => {
          const lists = [a, b].filter((l) => l !== undefined);
          const certs = lists.length === 1 ? lists[0]! : mergeCertificates(lists);
          return declaredRevocations ? applyDeclaredRevocations(certs, declaredRevocations) : certs;
        });
      },
      store,
      responseValidityMs: duration('validity'),
      refreshAgeMs: duration('refresh-age'),
      concurrency: sessions,
      maxPerRound: v.once ? undefined : maxPerRound,
      registry,
      logger: log,
      ...(shard ? { shard } : {}),
    });
    log.info(
      { issuer: issuer.subject, sessions, threadpool: process.env.UV_THREADPOOL_SIZE ?? '4 (default)', algorithm: caSigner.algorithm },
      'signer starting',
    );

    if (v.once) {
      if (share && !(await share.ready())) return 1;
      const r = await signer.runOnce();
      process.stdout.write(
        `${JSON.stringify({ planned: r.planned, signed: r.signed, failed: r.failed, byReason: r.byReason, rate: Math.round(r.rate), durationMs: Math.round(r.durationMs), backlog: r.after.due })}\n`,
      );
      return r.failed > 0 ? 1 : 0;
    }

    let lastRound = Date.now();
    if (v['metrics-addr']) {
      const [host, port] = v['metrics-addr'].split(/:(?=\d+$)/);
      const server = await startHealthServer({
        host: host || '0.0.0.0',
        port: Number(port),
        registry,
        // alive while rounds keep turning (a stuck HSM call stops them)
        healthz: [() => Date.now() - lastRound < Math.max(10 * duration('interval'), 300_000) || 'no signing round finished recently'],
        // Ready sooner than dead: the pool counts a signer's report only while its pod is Ready
        // (src/pool/liveness.ts), and its reports no longer refresh at rest, so an unready pod is
        // how a stuck signer (the updater-falls-behind incident) shows before the restart. Long
        // enough for a full round of --max-per-round signatures at a slow HSM's pace.
        readyz: [() => Date.now() - lastRound < Math.max(5 * duration('interval'), 120_000) || 'no signing round finished recently'],
      });
      closers.unshift(() => server.close());
    }
    // The pool controller learns backlog, rate and ages from these reports (src/report/protocol.ts).
    let lastReport: SignerReport | undefined;
    let lastRate: number | undefined;
    let missingSince: { serial: string; since: number } | undefined;
    const reports = v['report-pool']
      ? startReportLoop({ pool: v['report-pool'], everyMs: 10_000, log, produce: () => lastReport && { ...lastReport, time: Date.now() } })
      : undefined;
    closers.unshift(async () => reports?.stop());
    const report = async (r: RoundResult | Error) => {
      const now = Date.now();
      if (r instanceof Error) {
        // A refused or failed round changes no figure; a source that lags or fails is news.
        if (!(r instanceof SourceUnusableError)) return;
        const b = signer.backlog(now);
        lastReport = lastReport
          ? { ...lastReport, time: now, sources: postgres ? [postgres.state] : [] }
          : {
              kind: 'signer',
              pod: podName(),
              time: now,
              certificates: b.certificates,
              due: b.due,
              missing: b.missing,
              revoked: b.revoked,
              issuerNotAfter: issuer.notAfter.getTime(),
              outlivingTheirSigner: 0,
              signedTotal: signer.signedTotal,
              sources: postgres ? [postgres.state] : [],
            };
        await reports?.flush();
        return;
      }
      if (r.signed > 0) lastRate = r.rate;
      const waiting = r.after.missing > 0 ? r.newSerials[0] : undefined;
      if (!waiting) missingSince = undefined;
      else if (missingSince?.serial !== waiting) missingSince = { serial: waiting, since: now };
      const id = typeof identity === 'function' ? await identity(new Date(now)) : identity;
      lastReport = {
        kind: 'signer',
        pod: podName(),
        time: now,
        certificates: r.after.certificates,
        due: r.after.due,
        missing: r.after.missing,
        revoked: r.after.revoked,
        ...(r.after.oldestAgeMs !== undefined ? { oldestThisUpdate: now - r.after.oldestAgeMs } : {}),
        ...(missingSince ? { oldestMissing: missingSince } : {}),
        ...(lastRate !== undefined ? { rate: lastRate } : {}),
        ...(id.responderCert
          ? {
              signer: {
                serial: id.responderCert.serialNumber.toLowerCase(),
                subject: id.responderCert.subject,
                notAfter: id.responderCert.notAfter.getTime(),
              },
            }
          : {}),
        issuerNotAfter: issuer.notAfter.getTime(),
        outlivingTheirSigner: r.after.signer,
        share: r.shard ? `${r.shard.index}/${r.shard.count}` : '0/1',
        signedTotal: signer.signedTotal,
        ...(postgres ? { sources: [postgres.state] } : {}),
      };
      await reports?.flush();
    };
    const ac = new AbortController();
    const stop = () => ac.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (share) {
      // No round before the share is known: a guess would sign what other signers own.
      const source = share;
      ac.signal.addEventListener('abort', () => source.stop(), { once: true });
      if (!(await source.ready())) {
        log.info('signer stopping before its share was known');
        return 0;
      }
    }
    await signer.run({
      intervalMs: duration('interval'),
      signal: ac.signal,
      onRound: (r) => {
        lastRound = Date.now();
        void report(r);
      },
    });
    log.info('signer stopping');
    return 0;
  } finally {
    for (const c of closers) await c().catch(() => undefined);
  }
}

/** The --postgres-* flags as a source, its URL from the environment (never an argument: a pod's arguments are visible to all who can read it). */
function postgresSource(
  v: Record<string, string | boolean | undefined>,
  registry: Registry,
  log: Logger,
  maxLagMs: number,
  fullReadEveryMs: number,
): PostgresSource {
  const envName = String(v['postgres-url-env']);
  const url = process.env[envName];
  if (!url) throw new Error(`--postgres-url-env ${envName}: the environment variable is empty or unset`);
  const str = (k: string): string | undefined => (typeof v[k] === 'string' && v[k] !== '' ? v[k] : undefined);
  const query = str('postgres-query');
  const table = str('postgres-table');
  const columnsText = str('postgres-columns');
  if (query && (table || columnsText)) throw new Error('give either --postgres-query or --postgres-table/--postgres-columns, not both');
  let source: PostgresRowSource;
  if (query) source = { query };
  else {
    const columns: Partial<PostgresColumns> = {};
    for (const pair of (columnsText ?? '').split(',').filter((x) => x !== '')) {
      const m = /^(serial|notAfter|revokedAt|reason)=(.+)$/.exec(pair.trim());
      if (!m)
        throw new Error(
          `--postgres-columns: expected serial=, notAfter=, revokedAt= or reason= followed by a column name, got ${JSON.stringify(pair)}`,
        );
      columns[m[1] as keyof PostgresColumns] = m[2]!;
    }
    source = { ...(table ? { table } : {}), columns };
  }
  const pageSize = Number(v['postgres-page-size']);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1_000_000)
    throw new Error(`--postgres-page-size must be an integer 1..1000000, got ${JSON.stringify(v['postgres-page-size'])}`);
  const name = str('postgres-name') ?? 'postgres';
  const changedAt = str('postgres-changed-at');
  const reader = new PostgresCertificateReader({
    url,
    source,
    pageSize,
    applicationName: `ocsp-signer ${podName()}`.slice(0, 63),
    ...(changedAt ? { changedAt, fullReadEveryMs } : {}),
  });
  return new PostgresSource({ reader, name, maxLagMs, registry, log });
}

const DeclaredRevocationsSchema = z.array(
  z.object({ serial: z.string().regex(/^[0-9a-fA-F]{1,40}$/), time: z.number().finite(), reason: z.string().optional() }),
);

/** A file's text, empty while it is missing (the kubelet has yet to project it). */
async function readTextOrEmpty(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
}

/** The declared revocations file (the pool's index ConfigMap key): none while it is missing. */
function parseDeclaredRevocations(text: string): IndexRevocation[] {
  if (text === '') return [];
  const r = DeclaredRevocationsSchema.safeParse(JSON.parse(text));
  if (!r.success) throw new Error(`--revocations: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data.map((d) => ({ serial: d.serial, time: d.time, ...(d.reason !== undefined ? { reason: d.reason } : {}) }));
}
