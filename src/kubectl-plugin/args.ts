// Command-line parsing for kubectl-ocsp: the flags kubectl users already know (-n, -A, -l, -o,
// --context, --kubeconfig), timeouts as durations ("30s", "2m"; a bare number is seconds, as
// kubectl's --request-timeout takes it), and which objects a command is about.
import { parseArgs } from 'node:util';
import { parseDuration } from '../api/duration.js';
import { UsageError } from './errors.js';

export type OutputFormat = 'text' | 'wide' | 'json' | 'yaml' | 'name';

export interface Cli {
  command: string | undefined;
  args: string[];
  namespace?: string;
  allNamespaces: boolean;
  /** --all: every object of the namespace (refresh needs it said; get and inspect assume it) */
  all: boolean;
  selector?: string;
  output: OutputFormat;
  /** --timeout, in ms; undefined: each command's default */
  timeoutMs?: number;
  kubeconfig?: string;
  context?: string;
  wait: boolean;
  help: boolean;
  issuer?: string;
  url?: string;
  method: string;
  hash: string;
  nonce: boolean;
  save?: string;
  servername?: string;
}

const FORMATS: readonly OutputFormat[] = ['text', 'wide', 'json', 'yaml', 'name'];

/** "30s" → 30_000; "1m30s"; "2" → 2_000 (seconds, as kubectl's --request-timeout). */
export function parseTimeout(text: string): number {
  const ms = /^[0-9]+$/.test(text)
    ? Number(text) * 1000
    : (() => {
        try {
          return parseDuration(text);
        } catch {
          return Number.NaN;
        }
      })();
  if (!Number.isFinite(ms) || ms <= 0)
    throw new UsageError(
      `--timeout must be a positive duration like 30s, 2m or 1m30s (a bare number is seconds), got ${JSON.stringify(text)}`,
    );
  return ms;
}

export function parseCli(argv: string[]): Cli {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        namespace: { type: 'string', short: 'n' },
        'all-namespaces': { type: 'boolean', short: 'A', default: false },
        all: { type: 'boolean', default: false },
        selector: { type: 'string', short: 'l' },
        kubeconfig: { type: 'string' },
        context: { type: 'string' },
        output: { type: 'string', short: 'o', default: 'text' },
        timeout: { type: 'string' },
        wait: { type: 'boolean', default: false },
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
  } catch (e) {
    throw new UsageError(`${(e as Error).message} (kubectl ocsp --help)`);
  }
  const { values: v, positionals } = parsed;
  const output = FORMATS.find((f) => f === v.output.toLowerCase());
  if (!output) throw new UsageError(`--output must be one of ${FORMATS.join(', ')}, got ${JSON.stringify(v.output)}`);
  if (v['all-namespaces'] && v.namespace !== undefined) throw new UsageError('-A (all namespaces) and -n NAMESPACE exclude each other');
  const [command, ...args] = positionals;
  return {
    command,
    args,
    ...(v.namespace !== undefined ? { namespace: v.namespace } : {}),
    allNamespaces: v['all-namespaces'],
    all: v.all,
    ...(v.selector !== undefined ? { selector: v.selector } : {}),
    output,
    ...(v.timeout !== undefined ? { timeoutMs: parseTimeout(v.timeout) } : {}),
    ...(v.kubeconfig !== undefined ? { kubeconfig: v.kubeconfig } : {}),
    ...(v.context !== undefined ? { context: v.context } : {}),
    wait: v.wait,
    help: v.help,
    ...(v.issuer !== undefined ? { issuer: v.issuer } : {}),
    ...(v.url !== undefined ? { url: v.url } : {}),
    method: v.method,
    hash: v.hash,
    nonce: v.nonce,
    ...(v.save !== undefined ? { save: v.save } : {}),
    ...(v.servername !== undefined ? { servername: v.servername } : {}),
  };
}

/** The kinds the plugin knows, by every name kubectl users would type. */
export type Kind = 'staple' | 'pool' | 'secret';

const KIND_NAMES: Record<string, Kind> = {
  staple: 'staple',
  staples: 'staple',
  ocspstaple: 'staple',
  ocspstaples: 'staple',
  'ocspstaples.ocsp-operator.dev': 'staple',
  pool: 'pool',
  pools: 'pool',
  orp: 'pool',
  ocspresponderpool: 'pool',
  ocspresponderpools: 'pool',
  'ocspresponderpools.ocsp-operator.dev': 'pool',
  secret: 'secret',
  secrets: 'secret',
};

export function parseKind(word: string | undefined, allowed: readonly Kind[], shape: string): Kind {
  const k = word === undefined ? undefined : KIND_NAMES[word.toLowerCase()];
  if (!k || !allowed.includes(k))
    throw new UsageError(
      `usage: kubectl ocsp ${shape} (${allowed.join(', ')}; got ${word === undefined ? 'nothing' : JSON.stringify(word)})`,
    );
  return k;
}

/** Which objects: names in one namespace, or a label selector, in one namespace or all. */
export interface Selection {
  names: string[];
  selector?: string;
  allNamespaces: boolean;
}

export function selection(cli: Cli, names: string[], o: { requireSome: boolean; shape: string }): Selection {
  if (names.length && cli.selector !== undefined)
    throw new UsageError(`give NAME... or -l SELECTOR, not both (usage: kubectl ocsp ${o.shape})`);
  if (names.length && cli.allNamespaces)
    throw new UsageError(`NAME... cannot be used with -A: names are looked up in one namespace (usage: kubectl ocsp ${o.shape})`);
  if (o.requireSome && !names.length && cli.selector === undefined && !cli.allNamespaces && !cli.all) {
    throw new UsageError(
      `which ones? give NAME..., -l SELECTOR, --all (this namespace) or -A (every namespace) (usage: kubectl ocsp ${o.shape})`,
    );
  }
  return { names, ...(cli.selector !== undefined ? { selector: cli.selector } : {}), allNamespaces: cli.allNamespaces };
}
