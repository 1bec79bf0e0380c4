// kubectl-ocsp: `kubectl ocsp …` (kubectl runs any `kubectl-<name>` on the PATH as `kubectl <name>`).
// Exit codes: 0 all is well, 1 a problem was found (not in lockstep, expired, revoked, no staple,
// lagging replica, …), 2 usage or any other error (not found, unreachable apiserver, bad file).
import { parseArgs } from 'node:util';
import { HASH_ALGORITHMS } from '../api/index.js';
import type { HashAlgorithm } from '../ocsp/index.js';
import { fetchCommand, probeCommand } from './fetch.js';
import { NotFoundError, UsageError } from './errors.js';
import type { CommandResult } from './inspect-secret.js';

export const usage = `usage: kubectl ocsp <command> [flags]

commands:
  inspect secret NAME   a certificate Secret or staple Secret: certificate, staple, lockstep, what happens next
  inspect staple NAME   an OcspStaple: spec, status, conditions, and its staple Secret checked
  inspect pool NAME     an OcspResponderPool: backlog, oldest response, signers, replicas and their lag
  fetch CERT.pem        ask the certificate's OCSP responder and validate the answer
        --issuer ISSUER.pem       the issuer, when CERT.pem holds only the leaf
        --url URL                 instead of the certificate's AIA OCSP URL
        --method GET|POST         (default POST)
        --hash SHA-1|SHA-256|SHA-384|SHA-512   CertID hash (default SHA-1)
        --nonce                   send a nonce and require it echoed
        --save FILE               write the DER response to FILE
  probe HOST:PORT[@SERVERNAME]    connect to a TLS server and check the staple it serves
        --servername NAME         SNI (default: the host, unless an IP address)
        --issuer ISSUER.pem       the issuer, when the server sends only the leaf

flags:
  -n, --namespace NS    (default: the context's namespace, else default)
      --kubeconfig PATH (default: $KUBECONFIG, else ~/.kube/config)
      --context NAME
  -o, --output FORMAT   text (default) or json
      --timeout SECONDS network timeout (default 10)

exit status: 0 all well, 1 a problem found, 2 usage or other error
`;

function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  const v = allowed.find((a) => a.toLowerCase() === value.toLowerCase());
  if (!v) throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  return v;
}

export async function run(argv: string[], out: (s: string) => void, now: () => Date = () => new Date()): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      namespace: { type: 'string', short: 'n' },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      output: { type: 'string', short: 'o', default: 'text' },
      timeout: { type: 'string', default: '10' },
      issuer: { type: 'string' },
      url: { type: 'string' },
      method: { type: 'string', default: 'POST' },
      hash: { type: 'string', default: 'SHA-1' },
      nonce: { type: 'boolean', default: false },
      save: { type: 'string' },
      servername: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    out(usage);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError(`no command\n${usage}`);
  const output = oneOf(values.output, ['text', 'json'] as const, '--output');
  const timeoutS = Number(values.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new UsageError(`--timeout must be a positive number of seconds, got ${JSON.stringify(values.timeout)}`);
  const timeoutMs = timeoutS * 1000;
  const [command, ...args] = positionals;
  // the Kubernetes client is loaded only by the commands that talk to a cluster (it is slow to import)
  const kube = async () => {
    const { connect } = await import('./kube.js');
    return connect({
      ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
      ...(values.context ? { context: values.context } : {}),
      ...(values.namespace ? { namespace: values.namespace } : {}),
    });
  };
  const exactly = (n: number, shape: string) => {
    if (args.length !== n) throw new UsageError(`usage: kubectl ocsp ${shape}`);
  };

  let result: CommandResult;
  switch (command) {
    case 'inspect': {
      const [what, name] = args;
      exactly(2, 'inspect secret|staple|pool NAME');
      const conn = await kube();
      switch (what) {
        case 'secret':
        case 'secrets':
          result = await (await import('./inspect-secret.js')).inspectSecret(conn, name!, now());
          break;
        case 'staple':
        case 'staples':
        case 'ocspstaple':
        case 'ocspstaples':
          result = await (await import('./inspect-staple.js')).inspectStaple(conn, name!, now());
          break;
        case 'pool':
        case 'pools':
        case 'orp':
        case 'ocspresponderpool':
        case 'ocspresponderpools':
          result = await (await import('./inspect-pool.js')).inspectPool(conn, name!, now());
          break;
        default:
          throw new UsageError(`inspect what? "secret", "staple" or "pool", got ${JSON.stringify(what)}`);
      }
      break;
    }
    case 'fetch':
      exactly(1, 'fetch CERT.pem [--issuer ISSUER.pem] [--url URL] [--method GET|POST]');
      result = await fetchCommand(
        {
          certFile: args[0]!,
          ...(values.issuer ? { issuerFile: values.issuer } : {}),
          ...(values.url ? { url: values.url } : {}),
          method: oneOf(values.method, ['GET', 'POST'] as const, '--method'),
          hashAlgorithm: oneOf<HashAlgorithm>(values.hash, HASH_ALGORITHMS, '--hash'),
          nonce: values.nonce,
          timeoutMs,
          ...(values.save ? { saveTo: values.save } : {}),
        },
        now,
      );
      break;
    case 'probe':
      exactly(1, 'probe HOST:PORT[@SERVERNAME] [--servername NAME] [--issuer ISSUER.pem]');
      result = await probeCommand(
        { endpoint: args[0]!, ...(values.servername ? { servername: values.servername } : {}), ...(values.issuer ? { issuerFile: values.issuer } : {}), timeoutMs },
        now,
      );
      break;
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}; one of inspect, fetch, probe (kubectl ocsp --help)`);
  }
  out(output === 'json' ? `${JSON.stringify(result.json, null, 2)}\n` : `${result.text}\n`);
  return result.exit;
}

function errorMessage(e: unknown): string {
  if (e instanceof Error && e.name === 'KubeApiError' && (e as Error & { status?: number }).status === 0) return `cannot reach the apiserver: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

export async function main(argv: string[]): Promise<number> {
  try {
    return await run(argv, (s) => process.stdout.write(s));
  } catch (e) {
    const known = e instanceof UsageError || e instanceof NotFoundError || (e instanceof Error && e.name === 'KubeApiError') || (e as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`kubectl-ocsp: ${errorMessage(e)}\n`);
    if (!known && e instanceof Error && process.env.KUBECTL_OCSP_DEBUG) process.stderr.write(`${e.stack ?? ''}\n`);
    return 2;
  }
}
