// Per-object condition metrics in kube-state-metrics' shape: `<prefix>_condition{namespace,name,
// type,status}` is 1 for the condition's current status and 0 for the other two (so `== 1` selects
// and a missing series means "not reported"), and `<prefix>_ready{namespace,name,reason}` is 1 when
// Ready is True, else 0, labelled with Ready's reason so an alert can say why. Values are kept per
// object and emitted at scrape time, so a deleted object's series go with `forget`, and the count
// per object is fixed: 3 per condition type plus 1.
import type { Registry } from 'prom-client';
import { ScrapedGauge } from './scraped-gauge.js';
import { splitKey } from '../kube/types.js';

export interface ObjectCondition {
  type: string;
  status: string;
  reason?: string;
}

const STATUSES = ['True', 'False', 'Unknown'] as const;

export class ObjectConditionMetrics {
  private readonly objects = new Map<string, readonly ObjectCondition[]>();

  constructor(registry: Registry, prefix: string, kind: string) {
    const objects = this.objects;
    new ScrapedGauge({
      name: `${prefix}_condition`,
      help: `${kind} status conditions: 1 for the current status of each type, 0 for the others`,
      labelNames: ['namespace', 'name', 'type', 'status'] as const,
      registry,
      *series() {
        for (const [key, conditions] of objects) {
          const { namespace = '', name } = splitKey(key);
          for (const c of conditions) {
            for (const status of STATUSES) yield { labels: { namespace, name, type: c.type, status }, value: c.status === status ? 1 : 0 };
          }
        }
      },
    });
    new ScrapedGauge({
      name: `${prefix}_ready`,
      help: `1 when the ${kind}'s Ready condition is True, else 0; reason is Ready's reason`,
      labelNames: ['namespace', 'name', 'reason'] as const,
      registry,
      *series() {
        for (const [key, conditions] of objects) {
          const ready = conditions.find((c) => c.type === 'Ready');
          if (!ready) continue;
          const { namespace = '', name } = splitKey(key);
          yield { labels: { namespace, name, reason: ready.reason ?? '' }, value: ready.status === 'True' ? 1 : 0 };
        }
      },
    });
  }

  set(key: string, conditions: readonly ObjectCondition[]): void {
    this.objects.set(
      key,
      conditions.map((c) => ({ type: c.type, status: c.status, reason: c.reason })),
    );
  }

  forget(key: string): void {
    this.objects.delete(key);
  }

  /** How many objects have series (for tests and the cardinality bound). */
  get size(): number {
    return this.objects.size;
  }
}
