/**
 * Real TLS servers that consume a staple Secret, the way a pod would: the Secret's keys written
 * as a kubelet writes a Secret volume (one file per key, swapped atomically through `..data`),
 * HAProxy (Debian 2.6) and nginx (Debian nginx-light) run in the foreground from a temp dir of
 * their own (config, pid, log; no system config), on 127.0.0.1 and a free port, and a client
 * (`openssl s_client -status`, plus node:tls for the raw bytes) to see what they serve.
 *
 * Every wait is bounded; every process is started in a process group of its own so that `stop()`
 * (and, as a last resort, this process's exit) ends the master and its workers together.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, readlink, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { connect as netConnect, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { freePort, runOpenssl, tempFiles } from './openssl.js';

export const HAPROXY = process.env.HAPROXY ?? '/usr/sbin/haproxy';
export const NGINX = process.env.NGINX ?? '/usr/sbin/nginx';

// ---------------------------------------------------------------- the Secret volume

/**
 * Writes `data` (a Secret's `data`: base64 values) into `dir` the way the kubelet's AtomicWriter
 * does: the files go into a fresh hidden directory, `..data` is repointed to it with one rename,
 * and each key is a symlink `<key> -> ..data/<key>`. Keys no longer present lose their symlink.
 */
export async function writeSecretVolume(dir: string, data: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  const stamp = `..${new Date().toISOString().replace(/[-:.]/g, '_')}.${Math.random().toString(36).slice(2, 10)}`;
  await mkdir(join(dir, stamp), { mode: 0o755 });
  for (const [key, value] of Object.entries(data)) await writeFile(join(dir, stamp, key), Buffer.from(value, 'base64'), { mode: 0o644 });
  const previous = await readlink(join(dir, '..data')).catch(() => undefined);
  await rm(join(dir, '..data_tmp'), { force: true });
  await symlink(stamp, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  const entries = await readdir(dir);
  for (const key of Object.keys(data)) if (!entries.includes(key)) await symlink(join('..data', key), join(dir, key));
  for (const name of entries) if (!name.startsWith('..') && !(name in data)) await unlink(join(dir, name));
  if (previous && previous !== stamp) await rm(join(dir, previous), { recursive: true, force: true });
}

// ---------------------------------------------------------------- servers

export interface TlsServer {
  kind: 'haproxy' | 'nginx';
  port: number;
  /** the server's own temp dir: config, pid file, log */
  dir: string;
  /** the master process (foreground) */
  pid: number;
  /** re-reads the configuration and the files it names; resolves once the server says it has */
  reload(timeoutMs?: number): Promise<void>;
  /** the server's log so far */
  log(): Promise<string>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of running)
    if (p.pid && p.exitCode === null && p.signalCode === null)
      try {
        process.kill(-p.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
});

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Polls until `probe` is true, or throws `what` (with `context()` appended) after `timeoutMs`. */
async function until(what: string, probe: () => Promise<boolean>, timeoutMs: number, context: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${await context()}`);
    await sleep(50);
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    const t = setTimeout(() => (s.destroy(), resolve(false)), 1_000);
    s.once('connect', () => (clearTimeout(t), s.destroy(), resolve(true)));
    s.once('error', () => (clearTimeout(t), resolve(false)));
  });
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

interface Spawned {
  child: ChildProcess;
  exited: Promise<void>;
}

/** Runs `cmd` in the foreground, in a process group of its own, stdout+stderr appended to `logFile`. */
function spawnServer(cmd: string, args: string[], cwd: string, logFile: string): Spawned {
  const fd = openSync(logFile, 'a');
  const child = spawn(cmd, args, { cwd, stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  running.add(child);
  const exited = new Promise<void>((r) => child.once('exit', () => (running.delete(child), r())));
  return { child, exited };
}

async function stopGroup(s: Spawned, signal: NodeJS.Signals): Promise<void> {
  const { child, exited } = s;
  if (!child.pid || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, signal);
  } catch {
    return;
  }
  const done = await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)]);
  // the group: the master if it hung, and any worker it left behind
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // nothing left
  }
  if (!done) await Promise.race([exited, sleep(2_000)]);
}

async function startedOrExplain(kind: string, s: Spawned, port: number, log: () => Promise<string>, timeoutMs: number): Promise<void> {
  await until(
    `${kind} to listen on 127.0.0.1:${port}`,
    async () => {
      if (s.child.exitCode !== null || s.child.signalCode !== null)
        throw new Error(`${kind} exited (${s.child.exitCode ?? s.child.signalCode}) before listening:\n${await log()}`);
      return accepts(port);
    },
    timeoutMs,
    log,
  );
}

export interface ServerOptions {
  /** the directory the staple Secret is "mounted" at */
  secretDir: string;
  startTimeoutMs?: number;
}

/**
 * HAProxy 2.6 in master-worker mode, in the foreground (`-W -db`): `bind … ssl crt <secretDir>/haproxy.pem`,
 * which loads `haproxy.pem.ocsp` beside it. `reload()` sends SIGUSR2 to the master (it re-executes
 * and a new worker reads the files again). A stats socket at `<dir>/admin.sock` (level admin) takes
 * runtime commands such as `set ssl ocsp-response <base64>`: see `haproxyCommand`.
 */
export async function startHaproxy(o: ServerOptions): Promise<TlsServer & { socket: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'ocsp-haproxy-'));
  const port = await freePort();
  const logFile = join(dir, 'haproxy.log');
  const socket = join(dir, 'admin.sock');
  const cfg = [
    'global',
    `  pidfile ${join(dir, 'haproxy.pid')}`,
    `  stats socket ${socket} mode 600 level admin`,
    '  log stderr format raw local0 info',
    'defaults',
    '  mode http',
    '  log global',
    '  timeout connect 2s',
    '  timeout client 5s',
    '  timeout server 5s',
    'frontend tls',
    `  bind 127.0.0.1:${port} ssl crt ${join(o.secretDir, 'haproxy.pem')}`,
    '  http-request return status 200 content-type text/plain string ok',
    '',
  ].join('\n');
  await writeFile(join(dir, 'haproxy.cfg'), cfg);
  const log = () => readFile(logFile, 'utf8').catch(() => '');
  const s = spawnServer(HAPROXY, ['-W', '-db', '-f', join(dir, 'haproxy.cfg')], dir, logFile);
  const stop = async () => {
    await stopGroup(s, 'SIGTERM');
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await startedOrExplain('haproxy', s, port, log, o.startTimeoutMs ?? 10_000);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    kind: 'haproxy',
    port,
    dir,
    socket,
    pid: s.child.pid!,
    log,
    stop,
    async reload(timeoutMs = 10_000) {
      const before = await log();
      const ok = count(before, 'Loading success.');
      const failed = count(before, 'Loading failure!');
      process.kill(s.child.pid!, 'SIGUSR2');
      await until(
        'haproxy to reload',
        async () => {
          const now = await log();
          if (count(now, 'Loading failure!') > failed) throw new Error(`haproxy could not reload:\n${now.slice(before.length)}`);
          return count(now, 'Loading success.') > ok;
        },
        timeoutMs,
        async () => (await log()).slice(before.length),
      );
    },
  };
}

/** One command on HAProxy's runtime API (the stats socket); resolves with its answer. */
export function haproxyCommand(socket: string, command: string, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = netConnect(socket);
    let out = '';
    const t = setTimeout(() => c.destroy(new Error(`no answer from ${socket} in ${timeoutMs} ms`)), timeoutMs);
    c.on('connect', () => c.write(`${command}\n`));
    c.on('data', (d: Buffer) => (out += d.toString()));
    c.on('error', (e) => (clearTimeout(t), reject(e)));
    c.on('close', () => (clearTimeout(t), resolve(out)));
  });
}

/**
 * nginx (Debian 1.22, nginx-light) in the foreground (`daemon off`), `-p <dir> -e <dir>/error.log`,
 * every path it writes inside its temp dir: `ssl_certificate <secretDir>/tls.crt`, the key,
 * `ssl_stapling on; ssl_stapling_file <secretDir>/tls.ocsp-staple`. `reload()` sends SIGHUP to
 * the master and waits until it has started the new worker.
 */
export async function startNginx(o: ServerOptions & { serverName: string }): Promise<TlsServer> {
  const dir = await mkdtemp(join(tmpdir(), 'ocsp-nginx-'));
  const port = await freePort();
  const errorLog = join(dir, 'error.log');
  const p = (name: string) => join(dir, name);
  const conf = [
    'daemon off;',
    'master_process on;',
    'worker_processes 1;',
    `pid ${p('nginx.pid')};`,
    `lock_file ${p('nginx.lock')};`,
    `error_log ${errorLog} info;`,
    'events { worker_connections 64; }',
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${p(t)};`),
    '  server {',
    `    listen 127.0.0.1:${port} ssl;`,
    `    server_name ${o.serverName};`,
    `    ssl_certificate ${join(o.secretDir, 'tls.crt')};`,
    `    ssl_certificate_key ${join(o.secretDir, 'tls.key')};`,
    '    ssl_stapling on;',
    `    ssl_stapling_file ${join(o.secretDir, 'tls.ocsp-staple')};`,
    '    location / { return 200 "ok\\n"; }',
    '  }',
    '}',
    '',
  ].join('\n');
  await writeFile(p('nginx.conf'), conf);
  const log = () => readFile(errorLog, 'utf8').catch(() => '');
  const s = spawnServer(NGINX, ['-p', dir, '-e', errorLog, '-c', p('nginx.conf')], dir, p('nginx.out'));
  const stop = async () => {
    await stopGroup(s, 'SIGTERM');
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await startedOrExplain(
      'nginx',
      s,
      port,
      async () => (await log()) + (await readFile(p('nginx.out'), 'utf8').catch(() => '')),
      o.startTimeoutMs ?? 10_000,
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    kind: 'nginx',
    port,
    dir,
    pid: s.child.pid!,
    log,
    stop,
    async reload(timeoutMs = 10_000) {
      const before = await log();
      const workers = count(before, 'start worker process ');
      process.kill(s.child.pid!, 'SIGHUP');
      await until(
        'nginx to reload',
        async () => {
          const fresh = (await log()).slice(before.length);
          // a configuration nginx cannot load is reported and the old one kept
          if (/\[emerg\]/.test(fresh)) throw new Error(`nginx could not reload:\n${fresh}`);
          return count(before + fresh, 'start worker process ') > workers;
        },
        timeoutMs,
        async () => (await log()).slice(before.length),
      );
    },
  };
}

