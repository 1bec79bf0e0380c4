// `npm run bench -- NAME [flags]`: runs one benchmark (dist/bench/NAME.js, its flags passed on) in
// its own process, as `node dist/bench/NAME.js` would. Without a name, or with --help, lists them.
// Benchmarks are never part of `npm test`: each takes minutes and loads every core.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Every benchmark in bench/, with what it compares (test/install/npm-scripts.test.ts keeps this list whole). */
export const BENCHMARKS: Record<string, string> = {
  staples: 'N OcspStaples filled and refreshed by the operator, against openssl ocsp loops and a plain apiserver writer',
  'apiserver-writes': "what each of the staple controller's request kinds costs the apiserver, against a plain 4 KiB Secret create",
  'cache-memory': "the operator's RSS with 50,000 unrelated Secrets in the apiserver, against none",
  'metrics-scrape': "a /metrics scrape of 10,000 staples' series, against prom-client's own exposition of them",
  'ocsp-verify': 'parse + validate of OCSP responses, against the raw signature verify of the same key',
  responder: 'the responder under wrk, against nginx serving the same DER and a bare node:http server',
  signer: 'signatures per second through the signing pipeline on SoftHSM, against raw C_Sign',
  'pool-writes': 'apiserver writes an OcspResponderPool costs per minute, during a backlog and at rest',
  'pool-scale':
    "a pool over 1,000,000 PostgreSQL rows on the real node: signatures/s against the bare key's, RSS, start-up, new/revoked latency",
  'dashboard-picture': "draws the Grafana dashboard's queries from a running stack into docs/dashboard.png",
};

function usage(): string {
  const width = Math.max(...Object.keys(BENCHMARKS).map((n) => n.length));
  return [
    'usage: npm run bench -- NAME [flags]      (or: node dist/bench/NAME.js [flags])',
    '',
    ...Object.entries(BENCHMARKS).map(([name, what]) => `  ${name.padEnd(width)}  ${what}`),
    '',
    'Each file in bench/ says its flags in its header comment.',
    '',
  ].join('\n');
}

function main(argv: string[]): Promise<number> | number {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(usage());
    return 0;
  }
  if (!(name in BENCHMARKS)) {
    process.stderr.write(`no benchmark named ${JSON.stringify(name)}\n\n${usage()}`);
    return 2;
  }
  const script = fileURLToPath(new URL(`./${name}.js`, import.meta.url));
  if (!existsSync(script)) {
    process.stderr.write(`${script} is missing: run \`npm run build\` first\n`);
    return 2;
  }
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...rest], { stdio: 'inherit' });
    // Ctrl-C reaches the child too (same process group); wait for its own teardown.
    process.on('SIGINT', () => undefined);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

void Promise.resolve(main(process.argv.slice(2))).then((code) => process.exit(code));
