// `ocsp-operator responder`: serves pre-signed OCSP responses from the store over HTTP. It never
// signs. In an embedded pool it tails the log the signer writes beside it; at scale it reads a
// Redis replica and leaves rotation (readiness) when the replica lags.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDuration } from '../api/duration.js';
import { parsePemChain } from '../ocsp/index.js';
import { createLogger } from '../runtime/logger.js';
import { openStore, redisOptionsFromUrl, type StoreSpec } from '../store/index.js';
import { LAG_POLICIES, type LagPolicy } from './config.js';
import { podName, startReportLoop } from '../pool/report-loop.js';
import { startResponder } from './server.js';

export const responderUsage = `  responder    serve pre-signed OCSP responses (GET and POST, RFC 5019 headers)
               --ca-cert PATH               an issuer whose responses are served (repeatable)
               store, one of:
               --store-dir DIR              follow the embedded store a signer writes (DIR/responses.log)
               --redis-url redis://HOST:PORT[/DB]   the replica to read
                 --redis-primary-url URL    the primary, to measure bytes behind (optional)
               --lag-policy ServeWhatItHas|Unauthorized|TryLater   what to answer while the store lags (required)
               --max-lag DURATION           readiness fails past this store lag (default 10s)
               --listen HOST:PORT           (default 0.0.0.0:8080)
               --path-prefix PATH           (default /)
               --error-max-age SECONDS      max-age of unauthorized/malformedRequest (default 0: no-store)
               --report-pool NAME           write this pod's readiness and lag to the pool's report
                                            ConfigMap (needs POD_NAME, POD_NAMESPACE)
               --log-level LEVEL            (default info)
`;

export async function runResponderCommand(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      'ca-cert': { type: 'string', multiple: true },
      'store-dir': { type: 'string' },
      'redis-url': { type: 'string' },
      'redis-primary-url': { type: 'string' },
      'lag-policy': { type: 'string' },
      'max-lag': { type: 'string', default: '10s' },
      listen: { type: 'string', default: '0.0.0.0:8080' },
      'path-prefix': { type: 'string', default: '/' },
      'error-max-age': { type: 'string', default: '0' },
      'log-level': { type: 'string', default: 'info' },
      'report-pool': { type: 'string' },
    },
    strict: true,
  });
  const log = createLogger({ level: v['log-level'], name: 'ocsp-responder' });
  const lagPolicy = v['lag-policy'];
  if (!LAG_POLICIES.includes(lagPolicy as LagPolicy)) {
    throw new Error(`--lag-policy must be one of ${LAG_POLICIES.join(', ')}: what a lagging responder answers is a decision, not a default`);
  }
  const caFiles = v['ca-cert'] ?? [];
  if (caFiles.length === 0) throw new Error('--ca-cert is required (the issuer whose responses are served)');
  const issuers = [];
  for (const f of caFiles) {
    const [first] = parsePemChain(await readFile(f, 'utf8'));
    if (!first) throw new Error(`${f}: no certificate`);
    issuers.push(first);
  }
  if (!!v['store-dir'] === !!v['redis-url']) throw new Error('give exactly one of --store-dir or --redis-url');
  const spec: StoreSpec = v['redis-url']
    ? {
        kind: 'redis-reader',
        replica: redisOptionsFromUrl(v['redis-url']),
        ...(v['redis-primary-url'] ? { primary: redisOptionsFromUrl(v['redis-primary-url']) } : {}),
      }
    : { kind: 'embedded-follower', path: join(v['store-dir'] ?? '', 'responses.log') };
  const store = await openStore(spec);
  const i = v.listen.lastIndexOf(':');
  const port = Number(v.listen.slice(i + 1));
  if (i < 0 || !Number.isInteger(port)) throw new Error(`--listen must be HOST:PORT, got ${v.listen}`);
  const errorMaxAge = Number(v['error-max-age']);
  if (!Number.isInteger(errorMaxAge) || errorMaxAge < 0) throw new Error(`--error-max-age must be whole seconds, got ${v['error-max-age']}`);
  const responder = await startResponder({
    store,
    issuers,
    lagPolicy: lagPolicy as LagPolicy, // checked against LAG_POLICIES above
    lagThresholdMs: parseDuration(v['max-lag']),
    host: v.listen.slice(0, i) || '0.0.0.0',
    port,
    pathPrefix: v['path-prefix'],
    errorMaxAgeSeconds: errorMaxAge,
    logger: log,
  });
  // The report carries the store lag as last measured here.
  let lastLag = { lagMs: 0, detached: false };
  const lagTimer = setInterval(() => {
    store.lag().then((l) => (lastLag = { lagMs: l.lagMs, detached: l.detached }), () => (lastLag = { lagMs: lastLag.lagMs, detached: true }));
  }, 1_000);
  const reports = v['report-pool']
    ? startReportLoop({
        pool: v['report-pool'],
        everyMs: 2_000,
        log,
        produce: () => ({ kind: 'responder', pod: podName(), time: Date.now(), ready: responder.ready(), lagMs: lastLag.lagMs, detached: lastLag.detached }),
      })
    : undefined;
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  log.info('shutting down');
  clearInterval(lagTimer);
  reports?.stop();
  await responder.close();
  await store.close();
  return 0;
}
