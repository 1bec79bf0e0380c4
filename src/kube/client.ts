// A small typed REST client over the kubeconfig's connection: JSON in and out, one error type
// that carries the API's status code and reason, server-side apply and merge patch as first-class
// verbs. The generated clients of @kubernetes/client-node are avoided on purpose: their patch
// content types and error shapes differ per API, and the reconcilers need one uniform surface.
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import type { KubeObject, KubeList, ResourceType } from './types.js';

export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly path: string,
  ) {
    super(`${status} ${reason}: ${message} (${path})`);
    this.name = 'KubeApiError';
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof KubeApiError && e.status === 404;
export const isConflict = (e: unknown): boolean => e instanceof KubeApiError && e.status === 409;
export const isAlreadyExists = (e: unknown): boolean =>
  e instanceof KubeApiError && e.status === 409 && e.reason === 'AlreadyExists';

export interface ObjectRef {
  namespace?: string;
  name?: string;
  subresource?: string;
}

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
}

export class KubeClient {
  readonly server: string;
  private readonly timeoutMs: number;
  // Kept-alive connections: a controller talks to one apiserver all day.
  private readonly httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 32 });
  private readonly httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 32 });

  constructor(
    readonly kubeConfig: KubeConfig,
    private readonly options: KubeClientOptions = {},
  ) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.server = cluster.server.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  async request<T>(method: HttpMethod, path: string, opts: { query?: Query; body?: unknown; contentType?: string } = {}): Promise<T> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const body = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const options: RequestOptions = {
      method,
      headers: { Accept: 'application/json', 'User-Agent': this.options.userAgent ?? 'ocsp-operator' },
      timeout: this.timeoutMs,
    };
    // Client certificates, CA and tokens (re-read each time: in-cluster tokens rotate).
    await this.kubeConfig.applyToHTTPSOptions(options);
    // client-node sets a fresh agent per call; keep ours so connections (and TLS sessions) are
    // reused. The TLS material stays on the request options, which the pool keys on.
    options.agent = url.protocol === 'https:' ? this.httpsAgent : this.httpAgent;
    if (body) Object.assign(options.headers ?? {}, { 'Content-Type': opts.contentType ?? 'application/json', 'Content-Length': body.length });
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = send(url, options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (err) => reject(new KubeApiError(0, 'Unreachable', err.message, path)));
      req.end(body);
    });
    if (status < 200 || status >= 300) {
      let reason = String(status);
      let message = text.slice(0, 500);
      try {
        const st = JSON.parse(text) as { reason?: string; message?: string };
        reason = st.reason ?? reason;
        message = st.message ?? message;
      } catch {
        // not a Status object: keep the raw text
      }
      throw new KubeApiError(status, reason, message, path);
    }
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

  /** Lists every page. */
  async list<T extends KubeObject>(type: ResourceType, opts: { namespace?: string; labelSelector?: string } = {}): Promise<KubeList<T>> {
    const items: T[] = [];
    let cont: string | undefined;
    let resourceVersion = '';
    do {
      const page = await this.request<KubeList<T>>('GET', resourcePath(type, { namespace: opts.namespace }), {
        query: { limit: 500, continue: cont, labelSelector: opts.labelSelector },
      });
      items.push(...page.items);
      cont = page.metadata?.continue || undefined;
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
    } while (cont);
    return { items, metadata: { resourceVersion } };
  }

  create<T extends KubeObject>(type: ResourceType, obj: T, query: Query = {}): Promise<T> {
    return this.request<T>('POST', resourcePath(type, { namespace: obj.metadata?.namespace }), { body: obj, query });
  }

  /** PUT with the object's resourceVersion: a 409 means someone else wrote first. */
  replace<T extends KubeObject>(type: ResourceType, obj: T, subresource?: string): Promise<T> {
    const ref = { namespace: obj.metadata?.namespace, name: obj.metadata?.name, subresource };
    return this.request<T>('PUT', resourcePath(type, ref), { body: obj });
  }

  mergePatch<T extends KubeObject>(type: ResourceType, ref: ObjectRef, patch: unknown): Promise<T> {
    return this.request<T>('PATCH', resourcePath(type, ref), { body: patch, contentType: 'application/merge-patch+json' });
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

  /** Starts a watch; `done` is called once when it ends, with the error if any. */
  watch(
    type: ResourceType,
    opts: { namespace?: string; resourceVersion: string; labelSelector?: string; fieldSelector?: string; timeoutSeconds: number },
    onEvent: (phase: string, obj: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    const watch = new Watch(this.kubeConfig);
    return watch.watch(
      resourcePath(type, { namespace: opts.namespace }),
      {
        resourceVersion: opts.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: opts.timeoutSeconds,
        labelSelector: opts.labelSelector,
        // metadata.name=X lets RBAC limit the watch to resourceNames [X]
        fieldSelector: opts.fieldSelector,
      },
      onEvent,
      done,
    );
  }
}
