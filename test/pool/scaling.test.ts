import { describe, expect, it } from 'vitest';
import { recommendReplicas, stabilize, type Recommendation } from '../../src/pool/scaling.js';

const base = { perPodRate: 1000, targetDrainMs: 10 * 60_000, minReplicas: 1, maxReplicas: 10, current: 1 };

describe('signer scaling', () => {
  it('sizes the signers to drain the backlog within the target time', () => {
    expect(recommendReplicas({ ...base, backlog: 0 })).toBe(1);
    expect(recommendReplicas({ ...base, backlog: 600_000 })).toBe(1); // 1000/s × 600 s
    expect(recommendReplicas({ ...base, backlog: 600_001 })).toBe(2);
    expect(recommendReplicas({ ...base, backlog: 20_000, perPodRate: 5 })).toBe(7);
    expect(recommendReplicas({ ...base, backlog: 10_000_000 })).toBe(10); // capped
  });

  it('without a measured rate it grows one pod at a time', () => {
    expect(recommendReplicas({ ...base, backlog: 5, perPodRate: undefined, current: 3 })).toBe(4);
  });

  it('scales up at once and down only after the window, so a trickle does not flap', () => {
    const window = 5 * 60_000;
    let history: Recommendation[] = [];
    let current = 1;
    const step = (now: number, backlog: number) => {
      const r = stabilize({
        now,
        recommendation: recommendReplicas({ ...base, perPodRate: 10, backlog, current }),
        current,
        history,
        windowMs: window,
      });
      history = r.history;
      current = r.replicas;
      return current;
    };
    expect(step(0, 20_000)).toBe(4); // burst: up immediately
    // a trickle that alternates between needing 1 and 2 pods, every 30 s for 20 minutes
    const seen = new Set<number>();
    for (let t = 30_000; t <= 20 * 60_000; t += 30_000) seen.add(step(t, t % 60_000 === 0 ? 6_500 : 100));
    expect([...seen]).toContain(2);
    const changes = [...seen];
    expect(changes.length).toBeLessThanOrEqual(3); // 4 → 2, and no 1 ↔ 2 flapping
    expect(current).toBe(2);
    // the trickle stops: back to the minimum once the window has only low recommendations
    for (let t = 20 * 60_000 + 30_000; t <= 26 * 60_000; t += 30_000) step(t, 0);
    expect(current).toBe(1);
  });
});
