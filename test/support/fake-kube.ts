// An in-memory Kubernetes API behind the KubeApi seam (src/kube/api.ts), for fast unit tests of the
// informer, controllers and reconcilers on the ManualClock. A test double, small and honest: the
// contract it shares with the real apiserver is test/support/kube-contract.ts, run against both
// (test/kube/fake-kube.test.ts, test/kube/kube-contract.k8s.test.ts), and the kube and node tests
// against real servers stay the proof.
//
// What it models:
//  - one resourceVersion counter for everything; a write that changes nothing keeps the version and
//    sends no watch event, as the apiserver does;
//  - 404 NotFound, 409 AlreadyExists on create, 409 Conflict on a PUT (or apply, or patch) that
//    carries a stale resourceVersion, 422 Invalid on a failed JSON-patch `test`;
//  - uid, creationTimestamp (from the clock), metadata.generation bumped when anything but metadata
//    and status changes (custom resources and apps/*, as on a real cluster);
//  - the status subresource (custom resources and apps/*): writes to the object ignore status,
//    writes to /status ignore everything else;
//  - label selectors (=, ==, !=, exists, !exists, in, notin) and the metadata.name field selector;
//  - watches from a resourceVersion, delivered in order on a later event-loop turn (a write's
//    answer comes before its event, as over the wire); an object that starts or stops
//    matching a watch's selector is ADDED or DELETED (its last matching version) for it; a
//    resourceVersion older than the kept
//    history (see `compact`) gets an ERROR event with code 410 and the watch ends; timeoutSeconds
//    ends a watch on the clock;
//  - server-side apply as a merge of the applied object, plus field ownership per field manager
//    reduced to its effect that matters: a field this manager applied before and no longer applies
//    (and no other manager applies) is removed. managedFields is not returned;
//  - PartialObjectMetadata lists and watches (metadataOnly);
//  - deleting an object deletes its dependents (ownerReferences by uid), synchronously.
// What it does not model: admission, defaulting, OpenAPI validation or pruning (an unknown field is
// kept), apply conflicts (the operator always forces), fields owned through update, finalizers and
// deletionTimestamp, bookmarks, pagination, RBAC, dry-run, rate limits and Retry-After.
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock, type Timer } from '../../src/base/clock.js';
import {
  KubeApiError,
  type WriteQuery,
  type JsonPatchOp,
  type KubeApi,
  type ListOptions,
  type ObjectRef,
  type WatchOptions,
} from '../../src/kube/api.js';
import { resourcePath } from '../../src/kube/client.js';
import type { KubeList, KubeObject, ObjectMeta, ResourceType } from '../../src/kube/types.js';
import { sameJson } from '../../src/runtime/same-json.js';

type Obj = KubeObject & Record<string, unknown>;
type Path = string[];
type Phase = 'ADDED' | 'MODIFIED' | 'DELETED';

interface Stored {
  type: ResourceType;
  obj: Obj;
  /** The leaf paths each field manager applied last (per subresource), as JSON of the path. */
  applied: Map<string, Set<string>>;
}

interface Change {
  rv: number;
  typeKey: string;
  phase: Phase;
  obj: Obj;
  /** The version before a MODIFIED: a watch whose selector it matched but no longer matches sees DELETED. */
  old?: Obj;
}

export type FakeVerb = 'create' | 'replace' | 'mergePatch' | 'jsonPatch' | 'apply' | 'delete';

export interface FakeWrite {
  verb: FakeVerb;
  type: ResourceType;
  namespace?: string;
  name: string;
  subresource?: string;
  /** The field manager (apply, create with a fieldManager). */
  fieldManager?: string;
}

export interface FakeWriteRecord extends FakeWrite {
  /** Whether the write changed the object (a no-op keeps the resourceVersion). */
  changed: boolean;
  resourceVersion: string;
}

export interface FakeKubeOptions {
  clock?: Clock;
  /** Changes kept for watches that resume from a resourceVersion; older ones get 410 Gone. */
  historyLimit?: number;
}

/** Kinds with a status subresource and metadata.generation: custom resources and apps/* (not core, events, leases). */
const hasStatusSubresource = (t: ResourceType): boolean =>
  t.group !== '' && t.group !== 'events.k8s.io' && t.group !== 'coordination.k8s.io';

