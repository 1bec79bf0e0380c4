// The signer takes an unchanged certificate list (the very same array) to mean "nothing to plan"
// (signer.ts). Lists made from several inputs (an index file, a database, declared revocations)
// keep that meaning through this memo: the same inputs, by identity or by equal text, give back
// the same result without making it again.
export class SameInputs<T> {
  private last: { inputs: readonly unknown[]; value: T } | undefined;

  get<I extends readonly unknown[]>(inputs: I, make: (...inputs: I) => T): T {
    const last = this.last;
    if (last && last.inputs.length === inputs.length && inputs.every((x, i) => Object.is(x, last.inputs[i]))) return last.value;
    const value = make(...inputs);
    this.last = { inputs, value };
    return value;
  }
}
