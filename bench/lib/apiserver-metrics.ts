// Reading Prometheus text from the kube-apiserver (with the kubeconfig's credentials) and from a
// plain HTTP endpoint, and counting the apiserver's write requests by resource, verb and code.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/** GETs `path` from the kubeconfig's current server as text (for /metrics, which is not JSON). */
export async function apiserverText(kc: KubeConfig, path: string, timeoutMs = 30_000): Promise<string> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const url = new URL(cluster.server.replace(/\/+$/, '') + path);
  const options: RequestOptions = { method: 'GET', headers: { Accept: 'text/plain' }, timeout: timeoutMs };
  await kc.applyToHTTPSOptions(options);
  return getText(url, options, url.protocol === 'https:');
}

/** GETs a plain-HTTP URL as text (the operator's own /metrics). */
export function httpText(url: string, timeoutMs = 10_000): Promise<string> {
  return getText(new URL(url), { method: 'GET', timeout: timeoutMs }, false);
}

function getText(url: URL, options: RequestOptions, https: boolean): Promise<string> {
  const send = https ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) reject(new Error(`GET ${url.pathname}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
        else resolve(text);
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url.pathname}: no answer within ${options.timeout} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** Every sample of one metric family (`name{labels} value`) in Prometheus text format. */
export function samples(text: string, name: string): Sample[] {
  const out: Sample[] = [];
  const prefix = `${name}{`;
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix) && !line.startsWith(`${name} `)) continue;
    const close = line.lastIndexOf('}');
    const labelText = close > 0 ? line.slice(prefix.length, close) : '';
    const value = Number(
      line
        .slice(close > 0 ? close + 1 : name.length)
        .trim()
        .split(/\s+/)[0],
    );
    const labels: Record<string, string> = {};
    for (const m of labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1] ?? ''] = m[2] ?? '';
    out.push({ labels, value });
  }
  return out;
}

/** Sum of the samples of `name` whose labels match every given value. */
export function sumOf(text: string, name: string, match: Record<string, string> = {}): number {
  return samples(text, name)
    .filter((s) => Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

export const WRITE_VERBS = new Set(['POST', 'PUT', 'PATCH', 'APPLY', 'DELETE', 'DELETECOLLECTION']);

/** Write requests by "resource[/subresource] VERB code", from apiserver_request_total. */
export type WriteCounts = Map<string, number>;

export function writeCounts(text: string): WriteCounts {
  const out: WriteCounts = new Map();
  for (const s of samples(text, 'apiserver_request_total')) {
    const verb = s.labels.verb ?? '';
    if (!WRITE_VERBS.has(verb)) continue;
    const res = s.labels.resource ?? '?';
    const key = `${s.labels.subresource ? `${res}/${s.labels.subresource}` : res} ${verb} ${s.labels.code ?? '?'}`;
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
}

/** after − before, only the keys that changed. */
export function diffCounts(before: WriteCounts, after: WriteCounts): WriteCounts {
  const out: WriteCounts = new Map();
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d !== 0) out.set(k, d);
  }
  return out;
}

/** Total of the entries whose resource (before the space, subresource included) passes `keep`. */
export function totalWrites(counts: WriteCounts, keep: (resource: string) => boolean = () => true): number {
  let n = 0;
  for (const [k, v] of counts) if (keep(k.split(' ')[0] ?? '')) n += v;
  return n;
}
