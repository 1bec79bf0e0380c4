// A small typed REST client over the kubeconfig's connection: JSON in and out, one error type
// that carries the API's status code and reason, server-side apply and merge patch as first-class
// verbs. The generated clients of @kubernetes/client-node are avoided on purpose: their patch
// content types and error shapes differ per API, and the reconcilers need one uniform surface.
import { Agent as HttpAgent, request as httpRequest, STATUS_CODES } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { systemClock, type Clock } from '../base/clock.js';
import { accessFromKubeConfig, isClusterAccess, type ClusterAccess } from './cluster-access.js';
import { parseProxyUrl, TunnelingHttpAgent, TunnelingHttpsAgent } from './proxy.js';
import { defaultRetryPolicy, parseRetryAfter, throttleRetryDelay, TokenBucket, type RetryPolicy } from './rate-limit.js';
import type { KubeObject, KubeList, ResourceType } from './types.js';
import { isNotFound, KubeApiError, type JsonPatchOp, type KubeApi, type ListOptions, type ObjectRef, type WatchOptions } from './api.js';

// The error type and its predicates are part of the seam (api.ts); most callers import them from here.
export { KubeApiError, isAlreadyExists, isConflict, isNotFound, type ObjectRef } from './api.js';

/** PartialObjectMetadata(List): the apiserver strips everything but metadata before sending. */
const ACCEPT_METADATA_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
const ACCEPT_METADATA = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';

