// What the vitest global setups provide (the kubeconfig, kubectl's directory, the node's images),
// read through one function, so that a program run outside vitest (a benchmark in bench/) can use
// the same helpers by providing those values itself.
import { inject, type ProvidedContext } from 'vitest';

const outside: Partial<ProvidedContext> = {};

/** A value the global setup provided, or (outside vitest) what provideOutsideVitest set. */
export function provided<K extends keyof ProvidedContext>(key: K): ProvidedContext[K] {
  return key in outside ? (outside[key] as ProvidedContext[K]) : inject(key);
}

/** For a program outside vitest: the values a global setup would provide. */
export function provideOutsideVitest(values: Partial<ProvidedContext>): void {
  Object.assign(outside, values);
}
