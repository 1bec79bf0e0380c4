#!/usr/bin/env node
// ocsp-operator: one executable, one subcommand per role.
//   controller  the operator (staple controller; leader-elected)
//   responder   serves pre-signed OCSP responses
//   signer      pre-signs OCSP responses into the store
//   probe       checks what TLS servers staple
import { parseArgs } from 'node:util';
import { runController } from './controller-main.js';
import { DEFAULT_KUBE_API_BURST, DEFAULT_KUBE_API_QPS } from './kube/client.js';

// What the chart and the Dockerfile build and name by default.
const DEFAULT_IMAGE = 'ocsp-operator:0.1.0';
// The Dockerfile's `signer` target, under its own repository (the chart's signerImage).
const DEFAULT_SIGNER_IMAGE = 'ocsp-operator-signer:0.1.0';

const usage = `usage: ocsp-operator <command> [flags]

commands:
  controller   run the operator's controllers
               --kubeconfig PATH            (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)
               --health-addr HOST:PORT      /metrics, /healthz, /readyz (default 0.0.0.0:8080)
               --leader-elect               hold a Lease so only one replica reconciles
               --leader-election-namespace NS (default: the pod's namespace, else default)
               --lease-name NAME            (default ocsp-operator)
               --namespaces a,b             watch only these namespaces (default: all)
               --workers N                  concurrent reconciles (default 8)
               --resync DURATION-MS         full relist period in ms (default 600000)
               --pool-image IMAGE           image of responder pools' pods (default ${DEFAULT_IMAGE})
               --pool-signer-image IMAGE    image of PKCS#11 signer pods (default ${DEFAULT_SIGNER_IMAGE})
               --probe-endpoints-file PATH  also probe these TLS endpoints' staples (see \`probe --help\`)
               --probe-interval-ms N        (default 60000)
               --kube-api-qps N             client-side rate limit of API requests (default ${DEFAULT_KUBE_API_QPS})
               --kube-api-burst N           requests allowed back to back (default ${DEFAULT_KUBE_API_BURST})
               --pools true|false           run the OcspResponderPool controller (default true; the
                                            chart's pools.enabled=false passes false)
  responder    serve pre-signed OCSP responses            (ocsp-operator responder --help)
  signer       pre-sign OCSP responses into the store     (ocsp-operator signer --help)
  probe        check what TLS servers staple, as metrics  (ocsp-operator probe --help)
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'controller': {
      const { values } = parseArgs({
        args: rest,
        options: {
          kubeconfig: { type: 'string' },
          'health-addr': { type: 'string', default: '0.0.0.0:8080' },
          'leader-elect': { type: 'boolean', default: false },
          'leader-election-namespace': { type: 'string' },
          'lease-name': { type: 'string', default: 'ocsp-operator' },
          namespaces: { type: 'string', default: '' },
          workers: { type: 'string', default: '8' },
          resync: { type: 'string', default: '600000' },
          'lease-duration-ms': { type: 'string', default: '15000' },
          'pool-image': { type: 'string', default: DEFAULT_IMAGE },
          'pool-signer-image': { type: 'string', default: DEFAULT_SIGNER_IMAGE },
          'probe-endpoints-file': { type: 'string' },
          'probe-interval-ms': { type: 'string', default: '60000' },
          pools: { type: 'string', default: 'true' },
          'kube-api-qps': { type: 'string', default: String(DEFAULT_KUBE_API_QPS) },
          'kube-api-burst': { type: 'string', default: String(DEFAULT_KUBE_API_BURST) },
        },
        strict: true,
      });
      return runController({
        kubeconfig: values.kubeconfig,
        healthAddr: values['health-addr'],
        leaderElect: values['leader-elect'],
        leaderElectionNamespace: values['leader-election-namespace'],
        leaseName: values['lease-name'],
        namespaces: values.namespaces.split(',').map((s) => s.trim()).filter(Boolean),
        workers: positiveInt(values.workers, '--workers'),
        resyncMs: positiveInt(values.resync, '--resync'),
        leaseDurationMs: positiveInt(values['lease-duration-ms'], '--lease-duration-ms'),
        poolImage: values['pool-image'],
        poolSignerImage: values['pool-signer-image'],
        probeEndpointsFile: values['probe-endpoints-file'],
        probeIntervalMs: positiveInt(values['probe-interval-ms'], '--probe-interval-ms'),
        pools: boolFlag(values.pools, '--pools'),
        kubeApiQps: positiveInt(values['kube-api-qps'], '--kube-api-qps'),
        kubeApiBurst: positiveInt(values['kube-api-burst'], '--kube-api-burst'),
      });
    }
    // Each pod role loads only its own code (only signer pods need pkcs11js).
    case 'responder': {
      const { runResponderCommand, responderUsage } = await import('./responder/cli.js');
      return withHelp('responder', responderUsage, rest, runResponderCommand);
    }
    case 'signer': {
      const { runSignerCommand, signerUsage } = await import('./signer/cli.js');
      return withHelp('signer', signerUsage, rest, runSignerCommand);
    }
    case 'probe': {
      const { runProbe } = await import('./probe/main.js');
      return runProbe(rest);
    }
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(usage);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command ${JSON.stringify(command)}\n${usage}`);
      return 2;
  }
}

function withHelp(name: string, text: string, args: string[], run: (args: string[]) => Promise<number>): Promise<number> {
  if (args.includes('-h') || args.includes('--help')) {
    process.stdout.write(`usage: ocsp-operator ${name} [flags]\n\n${text}`);
    return Promise.resolve(0);
  }
  return run(args);
}

/** `true` or `false` (a flag the chart always spells out, so a string: `--pools=false`). */
function boolFlag(text: string, flag: string): boolean {
  if (text === 'true' || text === 'false') return text === 'true';
  throw new Error(`${flag} must be true or false, got ${JSON.stringify(text)}`);
}

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} must be a positive integer, got ${JSON.stringify(text)}`);
  return n;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`ocsp-operator: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