// ---------------------------------------------------------------- the client side

export interface StapleSeen {
  /** "successful", … as s_client prints the responseStatus */
  responseStatus: string;
  certStatus?: string;
  /** CertID serial, uppercase hex as openssl prints it */
  serial?: string;
  hashAlgorithm?: string;
  issuerNameHash?: string;
  issuerKeyHash?: string;
  thisUpdate?: string;
  nextUpdate?: string;
}

export interface TlsProbe {
  /** the served leaf's serial, uppercase hex */
  certSerial: string;
  /** OCSP hashes (SHA-1) of the served issuer, from `openssl x509 -ocspid`, when the chain carries it */
  issuerHashes?: { name: string; key: string };
  /** undefined when s_client says "no response sent" */
  staple?: StapleSeen;
  output: string;
}

const PEM_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Parses what `openssl s_client -status -showcerts` printed. */
export function parseSClient(output: string): { chainPem: string[]; staple?: StapleSeen; noStaple: boolean } {
  const noStaple = /OCSP response: no response sent/.test(output);
  const block = /OCSP response:\s*\n=+\n([\s\S]*?)\n=+\n/.exec(output)?.[1];
  // the served chain follows "Certificate chain"; the staple block before it may carry certificates of its own (the responder's)
  const chainPem = output.slice(Math.max(0, output.indexOf('\nCertificate chain\n'))).match(PEM_RE) ?? [];
  if (!/\nCertificate chain\n/.test(output)) chainPem.length = 0;
  if (!block) return { chainPem, noStaple };
  const f = (re: RegExp) => re.exec(block)?.[1];
  const staple: StapleSeen = { responseStatus: f(/OCSP Response Status: (\w+)/) ?? '' };
  const set = (k: keyof StapleSeen, re: RegExp) => {
    const v = f(re);
    if (v !== undefined) staple[k] = v;
  };
  set('certStatus', /Cert Status: (\w+)/);
  set('serial', /Certificate ID:[\s\S]*?Serial Number: ([0-9A-F]+)/);
  set('hashAlgorithm', /Certificate ID:[\s\S]*?Hash Algorithm: (\S+)/);
  set('issuerNameHash', /Issuer Name Hash: ([0-9A-F]+)/);
  set('issuerKeyHash', /Issuer Key Hash: ([0-9A-F]+)/);
  set('thisUpdate', /This Update: (.+)/);
  set('nextUpdate', /Next Update: (.+)/);
  return { chainPem, staple, noStaple };
}

