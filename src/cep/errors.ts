/**
 * Errors the library throws. Each names what was wrong so that the caller can report it; none of
 * them leaves an engine state half-updated.
 */

/** A rule, flow or engine definition is malformed (thrown when it is defined, never at run time). */
export class CepDefinitionError extends Error {
  override readonly name = "CepDefinitionError";
}

/** An input handed to `Engine.step` is malformed or goes back in time; the state is unchanged. */
export class CepInputError extends Error {
  override readonly name = "CepInputError";
}

/** A snapshot cannot be restored: wrong format, unknown rule, missing migration, bad shape. */
export class CepSnapshotError extends Error {
  override readonly name = "CepSnapshotError";
}

/** A value that should be plain JSON data is not (a function, a class instance, NaN, ...). */
export class CepStateError extends Error {
  override readonly name = "CepStateError";
}

export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
