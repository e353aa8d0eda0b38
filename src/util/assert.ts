// Assertions for invariants, TigerBeetle style: a violated invariant means the
// code is wrong, so the replica stops at once, loudly, before it spreads the
// damage (a wrong entry acknowledged, a diverged state hashed and served).
// Never catch an AssertionError to carry on: catch sites that turn errors into
// answers (a rejected proposal, a rule's fault record) pass it through.

export class AssertionError extends Error {
  constructor(message: string) {
    super(`assertion failed: ${message}`);
    this.name = "AssertionError";
  }
}

/**
 * Throws an AssertionError unless `condition` holds. `message` says which
 * invariant broke; give a function when building the text costs something.
 */
export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new AssertionError(typeof message === "string" ? message : message());
}

/** Rethrows `err` if it is an AssertionError: for catch sites that otherwise turn errors into answers. */
export function rethrowAssertion(err: unknown): void {
  if (err instanceof AssertionError) throw err;
}
