// What a reconciler reads its objects through: an informer's store or the filtered object cache
// (kube/object-cache.ts), never the apiserver directly. Both controllers take their reads as this.
export interface ReadCache<T> {
  get(namespace: string | undefined, name: string): T | undefined;
}
