// @peculiar/x509 loads tsyringe, which refuses to start without a Reflect metadata API, and
// `reflect-metadata` is not among our dependencies. tsyringe only needs getMetadata,
// getOwnMetadata and defineMetadata, so this is that much and no more. Import it before @peculiar/x509.
type Store = Map<unknown, unknown>;
const stores = new WeakMap<object, Map<PropertyKey | undefined, Store>>();

function store(target: object, prop: PropertyKey | undefined, create: boolean): Store | undefined {
  let byProp = stores.get(target);
  if (!byProp) {
    if (!create) return undefined;
    stores.set(target, (byProp = new Map<PropertyKey | undefined, Store>()));
  }
  let s = byProp.get(prop);
  if (!s && create) byProp.set(prop, (s = new Map()));
  return s;
}

interface ReflectMetadata {
  getMetadata?: (key: unknown, target: object, prop?: PropertyKey) => unknown;
  getOwnMetadata?: (key: unknown, target: object, prop?: PropertyKey) => unknown;
  defineMetadata?: (key: unknown, value: unknown, target: object, prop?: PropertyKey) => void;
}

const R = Reflect as typeof Reflect & ReflectMetadata;
if (typeof R.getMetadata !== 'function') {
  R.getOwnMetadata = (key, target, prop) => store(target, prop, false)?.get(key);
  R.getMetadata = (key, target, prop) => {
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t) as object | null) {
      const s = store(t, prop, false);
      if (s?.has(key)) return s.get(key);
    }
    return undefined;
  };
  R.defineMetadata = (key, value, target, prop) => {
    store(target, prop, true)!.set(key, value);
  };
}
export {};
