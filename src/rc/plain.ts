// The snapshot is written with JSON.stringify, which keeps keys in insertion
// order. For the bytes (and so the state hash) to be canonical, every object
// in the state is built with its keys in sorted order: small objects through
// this function, the graph's by its own sorted serialisation. A test checks
// that a snapshot equals its canonical form.

/** A deep copy of plain data with object keys in sorted order. */
export function sortedKeysDeep<T>(value: T): T {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v: unknown) => sortedKeysDeep(v)) as T;
  if (ArrayBuffer.isView(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = sortedKeysDeep(v);
  }
  return out as T;
}
