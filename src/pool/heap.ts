// V8's heap limit for a signer whose container has a memory limit. Left alone, V8 sizes its heap
// from the memory it sees and collects lazily below that size, while the kubelet kills the
// container at its limit; a signer working through a large backlog makes garbage fast (a read of
// the source and a plan per round). Three quarters of the limit go to the heap; the rest is for
// what that limit does not bound: buffers and typed arrays (the embedded store's index), code, the
// threadpool. A NODE_OPTIONS of the user's own, in the pod shape's env, is left as it is.
import type { PodShape } from '../api/pod.js';

const HEAP_SHARE = 0.75;
const MiB = 2 ** 20;

const SCALE: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** The value of a Kubernetes quantity ("1Gi", "1.5G", "512e6", or a plain number). */
export function quantityValue(q: string | number): number {
  if (typeof q === 'number') return q;
  const m = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(.*)$/.exec(q);
  const suffix = m?.[2] ?? '';
  const scale = /^[eE][+-]?\d+$/.test(suffix) ? 10 ** Number(suffix.slice(1)) : SCALE[suffix];
  if (!m || scale === undefined) throw new Error(`not a Kubernetes quantity: ${JSON.stringify(q)}`);
  return Number(m[1]) * scale;
}

/** NODE_OPTIONS capping V8's heap below the container's memory limit, or nothing. */
export function heapEnv(shape: PodShape | undefined): Array<{ name: string; value: string }> {
  const limit = shape?.resources?.limits?.memory;
  if (limit === undefined || shape?.env?.some((e) => e.name === 'NODE_OPTIONS')) return [];
  const mib = Math.max(1, Math.floor((quantityValue(limit) * HEAP_SHARE) / MiB));
  return [{ name: 'NODE_OPTIONS', value: `--max-old-space-size=${mib}` }];
}