/** `openssl s_client -connect 127.0.0.1:<port> -servername <name> -status -showcerts </dev/null`, parsed. */
export async function probeTls(port: number, servername: string): Promise<TlsProbe> {
  const r = await runOpenssl(['s_client', '-connect', `127.0.0.1:${port}`, '-servername', servername, '-status', '-showcerts'], {
    timeoutMs: 10_000,
  });
  const output = r.stdout + r.stderr;
  const parsed = parseSClient(output);
  const leafPem = parsed.chainPem[0];
  if (!leafPem) throw new Error(`s_client to 127.0.0.1:${port} got no certificate (exit ${r.code}):\n${output}`);
  if (!parsed.staple && !parsed.noStaple)
    throw new Error(`s_client to 127.0.0.1:${port} printed neither a staple nor "no response sent":\n${output}`);
  const probe: TlsProbe = { certSerial: new X509Certificate(leafPem).serialNumber.toUpperCase(), output };
  if (parsed.staple) probe.staple = parsed.staple;
  const issuerPem = parsed.chainPem[1];
  if (issuerPem) {
    const files = await tempFiles({ 'issuer.pem': issuerPem });
    try {
      const id = await runOpenssl(['x509', '-in', 'issuer.pem', '-noout', '-ocspid'], { cwd: files.dir });
      const name = /Subject OCSP hash: ([0-9A-F]+)/.exec(id.stdout)?.[1];
      const key = /Public key OCSP hash: ([0-9A-F]+)/.exec(id.stdout)?.[1];
      if (name && key) probe.issuerHashes = { name, key };
    } finally {
      await files.remove();
    }
  }
  return probe;
}

