// `kubectl ocsp fetch CERT.pem`: asks the certificate's responder (its AIA OCSP URL, or --url) for
// a response, exactly as the staple controller would, and prints the full validation verdict.
// `kubectl ocsp probe HOST:PORT`: one probe of a TLS server, as the prober does it.
import { readFileSync, writeFileSync } from 'node:fs';
import type { X509Certificate } from '@peculiar/x509';
import {
  buildOcspRequest,
  findIssuer,
  ocspUrls,
  parsePemChain,
  serialHex,
  validateOcspResponse,
  type HashAlgorithm,
} from '../ocsp/index.js';
import { describeBody } from '../ocsp/index.js';
import { stapleEntries, summarizeCertificate, type Problem } from '../probe/check.js';
import { endpointName, parseEndpoint } from '../probe/endpoint.js';
import { probeEndpoint } from '../probe/tls-probe.js';
import { fetchOcspResponse } from '../staple/fetch.js';
import { keyValues, type Row } from './format.js';
import type { CommandResult } from './inspect-secret.js';
import { UsageError } from './errors.js';
import { certificateRows, checkJson, lockstepText, responseJson, responseRows, stapleRows } from './staple-view.js';

function readChain(path: string, what: string): X509Certificate[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`${what} ${path}: ${(e as Error).message}`);
  }
  try {
    return parsePemChain(text.includes('-----BEGIN') ? text : new Uint8Array(readFileSync(path)));
  } catch (e) {
    throw new UsageError(`${what} ${path}: ${(e as Error).message}`);
  }
}

export interface FetchOptions {
  certFile: string;
  issuerFile?: string;
  url?: string;
  method: 'GET' | 'POST';
  hashAlgorithm: HashAlgorithm;
  nonce: boolean;
  timeoutMs: number;
  saveTo?: string;
}

