// The narrow surface of the Kubernetes API that the controllers, informers, leader election and
// the status writer use. KubeClient (client.ts) implements it over HTTP; test/support/fake-kube.ts
// implements it in memory for fast unit tests on the ManualClock. Errors are KubeApiError with the
// apiserver's status code and reason (404 NotFound, 409 Conflict / AlreadyExists, 410 Gone, 422
// Invalid), whichever side answered.
import type { KubeList, KubeObject, ResourceType } from './types.js';

export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    readonly apiMessage: string,
    readonly path: string,
    /** The answer's Retry-After, in ms, when it had one. */
    readonly retryAfterMs?: number,
  ) {
    super(`${status} ${reason}: ${apiMessage} (${path})`);
    this.name = 'KubeApiError';
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof KubeApiError && e.status === 404;
export const isConflict = (e: unknown): boolean => e instanceof KubeApiError && e.status === 409;
export const isAlreadyExists = (e: unknown): boolean => e instanceof KubeApiError && e.status === 409 && e.reason === 'AlreadyExists';
/** 422: the apiserver refused the object (schema, CEL or admission validation). */
export const isInvalid = (e: unknown): boolean => e instanceof KubeApiError && e.status === 422;

export interface ObjectRef {
  namespace?: string;
  name?: string;
  subresource?: string;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  /** PartialObjectMetadata: the server strips everything but metadata. */
  metadataOnly?: boolean;
  /** Objects a page (listPages; `list` gathers every page). Default 500. */
  pageSize?: number;
}

export interface WatchOptions {
  namespace?: string;
  resourceVersion: string;
  labelSelector?: string;
  fieldSelector?: string;
  timeoutSeconds: number;
  metadataOnly?: boolean;
}

/** One RFC 6902 operation (the subset the operator sends). */
export type JsonPatchOp = { op: 'test' | 'add' | 'replace'; path: string; value: unknown } | { op: 'remove'; path: string };

/** Query parameters of a create or a replace, such as its fieldManager. */
export type WriteQuery = Record<string, string | number | boolean | undefined>;

export interface KubeApi {
  get<T extends KubeObject>(type: ResourceType, namespace: string | undefined, name: string): Promise<T>;
  getOrUndefined<T extends KubeObject>(type: ResourceType, namespace: string | undefined, name: string): Promise<T | undefined>;
  list<T extends KubeObject>(type: ResourceType, opts?: ListOptions): Promise<KubeList<T>>;
  /** The same list a page at a time (one consistent snapshot), so a caller need not hold it all at once. */
  listPages<T extends KubeObject>(type: ResourceType, opts?: ListOptions): AsyncGenerator<KubeList<T>>;
  create<T extends KubeObject>(type: ResourceType, obj: T, query?: WriteQuery): Promise<T>;
  /** PUT with the object's resourceVersion: a 409 means someone else wrote first. */
  replace<T extends KubeObject>(type: ResourceType, obj: T, subresource?: string, query?: WriteQuery): Promise<T>;
  mergePatch<T extends KubeObject>(type: ResourceType, ref: ObjectRef, patch: unknown): Promise<T>;
  /** A JSON patch; a failed `test` is a 422. */
  jsonPatch<T extends KubeObject>(type: ResourceType, ref: ObjectRef, ops: JsonPatchOp[]): Promise<T>;
  /** Server-side apply under one stable field manager, forced. */
  apply<T extends KubeObject>(type: ResourceType, obj: T, fieldManager: string, subresource?: string): Promise<T>;
  /** Deletes; an object already gone is not an error. */
  delete(type: ResourceType, namespace: string | undefined, name: string): Promise<void>;
  /** Starts a watch; `done` is called once when it ends, with the error if any. */
  watch(
    type: ResourceType,
    opts: WatchOptions,
    onEvent: (phase: string, obj: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController>;
}
