// `kubectl ocsp …` (kubectl runs any `kubectl-<name>` on the PATH as `kubectl <name>`); the
// executable is the shim src/kubectl-plugin/main.ts, the commands' code is in src/kubectl-plugin/.
// Exit codes: 0 all is well, 1 a problem was found (not in lockstep, expired, revoked, no staple,
// lagging replica, a refresh that failed, …), 2 usage or any other error (not found, unreachable
// apiserver, CRDs not installed, bad file).
import { HASH_ALGORITHMS } from '../api/index.js';
import type { HashAlgorithm } from '../ocsp/index.js';
import { parseCli, parseKind, selection, type Cli, type OutputFormat } from '../kubectl-plugin/args.js';
import { fetchCommand, probeCommand } from '../kubectl-plugin/fetch.js';
import { CrdsMissingError, NotFoundError, UsageError } from '../kubectl-plugin/errors.js';
import type { CommandResult } from '../kubectl-plugin/inspect-secret.js';
import type { Connection } from '../kubectl-plugin/kube.js';

export const usage = `usage: kubectl ocsp <command> [flags]

commands:
  get staples|pools [NAME...]      one line each: ready, reason, OCSP status, usable until, next refresh
  inspect staple|pool [NAME...]    everything about each: spec, status, conditions, recent Events, verdict
  inspect secret NAME...           a certificate or staple Secret: certificate, staple, lockstep, what happens next
  refresh NAME... | -l SEL | --all | -A
                                   ask the operator to fetch a new OCSP response now (it clears the request
                                   when done, no sooner than spec.refresh.minInterval after its last attempt)
        --wait                    wait for the operator and report the outcome (up to --timeout, default 60s)
  fetch CERT.pem                   ask the certificate's OCSP responder and validate the answer
        --issuer ISSUER.pem       the issuer, when CERT.pem holds only the leaf
        --url URL                 instead of the certificate's AIA OCSP URL
        --method GET|POST         (default POST)
        --hash SHA-1|SHA-256|SHA-384|SHA-512   CertID hash (default SHA-1)
        --nonce                   send a nonce and require it echoed
        --save FILE               write the DER response to FILE
  probe HOST:PORT[@SERVERNAME]     connect to a TLS server and check the staple it serves
        --servername NAME         SNI (default: the host, unless an IP address)
        --issuer ISSUER.pem       the issuer, when the server sends only the leaf
  version                          this plugin's version, and the operator's if Deployments may be listed
  completion bash|zsh              a shell completion script (source <(kubectl ocsp completion bash))

flags:
  -n, --namespace NS      (default: the context's namespace, else default)
  -A, --all-namespaces    every namespace (get, inspect, refresh)
  -l, --selector SEL      a label selector, e.g. app=web,tier!=test (get, inspect, refresh)
      --kubeconfig PATH   (default: $KUBECONFIG, else ~/.kube/config)
      --context NAME
  -o, --output FORMAT     text (default), json or yaml; get also: wide, name
      --timeout DURATION  network timeout, e.g. 10s, 2m (a bare number is seconds; default 10s)

exit status: 0 all well, 1 a problem found, 2 usage or other error
`;

function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  const v = allowed.find((a) => a.toLowerCase() === value.toLowerCase());
  if (!v) throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  return v;
}

function allowFormats(cli: Cli, allowed: readonly OutputFormat[]): void {
  if (!allowed.includes(cli.output))
    throw new UsageError(`-o ${cli.output} does not apply to ${cli.command}: one of ${allowed.join(', ')}`);
}

async function render(doc: unknown, text: string, format: OutputFormat): Promise<string> {
  if (format === 'json') return `${JSON.stringify(doc, null, 2)}\n`;
  if (format === 'yaml') return (await import('yaml')).stringify(doc);
  return `${text}\n`;
}

const list = (items: unknown[]) => ({ apiVersion: 'v1', kind: 'List', items, metadata: { resourceVersion: '' } });

const DEFAULT_TIMEOUT_MS = 10_000;

