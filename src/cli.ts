#!/usr/bin/env node
// ocsp-operator: the executable (the image's entry point, package.json "bin"), one subcommand per
// role; each is a module of src/cmd/ (`run(argv)` to an exit code) and this file only picks one.
//   controller  the operator (staple and pool controllers; leader-elected)
//   responder   serves pre-signed OCSP responses
//   signer      pre-signs OCSP responses into the store
//   probe       checks what TLS servers staple

interface Command {
  run(argv: string[]): Promise<number>;
}

// Each role loads only its own code (only signer pods need pkcs11js; pool pods no controllers).
const COMMANDS = new Map<string, () => Promise<Command>>([
  ['controller', () => import('./cmd/controller.js')],
  ['responder', () => import('./cmd/responder.js')],
  ['signer', () => import('./cmd/signer.js')],
  ['probe', () => import('./cmd/probe.js')],
]);

async function usage(): Promise<string> {
  const { controllerUsage } = await import('./cmd/controller.js');
  return `usage: ocsp-operator <command> [flags]

commands:
${controllerUsage}  responder    serve pre-signed OCSP responses            (ocsp-operator responder --help)
  signer       pre-sign OCSP responses into the store     (ocsp-operator signer --help)
  probe        check what TLS servers staple, as metrics  (ocsp-operator probe --help)
`;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const load = command === undefined ? undefined : COMMANDS.get(command);
  if (load) return (await load()).run(rest);
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(await usage());
    return command === undefined ? 2 : 0;
  }
  process.stderr.write(`unknown command ${JSON.stringify(command)}\n${await usage()}`);
  return 2;
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
