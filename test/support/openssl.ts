/**
 * The real `openssl ocsp` (3.x) as a peer: a responder on 127.0.0.1, a response signer working from
 * files, and a verifier whose verdict tests compare with ours. Everything runs in a temp dir that
 * `stop()` / the helper itself removes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/devenv/control-plane.js';
import { buildOcspRequest } from '../../src/ocsp/index.js';
import { stopProcessGroup } from '../../src/devenv/process-group.js';
import { indexTxt, type Ca, type IndexEntry, type Issued } from './pki.js';

export const OPENSSL = process.env.OPENSSL ?? '/usr/bin/openssl';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs openssl with `args` in `cwd`, bounded by `timeoutMs`. Never rejects on a non-zero exit. */
export function runOpenssl(args: string[], o: { cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(OPENSSL, args, { cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), o.timeoutMs ?? 20_000);
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A temp dir holding named files; `remove()` deletes it. */
export async function tempFiles(
  files: Record<string, string | Uint8Array>,
): Promise<{ dir: string; path(name: string): string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'ocsp-openssl-'));
  await Promise.all(Object.entries(files).map(([name, data]) => writeFile(join(dir, name), data)));
  return { dir, path: (name) => join(dir, name), remove: () => rm(dir, { recursive: true, force: true }) };
}

export { freePort };

/** POSTs an OCSP request; resolves with the status code and body. */
export function postOcsp(
  url: string,
  der: Uint8Array,
  timeoutMs = 5_000,
): Promise<{ status: number; body: Uint8Array; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: 'POST', headers: { 'content-type': 'application/ocsp-request', 'content-length': der.length }, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: new Uint8Array(Buffer.concat(chunks)), headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(der);
  });
}

/** GETs a URL; resolves with the status code and body. */
export function getUrl(url: string, timeoutMs = 5_000): Promise<{ status: number; body: Uint8Array }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'GET', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: new Uint8Array(Buffer.concat(chunks)) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Who signs: the CA itself, or a delegated responder certificate (with its key). */
export interface SignerFiles {
  ca: Ca;
  /** delegated responder; the CA signs when absent */
  responder?: Issued;
}

function signerArgs(s: SignerFiles): { files: Record<string, string>; args: string[] } {
  const signer = s.responder ?? { certPem: s.ca.certPem, keyPem: s.ca.keyPem };
  return {
    files: { 'ca.pem': s.ca.certPem, 'rsigner.pem': signer.certPem, 'rkey.pem': signer.keyPem },
    args: ['-CA', 'ca.pem', '-rsigner', 'rsigner.pem', '-rkey', 'rkey.pem'],
  };
}

function validityArgs(o: { nmin?: number; ndays?: number }): string[] {
  return [...(o.nmin !== undefined ? ['-nmin', String(o.nmin)] : []), ...(o.ndays !== undefined ? ['-ndays', String(o.ndays)] : [])];
}