/**
 * Whether the staple a server served belongs to the certificate it served: a successful response
 * whose CertID names the served serial, and (SHA-1 CertIDs) the served issuer's name and key hash.
 */
export function stapleBelongs(p: TlsProbe): { ok: true } | { ok: false; why: string } {
  const s = p.staple;
  if (!s) return { ok: false, why: `no staple served with certificate ${p.certSerial}` };
  if (s.responseStatus !== 'successful') return { ok: false, why: `response status ${s.responseStatus}` };
  if (s.serial !== p.certSerial) return { ok: false, why: `staple for serial ${s.serial ?? '?'} served with certificate ${p.certSerial}` };
  if (s.hashAlgorithm === 'sha1' && p.issuerHashes) {
    if (s.issuerNameHash !== p.issuerHashes.name || s.issuerKeyHash !== p.issuerHashes.key) {
      return {
        ok: false,
        why: `staple's issuer hashes ${s.issuerNameHash}/${s.issuerKeyHash} are not the served issuer's ${p.issuerHashes.name}/${p.issuerHashes.key}`,
      };
    }
  }
  return { ok: true };
}

/** The raw staple bytes a server sends (node:tls, status_request), or undefined when it sends none. */
export function stapleBytes(port: number, servername: string, timeoutMs = 5_000): Promise<Uint8Array | undefined> {
  return new Promise((resolve, reject) => {
    let staple: Uint8Array | undefined;
    // tls.connect hands requestOCSP to the TLSSocket it makes; @types/node lists it only there
    const options: ConnectionOptions & { requestOCSP: boolean } = {
      host: '127.0.0.1',
      port,
      servername,
      requestOCSP: true,
      rejectUnauthorized: false,
    };
    const s = tlsConnect(options);
    const t = setTimeout(() => s.destroy(new Error(`TLS handshake with 127.0.0.1:${port} took over ${timeoutMs} ms`)), timeoutMs);
    s.on('OCSPResponse', (b: Buffer | null) => (staple = b && b.length ? new Uint8Array(b) : undefined));
    s.once('secureConnect', () => {
      clearTimeout(t);
      s.end();
      resolve(staple);
    });
    s.once('error', (e) => (clearTimeout(t), reject(e)));
  });
}

/** Probes until `done(probe)` holds (e.g. the new certificate is served), bounded. */
export async function probeUntil(
  port: number,
  servername: string,
  what: string,
  done: (p: TlsProbe) => boolean,
  timeoutMs = 10_000,
): Promise<TlsProbe> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = await probeTls(port, servername);
    if (done(p)) return p;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last s_client output:\n${p.output}`);
    await sleep(100);
  }
}
