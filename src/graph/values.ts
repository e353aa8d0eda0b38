// Attribute values are JSON data, so that a graph can be serialised, hashed
// and compared without knowing what its attributes mean.
import { sha256Hex } from "../util/hash.js";

export type AttrValue = string | number | boolean | null | AttrValue[] | { [key: string]: AttrValue };

/** True when `value` is JSON data that survives a round trip unchanged. */
export function isAttrValue(value: unknown, depth = 0): value is AttrValue {
  if (depth > 32) return false;
  if (value === null) return true;
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      // NaN and the infinities become null in JSON: a round trip would change them.
      return Number.isFinite(value);
    case "object":
      if (Array.isArray(value)) return value.every((v) => isAttrValue(v, depth + 1));
      if (Object.getPrototypeOf(value) !== Object.prototype) return false;
      return Object.values(value).every((v) => isAttrValue(v, depth + 1));
    default:
      return false;
  }
}

/**
 * JSON with object keys in sorted order and no whitespace: equal data gives
 * equal text, whatever order the keys were written in. Arrays keep their order
 * (they mean a sequence).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (value === undefined) return "null";
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ",";
      out += canonicalJson(value[i]);
    }
    return out + "]";
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  let out = "{";
  let first = true;
  for (const key of keys) {
    const v = obj[key];
    if (v === undefined) continue;
    if (!first) out += ",";
    first = false;
    out += JSON.stringify(key) + ":" + canonicalJson(v);
  }
  return out + "}";
}

/** Deep equality of two attribute values. */
export function attrEquals(a: AttrValue | undefined, b: AttrValue | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  if (typeof a !== "object" || typeof b !== "object") return false;
  return canonicalJson(a) === canonicalJson(b);
}

export { sha256Hex };

/** Compares strings by UTF-16 code units: the same order on every machine and locale. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