/** The command, its output and clock given: a usage or API error is thrown, not yet an exit code. */
export async function execute(
  argv: string[],
  out: (s: string) => void,
  now: () => Date = () => new Date(),
  err: (s: string) => void = (s) => process.stderr.write(s),
): Promise<number> {
  // Completion gets the words as typed: half-written flags and all (no parsing, which would reject them).
  if (argv[0] === '__complete') {
    const { complete } = await import('../kubectl-plugin/completion.js');
    const { connect } = await import('../kubectl-plugin/kube.js');
    out(await complete(argv.slice(1), (o) => connect({ ...o, timeoutMs: 3_000 })));
    return 0;
  }
  const cli = parseCli(argv);
  if (cli.help) {
    out(usage);
    return 0;
  }
  const { command, args } = cli;
  if (command === undefined) throw new UsageError(`no command\n${usage}`);
  const timeoutMs = cli.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const connectOpts = {
    ...(cli.kubeconfig ? { kubeconfig: cli.kubeconfig } : {}),
    ...(cli.context ? { context: cli.context } : {}),
    ...(cli.namespace ? { namespace: cli.namespace } : {}),
    timeoutMs,
  };
  // the Kubernetes client is loaded only by the commands that talk to a cluster (it is slow to import)
  const kube = async (): Promise<Connection> => (await import('../kubectl-plugin/kube.js')).connect(connectOpts);
  const exactly = (n: number, shape: string) => {
    if (args.length !== n) throw new UsageError(`usage: kubectl ocsp ${shape}`);
  };
  const finish = async (result: CommandResult): Promise<number> => {
    out(await render(result.json, result.text, cli.output));
    return result.exit;
  };

  switch (command) {
    case 'get': {
      allowFormats(cli, ['text', 'wide', 'json', 'yaml', 'name']);
      const shape = 'get staples|pools [NAME... | -l SELECTOR] [-A]';
      const kind = parseKind(args[0], ['staple', 'pool'], shape);
      const sel = selection(cli, args.slice(1), { requireSome: false, shape });
      const conn = await kube();
      const { OcspStapleType, OcspResponderPoolType } = await import('../kube/types.js');
      const type = kind === 'staple' ? OcspStapleType : OcspResponderPoolType;
      const { objects, notFound } = await (await import('../kubectl-plugin/select.js')).selectObjects(conn, type, sel);
      for (const e of notFound) err(`kubectl-ocsp: ${e.message}\n`);
      if (!objects.length && !notFound.length)
        err(`No ${type.plural} found${sel.allNamespaces ? '' : ` in namespace ${conn.namespace}`}.\n`);
      if (objects.length || cli.output === 'json' || cli.output === 'yaml') {
        const single = sel.names.length === 1 && objects.length === 1;
        const doc = single ? objects[0] : list(objects);
        if (cli.output === 'name') out(objects.map((o) => `${type.kind.toLowerCase()}.${type.group}/${o.metadata?.name}\n`).join(''));
        else if (cli.output === 'json' || cli.output === 'yaml') out(await render(doc, '', cli.output));
        else if (objects.length)
          out(
            `${(await import('../kubectl-plugin/get.js')).getTable(kind as 'staple' | 'pool', objects, { wide: cli.output === 'wide', allNamespaces: sel.allNamespaces, now: now() })}\n`,
          );
      }
      return notFound.length ? 2 : 0;
    }
    case 'inspect': {
      allowFormats(cli, ['text', 'json', 'yaml']);
      const shape = 'inspect secret|staple|pool NAME... | -l SELECTOR | -A';
      const kind = parseKind(args[0], ['secret', 'staple', 'pool'], shape);
      const sel = selection(cli, args.slice(1), { requireSome: kind === 'secret', shape });
      const conn = await kube();
      const types = await import('../kube/types.js');
      const type = kind === 'secret' ? types.SecretType : kind === 'staple' ? types.OcspStapleType : types.OcspResponderPoolType;
      const { objects, notFound } = await (await import('../kubectl-plugin/select.js')).selectObjects(conn, type, sel);
      const single = sel.names.length === 1;
      if (single && notFound[0]) throw notFound[0];
      for (const e of notFound) err(`kubectl-ocsp: ${e.message}\n`);
      if (!objects.length && !notFound.length)
        err(`No ${type.plural} found${sel.allNamespaces ? '' : ` in namespace ${conn.namespace}`}.\n`);
      const results: CommandResult[] = [];
      let failed = notFound.length > 0;
      for (const obj of objects) {
        const c: Connection = { ...conn, namespace: obj.metadata?.namespace ?? conn.namespace };
        const name = obj.metadata?.name ?? '';
        try {
          if (kind === 'secret')
            results.push(await (await import('../kubectl-plugin/inspect-secret.js')).inspectSecret(c, name, now(), obj));
          else if (kind === 'staple')
            results.push(await (await import('../kubectl-plugin/inspect-staple.js')).inspectStaple(c, name, now(), obj));
          else results.push(await (await import('../kubectl-plugin/inspect-pool.js')).inspectPool(c, name, now(), obj));
        } catch (e) {
          // One object that cannot be inspected (not a certificate Secret, an invalid spec) does
          // not hide the others.
          if (single || !(e instanceof UsageError)) throw e;
          err(`kubectl-ocsp: ${c.namespace}/${name}: ${e.message}\n`);
          failed = true;
        }
      }
      if (single && results[0]) return finish(results[0]);
      if (results.length) {
        out(await render(list(results.map((r) => r.json)), results.map((r) => r.text).join('\n\n'), cli.output));
      } else if (cli.output === 'json' || cli.output === 'yaml') {
        out(await render(list([]), '', cli.output));
      }
      return failed ? 2 : results.some((r) => r.exit === 1) ? 1 : 0;
    }
    case 'refresh': {
      allowFormats(cli, ['text', 'json', 'yaml']);
      const shape = 'refresh NAME... | -l SELECTOR | --all | -A [--wait]';
      const sel = selection(cli, args, { requireSome: true, shape });
      const conn = await kube();
      const { OcspStapleType } = await import('../kube/types.js');
      const { objects, notFound } = await (await import('../kubectl-plugin/select.js')).selectObjects(conn, OcspStapleType, sel);
      for (const e of notFound) err(`kubectl-ocsp: ${e.message}\n`);
      if (!objects.length && !notFound.length) err(`No ocspstaples found${sel.allNamespaces ? '' : ` in namespace ${conn.namespace}`}.\n`);
      const r = await (
        await import('../kubectl-plugin/refresh.js')
      ).refreshCommand(conn, objects, { wait: cli.wait, timeoutMs: cli.timeoutMs ?? 60_000, now });
      const code = await finish(r);
      return notFound.length ? 2 : code;
    }
    case 'version': {
      allowFormats(cli, ['text', 'json', 'yaml']);
      exactly(0, 'version');
      const v = await import('../kubectl-plugin/version.js');
      const plugin = { version: v.pluginVersion(), node: process.version };
      let operator: Awaited<ReturnType<typeof v.operatorVersions>>;
      try {
        operator = await v.operatorVersions(await kube());
      } catch (e) {
        operator = { unknown: e instanceof Error ? e.message : String(e) };
      }
      const lines = [`kubectl-ocsp: ${plugin.version} (node ${plugin.node})`];
      if ('unknown' in operator) lines.push(`operator:     unknown (${operator.unknown})`);
      else if (!operator.found.length)
        lines.push('operator:     not found (no Deployment labelled app.kubernetes.io/part-of=ocsp-operator, component=controller)');
      else
        for (const d of operator.found)
          lines.push(
            `operator:     ${d.version ?? 'unknown'} (Deployment ${d.namespace}/${d.name}, image ${d.image ?? '?'}, ${d.ready} ready)`,
          );
      return finish({
        exit: 0,
        text: lines.join('\n'),
        json: {
          kind: 'Version',
          plugin,
          operator: 'unknown' in operator ? { unknown: operator.unknown } : { deployments: operator.found },
        },
      });
    }
    case 'completion': {
      exactly(1, 'completion bash|zsh');
      const script = (await import('../kubectl-plugin/completion.js')).completionScript(args[0]!);
      if (!script) throw new UsageError(`completion for which shell? bash or zsh, got ${JSON.stringify(args[0])}`);
      out(script);
      return 0;
    }
    case 'fetch':
      allowFormats(cli, ['text', 'json', 'yaml']);
      exactly(1, 'fetch CERT.pem [--issuer ISSUER.pem] [--url URL] [--method GET|POST]');
      return finish(
        await fetchCommand(
          {
            certFile: args[0]!,
            ...(cli.issuer ? { issuerFile: cli.issuer } : {}),
            ...(cli.url ? { url: cli.url } : {}),
            method: oneOf(cli.method, ['GET', 'POST'] as const, '--method'),
            hashAlgorithm: oneOf<HashAlgorithm>(cli.hash, HASH_ALGORITHMS, '--hash'),
            nonce: cli.nonce,
            timeoutMs,
            ...(cli.save ? { saveTo: cli.save } : {}),
          },
          now,
        ),
      );
    case 'probe':
      allowFormats(cli, ['text', 'json', 'yaml']);
      exactly(1, 'probe HOST:PORT[@SERVERNAME] [--servername NAME] [--issuer ISSUER.pem]');
      return finish(
        await probeCommand(
          {
            endpoint: args[0]!,
            ...(cli.servername ? { servername: cli.servername } : {}),
            ...(cli.issuer ? { issuerFile: cli.issuer } : {}),
            timeoutMs,
          },
          now,
        ),
      );
    default:
      throw new UsageError(
        `unknown command ${JSON.stringify(command)}; one of get, inspect, refresh, fetch, probe, version, completion (kubectl ocsp --help)`,
      );
  }
}

function errorMessage(e: unknown): string {
  if (e instanceof Error && e.name === 'KubeApiError' && (e as Error & { status?: number }).status === 0)
    return `cannot reach the apiserver: ${e.message}`;
  if (e instanceof Error && e.name === 'KubeApiError' && (e as Error & { status?: number }).status === 403)
    return `not allowed: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

export async function run(argv: string[]): Promise<number> {
  try {
    return await execute(argv, (s) => process.stdout.write(s));
  } catch (e) {
    const known =
      e instanceof UsageError ||
      e instanceof NotFoundError ||
      e instanceof CrdsMissingError ||
      (e instanceof Error && e.name === 'KubeApiError');
    process.stderr.write(`kubectl-ocsp: ${errorMessage(e)}\n`);
    if (!known && e instanceof Error && process.env.KUBECTL_OCSP_DEBUG) process.stderr.write(`${e.stack ?? ''}\n`);
    return 2;
  }
}