export async function fetchCommand(o: FetchOptions, now: () => Date): Promise<CommandResult> {
  const chain = readChain(o.certFile, 'certificate file');
  const leaf = chain[0]!;
  const candidates = [...chain.slice(1), ...(o.issuerFile ? readChain(o.issuerFile, 'issuer file') : [])];
  const issuer = findIssuer(leaf, candidates);
  if (!issuer) {
    throw new UsageError(
      o.issuerFile
        ? `no certificate in ${o.issuerFile} issued ${serialHex(leaf)} ("${leaf.issuer}")`
        : `${o.certFile} holds no issuer of ${serialHex(leaf)} ("${leaf.issuer}"): pass --issuer ISSUER.pem`,
    );
  }
  const url = o.url ?? ocspUrls(leaf)[0];
  if (!url) throw new UsageError(`certificate ${serialHex(leaf)} names no OCSP responder (no AIA OCSP URL): pass --url`);
  const req = buildOcspRequest({ cert: leaf, issuer, hashAlgorithm: o.hashAlgorithm, nonce: o.nonce });
  const fetched = await fetchOcspResponse({ url, requestDer: req.der, method: o.method, timeoutMs: o.timeoutMs });
  const at = now();
  const cert = summarizeCertificate(leaf);
  const rows: Row[] = [
    ['Certificate', certificateRows(cert, { subject: issuer.subject, serial: serialHex(issuer) }, at)],
    [
      'Request',
      [
        ['responder', url],
        ['method', o.method],
        ['certid hash', o.hashAlgorithm],
        ['nonce', o.nonce ? 'yes' : 'no'],
      ],
    ],
  ];
  const problems: Problem[] = [];
  const json: Record<string, unknown> = {
    kind: 'OcspFetch',
    certificate: cert,
    issuer: { subject: issuer.subject, serial: serialHex(issuer) },
    request: { url, method: o.method, hashAlgorithm: o.hashAlgorithm, nonce: o.nonce },
  };
  if (!fetched.ok) {
    problems.push({ reason: fetched.reason, message: fetched.message });
    rows.push(['Response', [['fetched', `no, after ${Math.round(fetched.latencyMs)} ms`]]]);
    json.fetch = { ok: false, reason: fetched.reason, message: fetched.message, latencyMs: Math.round(fetched.latencyMs) };
  } else {
    if (o.saveTo) writeFileSync(o.saveTo, fetched.body);
    const verdict = validateOcspResponse(fetched.body, {
      cert: leaf,
      issuer,
      now: at,
      ...(req.nonce ? { nonce: req.nonce } : {}),
      signerMinRemainingMs: 0,
    });
    const resp: Row[] = [
      ['fetched', `${fetched.body.length} bytes in ${Math.round(fetched.latencyMs)} ms, content-type ${fetched.contentType || '(none)'}`],
      ['saved to', o.saveTo],
    ];
    json.fetch = {
      ok: true,
      bytes: fetched.body.length,
      contentType: fetched.contentType,
      latencyMs: Math.round(fetched.latencyMs),
      ...(o.saveTo ? { savedTo: o.saveTo } : {}),
    };
    if (verdict.ok) {
      resp.push(['valid', 'yes'], ...responseRows(verdict.response, at));
      json.verdict = { ok: true, response: responseJson(verdict.response) };
      if (verdict.response.certStatus === 'revoked') {
        const r = verdict.response;
        problems.push({
          reason: 'Revoked',
          message: `certificate ${cert.serial} is revoked${r.revocationTime ? ` since ${r.revocationTime.toISOString()}` : ''}${r.revocationReason ? ` (${r.revocationReason})` : ''}`,
        });
      } else if (verdict.response.certStatus === 'unknown') {
        problems.push({ reason: 'UnknownStatus', message: `the responder says "unknown" for certificate ${cert.serial}` });
      }
    } else {
      resp.push(['valid', `no: ${verdict.reason}`], ['why', verdict.message]);
      const entries = stapleEntries(fetched.body, issuer);
      if (entries)
        resp.push([
          'for',
          entries
            .map((e) => `serial ${e.serial} (${e.hashAlgorithm}${e.issuerMatches === false ? ', other issuer' : ''}) ${e.certStatus}`)
            .join(', '),
        ]);
      else if (fetched.body[0] !== 0x30) resp.push(['body', describeBody(fetched.body)]);
      json.verdict = { ok: false, reason: verdict.reason, message: verdict.message, ...(entries ? { for: entries } : {}) };
      problems.push({ reason: verdict.reason, message: verdict.message });
    }
    rows.push(['Response', resp]);
  }
  rows.push(['Verdict', problems.length ? `PROBLEM: ${problems.map((p) => `${p.reason}: ${p.message}`).join('; ')}` : 'OK']);
  return { exit: problems.length ? 1 : 0, text: keyValues(rows), json: { ...json, problems, ok: problems.length === 0 } };
}

export async function probeCommand(
  o: { endpoint: string; servername?: string; issuerFile?: string; timeoutMs: number },
  now: () => Date,
): Promise<CommandResult> {
  let e;
  try {
    e = parseEndpoint(o.endpoint, o.servername);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (o.issuerFile) e.issuerFile = o.issuerFile;
  const r = await probeEndpoint(e, { now, timeoutMs: o.timeoutMs });
  const rows: Row[] = [['Endpoint', `${endpointName(e)}${e.servername ? ` (SNI ${e.servername})` : ' (no SNI)'}`]];
  let json: Record<string, unknown> = { kind: 'TlsProbe', endpoint: endpointName(e), servername: e.servername ?? null };
  if (!r.ok) {
    rows.push(['Handshake', `failed: ${r.problem.message}`]);
    json = { ...json, handshake: false, problems: [r.problem] };
  } else {
    rows.push(
      ['Handshake', `ok in ${Math.round(r.latencyMs)} ms`],
      ['Served certificate', certificateRows(r.check.certificate, r.check.issuer, r.at)],
      ['Staple', stapleRows(r.check, r.at)],
      ['Lockstep', lockstepText(r.check)],
    );
    json = { ...json, handshake: true, ...checkJson(r.check) };
  }
  const problems = r.ok ? r.check.problems : [r.problem];
  rows.push(['Verdict', problems.length ? `PROBLEM: ${problems.map((p) => `${p.reason}: ${p.message}`).join('; ')}` : 'OK']);
  return { exit: problems.length ? 1 : 0, text: keyValues(rows), json: { ...json, problems, ok: problems.length === 0 } };
}