const typeKeyOf = (t: ResourceType): string => `${t.group}/${t.plural}`;
const keyOf = (namespace: string | undefined, name: string): string => (namespace ? `${namespace}/${name}` : name);
const clone = <T>(v: T): T => structuredClone(v);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export class FakeKube implements KubeApi {
  /** Every accepted write, in order; a hook that throws keeps its write out. */
  readonly writes: FakeWriteRecord[] = [];
  readonly counts = { get: 0, list: 0, watch: 0, conflicts: 0 };
  private readonly clock: Clock;
  private readonly historyLimit: number;
  private readonly store = new Map<string, Map<string, Stored>>();
  private readonly history: Change[] = [];
  /** Changes up to this resourceVersion are gone from the history. */
  private compactedThrough = 0;
  private rv = 0;
  private readonly watchers = new Set<FakeWatch>();
  private readonly hooks: Array<(w: FakeWrite) => void | Promise<void>> = [];

  constructor(opts: FakeKubeOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.historyLimit = opts.historyLimit ?? 10_000;
  }

  /**
   * Runs before every write is applied: a hook may write itself (a concurrent writer, to make the
   * next write's resourceVersion stale) or throw a KubeApiError (an injected refusal). Returns a remover.
   */
  beforeWrite(hook: (w: FakeWrite) => void | Promise<void>): () => void {
    this.hooks.push(hook);
    return () => {
      const i = this.hooks.indexOf(hook);
      if (i >= 0) this.hooks.splice(i, 1);
    };
  }

  /** The newest resourceVersion. */
  resourceVersion(): string {
    return String(this.rv);
  }

  /** Forgets the change history: a watch resuming from an older resourceVersion gets 410 Gone. */
  compact(): void {
    this.history.length = 0;
    this.compactedThrough = this.rv;
  }

  /** Ends every open watch, as an apiserver restart does (the watchers see a clean end). */
  closeWatches(err: unknown = null): void {
    for (const w of [...this.watchers]) w.close(err);
  }

  /** Watches open now. */
  openWatches(): number {
    return this.watchers.size;
  }

  /** True when no watch has an event waiting to be delivered. */
  delivered(): boolean {
    return [...this.watchers].every((w) => w.idle());
  }

  writesOf(type: ResourceType, f: Partial<Pick<FakeWrite, 'verb' | 'name' | 'subresource'>> = {}): FakeWriteRecord[] {
    return this.writes.filter(
      (w) =>
        typeKeyOf(w.type) === typeKeyOf(type) &&
        (f.verb === undefined || w.verb === f.verb) &&
        (f.name === undefined || w.name === f.name) &&
        (f.subresource === undefined || w.subresource === f.subresource),
    );
  }

  // --- reads

  async get<T extends KubeObject>(type: ResourceType, namespace: string | undefined, name: string): Promise<T> {
    this.counts.get++;
    return clone(this.mustFind(type, namespace, name).obj) as T;
  }

  async getOrUndefined<T extends KubeObject>(type: ResourceType, namespace: string | undefined, name: string): Promise<T | undefined> {
    this.counts.get++;
    const s = this.find(type, namespace, name);
    return s ? (clone(s.obj) as T) : undefined;
  }

  async list<T extends KubeObject>(type: ResourceType, opts: ListOptions = {}): Promise<KubeList<T>> {
    this.counts.list++;
    const selector = parseLabelSelector(opts.labelSelector);
    const items = [...(this.store.get(typeKeyOf(type))?.values() ?? [])]
      .map((s) => s.obj)
      .filter((o) => (!opts.namespace || o.metadata?.namespace === opts.namespace) && selector(o.metadata?.labels))
      .sort((a, b) =>
        keyOf(a.metadata?.namespace, a.metadata?.name ?? '').localeCompare(keyOf(b.metadata?.namespace, b.metadata?.name ?? '')),
      )
      .map((o) => (opts.metadataOnly ? partial(o) : clone(o)) as T);
    return { items, metadata: { resourceVersion: String(this.rv) } };
  }

  async *listPages<T extends KubeObject>(type: ResourceType, opts: ListOptions = {}): AsyncGenerator<KubeList<T>> {
    const all = await this.list<T>(type, opts);
    const size = opts.pageSize ?? 500;
    for (let from = 0; from === 0 || from < all.items.length; from += size) {
      const more = from + size < all.items.length;
      yield {
        items: all.items.slice(from, from + size),
        metadata: { ...all.metadata, ...(more ? { continue: String(from + size) } : {}) },
      };
    }
  }

  // --- writes

  async create<T extends KubeObject>(type: ResourceType, obj: T, query: WriteQuery = {}): Promise<T> {
    const m = obj.metadata ?? {};
    const name = m.name ?? '';
    if (!name)
      throw new KubeApiError(
        422,
        'Invalid',
        `${type.kind} is invalid: metadata.name: Required value`,
        resourcePath(type, { namespace: m.namespace }),
      );
    const fieldManager = fieldManagerOf(query);
    await this.hook({ verb: 'create', type, namespace: m.namespace, name, fieldManager });
    if (this.find(type, m.namespace, name)) {
      throw new KubeApiError(
        409,
        'AlreadyExists',
        `${resourceName(type)} "${name}" already exists`,
        resourcePath(type, { namespace: m.namespace }),
      );
    }
    const created = this.insert(type, { ...(clone(obj) as Obj), metadata: { ...clone(m), name } });
    this.record({ verb: 'create', type, namespace: m.namespace, name, fieldManager }, true, created);
    return clone(created) as T;
  }

  async replace<T extends KubeObject>(type: ResourceType, obj: T, subresource?: string, query: WriteQuery = {}): Promise<T> {
    const m = obj.metadata ?? {};
    const fieldManager = fieldManagerOf(query);
    const w: FakeWrite = { verb: 'replace', type, namespace: m.namespace, name: m.name ?? '', subresource, fieldManager };
    await this.hook(w);
    const s = this.mustFind(type, m.namespace, w.name, subresource);
    this.checkVersion(s, m.resourceVersion);
    return this.update<T>(w, s, clone(obj) as Obj);
  }

  async mergePatch<T extends KubeObject>(type: ResourceType, ref: ObjectRef, patch: unknown): Promise<T> {
    const w: FakeWrite = { verb: 'mergePatch', type, namespace: ref.namespace, name: ref.name ?? '', subresource: ref.subresource };
    await this.hook(w);
    const s = this.mustFind(type, ref.namespace, w.name, ref.subresource);
    if (isRecord(patch) && isRecord(patch.metadata)) this.checkVersion(s, (patch.metadata as ObjectMeta).resourceVersion);
    return this.update<T>(w, s, mergePatch(clone(s.obj), patch) as Obj);
  }

  async jsonPatch<T extends KubeObject>(type: ResourceType, ref: ObjectRef, ops: JsonPatchOp[]): Promise<T> {
    const w: FakeWrite = { verb: 'jsonPatch', type, namespace: ref.namespace, name: ref.name ?? '', subresource: ref.subresource };
    await this.hook(w);
    const s = this.mustFind(type, ref.namespace, w.name, ref.subresource);
    const doc = clone(s.obj);
    for (const op of ops) {
      const problem = applyJsonPatchOp(doc, op);
      if (problem) throw new KubeApiError(422, 'Invalid', problem, resourcePath(type, ref));
    }
    return this.update<T>(w, s, doc);
  }

  async apply<T extends KubeObject>(type: ResourceType, obj: T, fieldManager: string, subresource?: string): Promise<T> {
    const m = obj.metadata ?? {};
    const w: FakeWrite = { verb: 'apply', type, namespace: m.namespace, name: m.name ?? '', subresource, fieldManager };
    await this.hook(w);
    const applied = clone(obj) as Obj;
    const owner = `${fieldManager}/${subresource ?? ''}`;
    const paths = new Set(leafPaths(applied).map((p) => JSON.stringify(p)));
    const s = this.find(type, m.namespace, w.name);
    if (!s) {
      if (subresource) throw this.notFound(type, m.namespace, w.name, subresource);
      const created = this.insert(type, applied);
      this.mustFind(type, m.namespace, w.name).applied.set(owner, paths);
      this.record(w, true, created);
      return clone(created) as T;
    }
    this.checkVersion(s, m.resourceVersion);
    const merged = mergeApplied(clone(s.obj), applied) as Obj;
    const others = [...s.applied].filter(([k]) => k !== owner).flatMap(([, v]) => [...v]);
    for (const dropped of s.applied.get(owner) ?? []) {
      if (!paths.has(dropped) && !others.includes(dropped)) removePath(merged, JSON.parse(dropped) as Path);
    }
    s.applied.set(owner, paths);
    return this.update<T>(w, s, merged);
  }

  async delete(type: ResourceType, namespace: string | undefined, name: string): Promise<void> {
    const w: FakeWrite = { verb: 'delete', type, namespace, name };
    await this.hook(w);
    const s = this.find(type, namespace, name);
    if (!s) return; // as KubeClient.delete: already gone is done
    this.remove(s);
    this.record(w, true, s.obj);
  }

  watch(
    type: ResourceType,
    opts: WatchOptions,
    onEvent: (phase: string, obj: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    this.counts.watch++;
    const abort = new AbortController();
    const watch = new FakeWatch(type, opts, onEvent, done, () => this.watchers.delete(watch));
    this.watchers.add(watch);
    abort.signal.addEventListener('abort', () => watch.close(null));
    if (opts.timeoutSeconds > 0) watch.timer = this.clock.setTimer(() => watch.close(null), opts.timeoutSeconds * 1000);
    const from = opts.resourceVersion;
    if (from === '' || from === '0') {
      // "Any version": the current objects as ADDED, then the changes.
      for (const s of this.store.get(typeKeyOf(type))?.values() ?? [])
        watch.offer({ rv: Number(s.obj.metadata?.resourceVersion), typeKey: typeKeyOf(type), phase: 'ADDED', obj: s.obj });
    } else if (Number(from) < this.compactedThrough) {
      watch.expire(`too old resource version: ${from} (${this.compactedThrough})`);
    } else {
      for (const c of this.history) if (c.rv > Number(from)) watch.offer(c);
    }
    return Promise.resolve(abort);
  }

  // --- the store

  private find(type: ResourceType, namespace: string | undefined, name: string): Stored | undefined {
    return this.store.get(typeKeyOf(type))?.get(keyOf(type.namespaced ? namespace : undefined, name));
  }

  private mustFind(type: ResourceType, namespace: string | undefined, name: string, subresource?: string): Stored {
    if (subresource && (subresource !== 'status' || !hasStatusSubresource(type))) {
      throw new KubeApiError(
        404,
        'NotFound',
        'the server could not find the requested resource',
        resourcePath(type, { namespace, name, subresource }),
      );
    }
    const s = this.find(type, namespace, name);
    if (!s) throw this.notFound(type, namespace, name, subresource);
    return s;
  }

  private notFound(type: ResourceType, namespace: string | undefined, name: string, subresource?: string): KubeApiError {
    return new KubeApiError(
      404,
      'NotFound',
      `${resourceName(type)} "${name}" not found`,
      resourcePath(type, { namespace, name, subresource }),
    );
  }

  private checkVersion(s: Stored, resourceVersion: string | undefined): void {
    if (resourceVersion === undefined || resourceVersion === '' || resourceVersion === s.obj.metadata?.resourceVersion) return;
    this.counts.conflicts++;
    const m = s.obj.metadata ?? {};
    throw new KubeApiError(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${resourceName(s.type)} "${m.name}": the object has been modified; please apply your changes to the latest version and try again`,
      resourcePath(s.type, { namespace: m.namespace, name: m.name }),
    );
  }

  private async hook(w: FakeWrite): Promise<void> {
    for (const h of [...this.hooks]) await h(w);
  }

  private insert(type: ResourceType, obj: Obj): Obj {
    const m: ObjectMeta & { managedFields?: unknown } = obj.metadata ?? {};
    delete m.managedFields;
    const namespace = type.namespaced ? m.namespace : undefined;
    const metadata: ObjectMeta = {
      ...m,
      namespace,
      uid: randomUUID(),
      creationTimestamp: new Date(this.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    };
    if (hasStatusSubresource(type)) metadata.generation = 1;
    delete metadata.resourceVersion;
    delete metadata.deletionTimestamp;
    const stored: Obj = { ...obj, apiVersion: obj.apiVersion ?? apiVersion(type), kind: obj.kind ?? type.kind, metadata };
    let byKey = this.store.get(typeKeyOf(type));
    if (!byKey) this.store.set(typeKeyOf(type), (byKey = new Map()));
    const s: Stored = { type, obj: stored, applied: new Map() };
    byKey.set(keyOf(namespace, m.name ?? ''), s);
    this.commit(s, 'ADDED');
    return s.obj;
  }

  /** The write's outcome: only status from /status, everything but status elsewhere, system metadata kept. */
  private update<T extends KubeObject>(w: FakeWrite, s: Stored, incoming: Obj): T {
    const before = s.obj;
    let next: Obj;
    if (w.subresource === 'status') {
      next = { ...clone(before), status: clone(incoming.status) };
      if (incoming.status === undefined) delete next.status;
    } else {
      const m: ObjectMeta & { managedFields?: unknown } = { ...(incoming.metadata ?? {}) };
      delete m.managedFields;
      const b = before.metadata ?? {};
      next = { ...incoming, apiVersion: before.apiVersion, kind: before.kind };
      next.metadata = {
        ...m,
        name: b.name,
        namespace: b.namespace,
        uid: b.uid,
        creationTimestamp: b.creationTimestamp,
        generation: b.generation,
        resourceVersion: b.resourceVersion,
      };
      if (hasStatusSubresource(s.type)) {
        if (before.status === undefined) delete next.status;
        else next.status = clone(before.status);
      }
      if (next.metadata.generation === undefined) delete next.metadata.generation;
      if (hasStatusSubresource(s.type) && !sameJson(specOf(next), specOf(before))) next.metadata.generation = (b.generation ?? 0) + 1;
    }
    const changed = !sameJson(next, before);
    if (changed) {
      s.obj = next;
      this.commit(s, 'MODIFIED', before);
    }
    this.record(w, changed, s.obj);
    return clone(s.obj) as T;
  }

  private remove(s: Stored): void {
    const m = s.obj.metadata ?? {};
    this.store.get(typeKeyOf(s.type))?.delete(keyOf(m.namespace, m.name ?? ''));
    this.commit(s, 'DELETED');
    // The garbage collector, in the foreground of this call: dependents go with their owner.
    for (const byKey of this.store.values()) {
      for (const d of [...byKey.values()]) if ((d.obj.metadata?.ownerReferences ?? []).some((r) => r.uid === m.uid)) this.remove(d);
    }
  }

  private commit(s: Stored, phase: Phase, old?: Obj): void {
    const rv = ++this.rv;
    s.obj = { ...s.obj, metadata: { ...s.obj.metadata, resourceVersion: String(rv) } };
    const change: Change = { rv, typeKey: typeKeyOf(s.type), phase, obj: clone(s.obj), old };
    this.history.push(change);
    if (this.history.length > this.historyLimit) this.compactedThrough = this.history.shift()?.rv ?? this.compactedThrough;
    for (const w of this.watchers) w.offer(change);
  }

  private record(w: FakeWrite, changed: boolean, obj: KubeObject): void {
    this.writes.push({ ...w, changed, resourceVersion: obj.metadata?.resourceVersion ?? '' });
  }
}

/** One open watch: filters the changes, queues them and delivers them in order on later turns. */
class FakeWatch {
  timer: Timer | undefined;
  private readonly queue: Array<{ phase: string; obj: unknown }> = [];
  private readonly matches: (labels: Record<string, string> | undefined) => boolean;
  private readonly name: string | undefined;
  private scheduled = false;
  private closed = false;
  private ended = false;
  private endWith: unknown = null;

  constructor(
    private readonly type: ResourceType,
    private readonly opts: WatchOptions,
    private readonly onEvent: (phase: string, obj: unknown) => void,
    private readonly done: (err: unknown) => void,
    private readonly detach: () => void,
  ) {
    this.matches = parseLabelSelector(opts.labelSelector);
    this.name = /^metadata\.name=(.+)$/.exec(opts.fieldSelector ?? '')?.[1];
  }

  idle(): boolean {
    return this.queue.length === 0;
  }

  offer(c: Change): void {
    if (this.closed || c.typeKey !== typeKeyOf(this.type)) return;
    const m = c.obj.metadata ?? {};
    if (this.opts.namespace && m.namespace !== this.opts.namespace) return;
    if (this.name !== undefined && m.name !== this.name) return;
    const now = this.matches(m.labels);
    const before = c.old ? this.matches(c.old.metadata?.labels) : now;
    let phase: Phase = c.phase;
    let obj = c.obj;
    if (c.phase === 'MODIFIED' && now !== before) {
      phase = now ? 'ADDED' : 'DELETED';
      // Leaving the selector, as the apiserver's watch cache says it: the last version that
      // matched, carrying the new resourceVersion.
      if (!now && c.old) obj = { ...c.old, metadata: { ...c.old.metadata, resourceVersion: String(c.rv) } };
    } else if (!now) return;
    this.push(phase, this.opts.metadataOnly ? partial(obj) : clone(obj));
  }

  expire(message: string): void {
    this.push('ERROR', { kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason: 'Expired', code: 410 });
    this.close(null);
  }

  /** Stops taking events; what is queued is still delivered, then `done`. */
  close(err: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.endWith = err;
    this.timer?.cancel();
    this.detach();
    this.schedule();
  }

  private push(phase: string, obj: unknown): void {
    this.queue.push({ phase, obj });
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      for (let e = this.queue.shift(); e; e = this.queue.shift()) this.onEvent(e.phase, e.obj);
      if (this.closed && !this.ended) {
        this.ended = true;
        this.done(this.endWith);
      }
    });
  }
}

function resourceName(t: ResourceType): string {
  return t.group ? `${t.plural}.${t.group}` : t.plural;
}

function apiVersion(t: ResourceType): string {
  return t.group ? `${t.group}/${t.version}` : t.version;
}

function partial(o: KubeObject): KubeObject {
  return { apiVersion: 'meta.k8s.io/v1', kind: 'PartialObjectMetadata', metadata: clone(o.metadata) };
}

/** Everything that is neither metadata nor status: what a generation counts. */
function specOf(o: Obj): unknown {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
  return rest;
}

/** A label selector as the apiserver reads it: comma-separated requirements, all must hold. */
export function parseLabelSelector(selector: string | undefined): (labels: Record<string, string> | undefined) => boolean {
  if (!selector?.trim()) return () => true;
  const parts = selector.match(/([^,(]+(\([^)]*\))?)/g) ?? [];
  const reqs = parts.map((raw) => {
    const p = raw.trim();
    let m = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(p);
    if (m) {
      const [, key = '', op, vals = ''] = m;
      const set = new Set(vals.split(',').map((v) => v.trim()));
      return (l: Record<string, string>) => (op === 'in' ? key in l && set.has(l[key] ?? '') : !(key in l) || !set.has(l[key] ?? ''));
    }
    m = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(p);
    if (m) {
      const [, key = '', op, value] = m;
      return (l: Record<string, string>) => (op === '!=' ? l[key] !== value : l[key] === value);
    }
    if (p.startsWith('!')) return (l: Record<string, string>) => !(p.slice(1) in l);
    if (/^[^\s=!]+$/.test(p)) return (l: Record<string, string>) => p in l;
    throw new KubeApiError(400, 'BadRequest', `unable to parse requirement: ${p}`, '');
  });
  return (labels) => reqs.every((r) => r(labels ?? {}));
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return clone(patch);
  const out: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Server-side apply's merge, simplified: maps merge, lists and scalars replace. */
function mergeApplied(target: unknown, applied: unknown): unknown {
  if (!isRecord(applied) || !isRecord(target)) return clone(applied);
  const out: Record<string, unknown> = { ...target };
  for (const [k, v] of Object.entries(applied)) out[k] = mergeApplied(out[k], v);
  return out;
}

/** The leaves an applied object sets (lists count as one leaf), minus the identifying fields. */
function leafPaths(o: unknown, prefix: Path = []): Path[] {
  if (!isRecord(o) || (prefix.length > 0 && Object.keys(o).length === 0)) return [prefix];
  const skip =
    prefix.length === 0
      ? ['apiVersion', 'kind']
      : prefix.length === 1 && prefix[0] === 'metadata'
        ? ['name', 'namespace', 'resourceVersion', 'managedFields']
        : [];
  return Object.entries(o)
    .filter(([k]) => !skip.includes(k))
    .flatMap(([k, v]) => leafPaths(v, [...prefix, k]));
}

function removePath(o: Record<string, unknown>, path: Path): void {
  let at: unknown = o;
  for (const k of path.slice(0, -1)) at = isRecord(at) ? at[k] : undefined;
  const last = path[path.length - 1];
  if (isRecord(at) && last !== undefined) delete at[last];
}

/** One RFC 6902 operation on `doc`, in place; the problem when it cannot apply. */
function applyJsonPatchOp(doc: Record<string, unknown>, op: JsonPatchOp): string | undefined {
  const path = op.path
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = path.pop();
  if (last === undefined) return `path ${op.path} names the whole object`;
  let parent: unknown = doc;
  for (const k of path) parent = isRecord(parent) ? parent[k] : undefined;
  if (!isRecord(parent)) return `path ${op.path}: parent does not exist`;
  switch (op.op) {
    case 'test':
      return sameJson(parent[last], op.value) ? undefined : `the test operation at ${op.path} failed`;
    case 'remove':
      if (!(last in parent)) return `unable to remove nonexistent key ${last} at ${op.path}`;
      delete parent[last];
      return undefined;
    case 'replace':
      if (!(last in parent)) return `unable to replace nonexistent key ${last} at ${op.path}`;
      parent[last] = clone(op.value);
      return undefined;
    case 'add':
      parent[last] = clone(op.value);
      return undefined;
  }
}

/** The field manager a write's query names, if any. */
function fieldManagerOf(query: WriteQuery): string | undefined {
  return typeof query.fieldManager === 'string' ? query.fieldManager : undefined;
}
