import { sha256Hex } from "../util/hash.js";
import { CepStateError } from "./errors.js";

/**
 * Canonical JSON: object keys sorted, no whitespace, -0 written as 0. Anything that is not plain
 * data (functions, class instances, Map, Set, undefined inside arrays, NaN, Infinity, cycles) is
 * rejected with the path where it was found, because such a value would not survive a snapshot
 * and two replicas could no longer compare hashes.
 */
export function canonicalJson(value: unknown, path = "$"): string {
  const parts: string[] = [];
  write(value, path, parts, new Set());
  return parts.join("");
}

/** SHA-256 (hex) of the canonical JSON of a plain value. */
export function canonicalHash(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

/** Deep copy of plain data through its canonical form, with the same checks. */
export function plainCopy<T>(value: T, path = "$"): T {
  if (value === undefined) return value;
  return JSON.parse(canonicalJson(value, path)) as T;
}

function write(value: unknown, path: string, out: string[], seen: Set<object>): void {
  switch (typeof value) {
    case "string":
      out.push(JSON.stringify(value));
      return;
    case "boolean":
      out.push(value ? "true" : "false");
      return;
    case "number":
      if (!Number.isFinite(value)) throw new CepStateError(`${path}: ${value} is not JSON data`);
      out.push(Object.is(value, -0) ? "0" : JSON.stringify(value));
      return;
    case "object":
      break;
    default:
      throw new CepStateError(`${path}: a ${typeof value} is not JSON data`);
  }
  if (value === null) {
    out.push("null");
    return;
  }
  if (seen.has(value)) throw new CepStateError(`${path}: cycle in state`);
  seen.add(value);
  if (Array.isArray(value)) {
    out.push("[");
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out.push(",");
      write(value[i], `${path}[${i}]`, out, seen);
    }
    out.push("]");
  } else {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) {
      const ctor = (value as { constructor?: { name?: string } }).constructor?.name ?? "unknown";
      throw new CepStateError(`${path}: a ${ctor} instance is not plain data (use objects and arrays)`);
    }
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record).sort();
    out.push("{");
    let first = true;
    for (const k of keys) {
      const v = record[k];
      if (v === undefined) continue; // JSON drops undefined properties; so do we, canonically
      if (!first) out.push(",");
      first = false;
      out.push(JSON.stringify(k), ":");
      write(v, `${path}.${k}`, out, seen);
    }
    out.push("}");
  }
  seen.delete(value);
}
