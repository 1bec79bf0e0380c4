// Node's default process metrics (`process_*`, `nodejs_*`) under their standard names, so generic
// dashboards and alerts work. Several parts share a registry in one process (the operator's
// controllers and its prober), and prom-client throws on a second registration: this registers
// them once per registry, whoever asks first.
import { collectDefaultMetrics, type Registry } from 'prom-client';

const registered = new WeakSet<Registry>();

export function registerDefaultMetrics(registry: Registry): void {
  if (registered.has(registry)) return;
  registered.add(registry);
  collectDefaultMetrics({ register: registry });
}