export interface ResponderHandle {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export interface OpensslResponderOptions extends SignerFiles {
  indexEntries: IndexEntry[];
  /** nextUpdate = now + nmin minutes / ndays days; without either openssl omits nextUpdate */
  nmin?: number;
  ndays?: number;
  /** more arguments, e.g. ['-rmd', 'sha384'] or ['-resp_key_id'] */
  extraArgs?: string[];
  /** a request that openssl answers when it is up; by default one for the first index entry */
  probeRequest?: Uint8Array;
  startTimeoutMs?: number;
}

/**
 * Runs `openssl ocsp -index … -port <free port>` and resolves once it answers a real request (an empty
 * connection makes it spin, so the probe is a whole OCSP request). Traffic goes to 127.0.0.1 only.
 */
export async function startOpensslResponder(o: OpensslResponderOptions): Promise<ResponderHandle> {
  const first = o.indexEntries[0];
  if (!o.probeRequest && !first) throw new Error('startOpensslResponder: no index entry to probe with; pass probeRequest');
  const probe = o.probeRequest ?? buildOcspRequest({ cert: first!.cert, issuer: o.ca.cert }).der;
  const s = signerArgs(o);
  const tmp = await tempFiles({ ...s.files, 'index.txt': indexTxt(o.indexEntries), 'index.txt.attr': 'unique_subject = no\n' });
  let child: ChildProcess | undefined;
  const stop = async (): Promise<void> => {
    // With -multi the master forks workers into its group and ignores SIGTERM.
    if (child) await stopProcessGroup(child, 2_000);
    await tmp.remove();
  };
  try {
    const port = await freePort();
    child = spawn(
      OPENSSL,
      ['ocsp', '-index', 'index.txt', '-port', String(port), ...s.args, '-ignore_err', ...validityArgs(o), ...(o.extraArgs ?? [])],
      { cwd: tmp.dir, stdio: ['ignore', 'ignore', 'pipe'], detached: true },
    );
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const url = `http://127.0.0.1:${port}/`;
    const deadline = Date.now() + (o.startTimeoutMs ?? 10_000);
    for (let attempt = 0; ; attempt++) {
      if (child.exitCode !== null) throw new Error(`openssl ocsp exited with ${child.exitCode}: ${stderr}`);
      try {
        const r = await postOcsp(url, probe, 2_000);
        if (r.status === 200) return { url, port, stop };
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`openssl ocsp did not answer on ${url} after ${attempt + 1} attempts: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Has openssl answer `requestDer` from an index, without a server (`-reqin … -respout …`). */
export async function opensslRespond(
  o: SignerFiles & { indexEntries: IndexEntry[]; requestDer: Uint8Array; nmin?: number; ndays?: number; extraArgs?: string[] },
): Promise<Uint8Array> {
  const s = signerArgs(o);
  const tmp = await tempFiles({
    ...s.files,
    'index.txt': indexTxt(o.indexEntries),
    'index.txt.attr': 'unique_subject = no\n',
    'req.der': o.requestDer,
  });
  try {
    const r = await runOpenssl(
      ['ocsp', '-index', 'index.txt', ...s.args, '-reqin', 'req.der', '-respout', 'resp.der', ...validityArgs(o), ...(o.extraArgs ?? [])],
      { cwd: tmp.dir },
    );
    if (r.code !== 0) throw new Error(`openssl ocsp -respout failed (${r.code}): ${r.stderr}`);
    return new Uint8Array(await readFile(tmp.path('resp.der')));
  } finally {
    await tmp.remove();
  }
}

/** Has openssl write a request (`-reqout`) for `cert` issued by `issuer`. */
export async function opensslRequest(o: {
  certPem: string;
  issuerPem: string;
  digest?: 'sha1' | 'sha256' | 'sha384' | 'sha512';
  nonce?: boolean;
}): Promise<Uint8Array> {
  const tmp = await tempFiles({ 'cert.pem': o.certPem, 'issuer.pem': o.issuerPem });
  try {
    const r = await runOpenssl(
      [
        'ocsp',
        '-issuer',
        'issuer.pem',
        ...(o.digest ? [`-${o.digest}`] : []),
        '-cert',
        'cert.pem',
        o.nonce === false ? '-no_nonce' : '-nonce',
        '-reqout',
        'req.der',
      ],
      { cwd: tmp.dir },
    );
    if (r.code !== 0) throw new Error(`openssl ocsp -reqout failed (${r.code}): ${r.stderr}`);
    return new Uint8Array(await readFile(tmp.path('req.der')));
  } finally {
    await tmp.remove();
  }
}

export interface OpensslVerdict {
  /** "Response verify OK" */
  verified: boolean;
  /** the status line for the certificate, when openssl printed one */
  status?: 'good' | 'revoked' | 'unknown';
  /** false when openssl warned "Status times invalid" */
  timesValid: boolean;
  /** openssl could not even read the body as an OCSP response */
  unreadable: boolean;
  /** a non-successful responseStatus as openssl names it, e.g. 'trylater' */
  responseStatus?: string;
  code: number | null;
  output: string;
}

/**
 * `openssl ocsp -respin <body> -issuer … -cert … -CAfile …` and what it concluded. `verifyOther` adds
 * untrusted certificates for finding the signer; `trustOther` passes -trust_other.
 */
export async function opensslVerifyResponse(o: {
  response: Uint8Array;
  issuerPem: string;
  certPem?: string;
  caPem: string;
  verifyOther?: string[];
  /** the request the response answers: openssl then checks the nonce (otherwise -no_nonce); certPem is ignored then, as openssl would build a new request from it */
  requestDer?: Uint8Array;
  /** CertID hash openssl uses to look the certificate up in the response (default sha1) */
  digest?: 'sha1' | 'sha256' | 'sha384' | 'sha512';
  extraArgs?: string[];
}): Promise<OpensslVerdict> {
  const files: Record<string, string | Uint8Array> = { 'resp.der': o.response, 'issuer.pem': o.issuerPem, 'ca.pem': o.caPem };
  if (o.certPem) files['cert.pem'] = o.certPem;
  if (o.requestDer) files['req.der'] = o.requestDer;
  if (o.verifyOther?.length) files['other.pem'] = o.verifyOther.join('\n');
  const tmp = await tempFiles(files);
  try {
    const r = await runOpenssl(
      [
        'ocsp',
        '-respin',
        'resp.der',
        '-issuer',
        'issuer.pem',
        '-CAfile',
        'ca.pem',
        ...(o.requestDer ? ['-reqin', 'req.der'] : ['-no_nonce']),
        ...(o.certPem && !o.requestDer ? [...(o.digest ? [`-${o.digest}`] : []), '-cert', 'cert.pem'] : []),
        ...(o.verifyOther?.length ? ['-verify_other', 'other.pem'] : []),
        ...(o.extraArgs ?? []),
      ],
      { cwd: tmp.dir },
    );
    const output = r.stdout + r.stderr;
    // with -cert openssl names the file; with -reqin it prints the serial
    const status = /(?:cert\.pem|[0-9A-F]+): (good|revoked|unknown)/.exec(output)?.[1] as OpensslVerdict['status'];
    const responseStatus = /Responder Error: (\w+)/.exec(output)?.[1];
    return {
      verified: /Response verify OK/.test(output),
      ...(status ? { status } : {}),
      ...(responseStatus ? { responseStatus } : {}),
      timesValid: !/Status times invalid/.test(output),
      unreadable: /Error reading OCSP response|Could not read|error:.*(?:asn1|ASN1)/i.test(output) && !/Response verify/.test(output),
      code: r.code,
      output,
    };
  } finally {
    await tmp.remove();
  }
}
