// What the commands' flag parsing shares: --help, and the checks of numbers, booleans and addresses
// (each message names the flag, as the user typed it).

/** Writes `usage: ocsp-operator NAME [flags]` and the command's text when the arguments ask for help. */
export function helpRequested(argv: string[], name: string, text: string): boolean {
  if (!argv.includes('-h') && !argv.includes('--help')) return false;
  process.stdout.write(`usage: ocsp-operator ${name} [flags]\n\n${text}`);
  return true;
}

export function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} must be a positive integer, got ${JSON.stringify(text)}`);
  return n;
}

/** `true` or `false` (a flag the chart always spells out, so a string: `--pools=false`). */
export function boolFlag(text: string, flag: string): boolean {
  if (text === 'true' || text === 'false') return text === 'true';
  throw new Error(`${flag} must be true or false, got ${JSON.stringify(text)}`);
}

/** HOST:PORT (an empty host or `[::]`-style brackets allowed; no host is every interface). */
export function hostPort(addr: string, flag: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  const port = Number(addr.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`${flag} must be HOST:PORT, got ${JSON.stringify(addr)}`);
  return { host: addr.slice(0, i).replace(/^\[|\]$/g, '') || '0.0.0.0', port };
}