export function resourcePath(type: ResourceType, ref: ObjectRef = {}): string {
  const base = type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`;
  const ns = type.namespaced && ref.namespace ? `/namespaces/${encodeURIComponent(ref.namespace)}` : '';
  const name = ref.name ? `/${encodeURIComponent(ref.name)}` : '';
  const sub = ref.subresource ? `/${ref.subresource}` : '';
  return `${base}${ns}/${type.plural}${name}${sub}`;
}

type Query = Record<string, string | number | boolean | undefined>;
type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface KubeClientOptions {
  /** Every request's timeout; watches are separate. */
  timeoutMs?: number;
  userAgent?: string;
  /**
   * Client-side rate limit (client-go's QPS and Burst). The defaults leave twice the room the
   * scale fill needs (bench/staples.ts: 10,000 staples in 154 s at 3 writes each, ~195 writes/s)
   * while still stopping a hot loop.
   */
  qps?: number;
  burst?: number;
  /** How 429s and 503s with Retry-After are retried. */
  retry?: Partial<RetryPolicy>;
  clock?: Clock;
  /** Jitter source of the backoff without Retry-After (tests pin it). */
  random?: () => number;
}

export const DEFAULT_KUBE_API_QPS = 400;
export const DEFAULT_KUBE_API_BURST = 800;

/** What the brakes did, for tests and debugging. */
export interface KubeClientStats {
  requests: number;
  /** Requests that waited for a token, and the total wait. */
  throttled: number;
  throttledMs: number;
  /** Retries after a 429 or a 503 with Retry-After. */
  retries: number;
}

// Retried on a 503 with Retry-After too: sending them twice cannot do anything twice (PUT carries
// a resourceVersion, apply is declarative). A 429 is retried for every verb: the apiserver's
// flow control and max-in-flight filters answer it before any handler ran.
const idempotent = (method: HttpMethod, contentType: string | undefined) =>
  method === 'GET' || method === 'PUT' || method === 'DELETE' || (method === 'PATCH' && contentType === 'application/apply-patch+yaml');

export class KubeClient implements KubeApi {
  readonly server: string;
  private readonly timeoutMs: number;
  // Kept-alive connections: a controller talks to one apiserver all day.
  private readonly httpsAgent: HttpsAgent;
  private readonly httpAgent: HttpAgent;
  private readonly proxy: URL | undefined;
  private readonly limiter: TokenBucket;
  private readonly retry: RetryPolicy;
  private readonly clock: Clock;
  readonly stats: KubeClientStats = { requests: 0, throttled: 0, throttledMs: 0, retries: 0 };
  private readonly access: ClusterAccess;

  constructor(
    access: ClusterAccess | KubeConfig,
    private readonly options: KubeClientOptions = {},
  ) {
    this.access = isClusterAccess(access) ? access : accessFromKubeConfig(access);
    this.server = this.access.server;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.clock = options.clock ?? systemClock;
    this.limiter = new TokenBucket(options.qps ?? DEFAULT_KUBE_API_QPS, options.burst ?? DEFAULT_KUBE_API_BURST, this.clock);
    this.retry = { ...defaultRetryPolicy, ...options.retry };
    this.proxy = this.access.proxyUrl ? parseProxyUrl(this.access.proxyUrl) : undefined;
    const pool = { keepAlive: true, maxSockets: 32 };
    this.httpsAgent = this.proxy
      ? new TunnelingHttpsAgent(this.proxy, { ...pool, connectTimeoutMs: this.timeoutMs })
      : new HttpsAgent(pool);
    this.httpAgent = this.proxy ? new TunnelingHttpAgent(this.proxy, pool) : new HttpAgent(pool);
  }

  /** Waits for a token of the client-side rate limit. */
  private async throttle(): Promise<void> {
    this.stats.requests++;
    const waited = await this.limiter.acquire();
    if (waited > 0) {
      this.stats.throttled++;
      this.stats.throttledMs += waited;
    }
  }

  /**
   * One request, after a token; a 429 (any verb) or a 503 with Retry-After (idempotent verbs) is
   * retried after the server's Retry-After (capped) or a jittered backoff, a bounded number of times.
   */
  async request<T>(
    method: HttpMethod,
    path: string,
    opts: { query?: Query; body?: unknown; contentType?: string; accept?: string } = {},
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      await this.throttle();
      try {
        return await this.requestOnce<T>(method, path, opts);
      } catch (err) {
        if (!(err instanceof KubeApiError)) throw err;
        const retryable =
          err.status === 429 || (err.status === 503 && err.retryAfterMs !== undefined && idempotent(method, opts.contentType));
        if (!retryable) throw err;
        if (attempt >= this.retry.maxRetries) {
          throw new KubeApiError(
            err.status,
            err.reason,
            `${err.apiMessage}; gave up on ${method} after ${attempt + 1} attempt${attempt ? 's' : ''}`,
            err.path,
            err.retryAfterMs,
          );
        }
        const wait = throttleRetryDelay(this.retry, attempt, err.retryAfterMs, this.options.random);
        this.stats.retries++;
        await new Promise<void>((resolve) => this.clock.setTimer(resolve, wait));
      }
    }
  }

  private async requestOnce<T>(
    method: HttpMethod,
    path: string,
    opts: { query?: Query; body?: unknown; contentType?: string; accept?: string },
  ): Promise<T> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const body = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const options: RequestOptions = {
      method,
      headers: { Accept: opts.accept ?? 'application/json', 'User-Agent': this.options.userAgent ?? 'ocsp-operator' },
      timeout: this.timeoutMs,
    };
    // Client certificates, CA and the current token; the TLS material stays on the request
    // options, which the kept-alive pool keys its connections (and TLS sessions) on.
    await this.access.authorize(options);
    options.agent = url.protocol === 'https:' ? this.httpsAgent : this.httpAgent;
    if (body)
      Object.assign(options.headers ?? {}, { 'Content-Type': opts.contentType ?? 'application/json', 'Content-Length': body.length });
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const { status, text, retryAfter } = await new Promise<{ status: number; text: string; retryAfter?: string }>((resolve, reject) => {
      const req = send(url, options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), retryAfter: res.headers['retry-after'] }),
        );
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (err) => reject(new KubeApiError(0, 'Unreachable', err.message, path)));
      req.end(body);
    });
    if (status < 200 || status >= 300) throw apiError(status, text, path, parseRetryAfter(retryAfter, this.clock.now()));
    return (text ? JSON.parse(text) : undefined) as T;
  }

  get<T extends KubeObject>(type: ResourceType, namespace: string | undefined, name: string): Promise<T> {
    return this.request<T>('GET', resourcePath(type, { namespace, name }));
  }

  async getOrUndefined<T extends KubeObject>(type: ResourceType, namespace: string | undefined, name: string): Promise<T | undefined> {
    try {
      return await this.get<T>(type, namespace, name);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Lists every page; `metadataOnly` asks for PartialObjectMetadata (no data, spec or status). */
  async list<T extends KubeObject>(type: ResourceType, opts: ListOptions = {}): Promise<KubeList<T>> {
    const items: T[] = [];
    let resourceVersion = '';
    for await (const page of this.listPages<T>(type, opts)) {
      items.push(...page.items);
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
    }
    return { items, metadata: { resourceVersion } };
  }

  /** One page (500 objects) at a time, so a caller that keeps few of them never holds them all. */
  async *listPages<T extends KubeObject>(type: ResourceType, opts: ListOptions = {}): AsyncGenerator<KubeList<T>> {
    let cont: string | undefined;
    do {
      const page = await this.request<KubeList<T>>('GET', resourcePath(type, { namespace: opts.namespace }), {
        query: { limit: opts.pageSize ?? 500, continue: cont, labelSelector: opts.labelSelector },
        accept: opts.metadataOnly ? ACCEPT_METADATA_LIST : undefined,
      });
      cont = page.metadata?.continue || undefined;
      yield { items: page.items ?? [], metadata: page.metadata }; // an empty PartialObjectMetadataList has items: null
    } while (cont);
  }

  create<T extends KubeObject>(type: ResourceType, obj: T, query: Query = {}): Promise<T> {
    return this.request<T>('POST', resourcePath(type, { namespace: obj.metadata?.namespace }), { body: obj, query });
  }

  /** PUT with the object's resourceVersion: a 409 means someone else wrote first. */
  replace<T extends KubeObject>(type: ResourceType, obj: T, subresource?: string, query: Query = {}): Promise<T> {
    const ref = { namespace: obj.metadata?.namespace, name: obj.metadata?.name, subresource };
    return this.request<T>('PUT', resourcePath(type, ref), { body: obj, query });
  }

  mergePatch<T extends KubeObject>(type: ResourceType, ref: ObjectRef, patch: unknown): Promise<T> {
    return this.request<T>('PATCH', resourcePath(type, ref), { body: patch, contentType: 'application/merge-patch+json' });
  }

  jsonPatch<T extends KubeObject>(type: ResourceType, ref: ObjectRef, ops: JsonPatchOp[]): Promise<T> {
    return this.request<T>('PATCH', resourcePath(type, ref), { body: ops, contentType: 'application/json-patch+json' });
  }

  /** Server-side apply under one stable field manager per controller. */
  apply<T extends KubeObject>(type: ResourceType, obj: T, fieldManager: string, subresource?: string): Promise<T> {
    const ref = { namespace: obj.metadata?.namespace, name: obj.metadata?.name, subresource };
    return this.request<T>('PATCH', resourcePath(type, ref), {
      body: obj,
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager, force: true },
    });
  }

  async delete(type: ResourceType, namespace: string | undefined, name: string): Promise<void> {
    try {
      await this.request('DELETE', resourcePath(type, { namespace, name }));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /**
   * Starts a watch; `done` is called once when it ends, with the error if any. The
   * newline-delimited events are streamed here, over a socket of the watch's own: a watch holds
   * its connection for minutes. `metadataOnly` asks for PartialObjectMetadata.
   */
  async watch(
    type: ResourceType,
    opts: WatchOptions,
    onEvent: (phase: string, obj: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    const url = new URL(this.server + resourcePath(type, { namespace: opts.namespace }));
    const query: Query = {
      watch: true,
      allowWatchBookmarks: true,
      resourceVersion: opts.resourceVersion,
      timeoutSeconds: opts.timeoutSeconds,
    };
    Object.assign(query, { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector });
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    const abort = new AbortController();
    const options: RequestOptions = {
      method: 'GET',
      headers: {
        Accept: opts.metadataOnly ? ACCEPT_METADATA : 'application/json',
        'User-Agent': this.options.userAgent ?? 'ocsp-operator',
      },
      signal: abort.signal,
    };
    await this.throttle();
    await this.access.authorize(options);
    options.agent = !this.proxy
      ? false
      : url.protocol === 'https:'
        ? new TunnelingHttpsAgent(this.proxy, { connectTimeoutMs: this.timeoutMs })
        : new TunnelingHttpAgent(this.proxy);
    let finished = false;
    const finish = (err: unknown) => {
      if (finished) return;
      finished = true;
      abort.abort();
      done(err);
    };
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, options, (res) => {
      if (res.statusCode !== 200) {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => finish(apiError(status, Buffer.concat(chunks).toString('utf8'), url.pathname)));
        res.on('error', (err) => finish(err));
        return;
      }
      let pending = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        pending += chunk;
        let nl;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          if (!line.trim()) continue;
          let event: { type: string; object: unknown };
          try {
            event = JSON.parse(line) as { type: string; object: unknown };
          } catch {
            continue; // not an event line
          }
          onEvent(event.type, event.object);
        }
      });
      res.on('end', () => finish(null));
      res.on('close', () => finish(null));
      res.on('error', (err) => finish(abort.signal.aborted ? null : err));
    });
    req.on('error', (err) => finish(abort.signal.aborted ? null : err));
    // A peer that vanished without a FIN is noticed by TCP keepalive, not only by the next resync.
    req.on('socket', (socket) => socket.setKeepAlive(true, 30_000));
    req.end();
    return abort;
  }
}

/** A refusal as a KubeApiError; not every refusal is a Status object (priority and fairness answers 429 in plain text). */
function apiError(status: number, text: string, path: string, retryAfterMs?: number): KubeApiError {
  let reason = STATUS_CODES[status]?.replace(/[^A-Za-z]/g, '') || String(status);
  let message = text.slice(0, 500).trim();
  try {
    const st = JSON.parse(text) as { reason?: string; message?: string };
    reason = st.reason ?? reason;
    message = st.message ?? message;
  } catch {
    // not a Status object: keep the raw text
  }
  return new KubeApiError(status, reason, message, path, retryAfterMs);
}
