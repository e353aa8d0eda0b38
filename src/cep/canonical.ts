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
  write(value, { root: path, keys: [] }, parts, new Set());
  return parts.join("");
}

/** SHA-256 (hex) of the canonical JSON of a plain value. */
export function canonicalHash(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

/**
 * Deep copy of plain data in canonical form, with the same checks: object keys
 * inserted in sorted order and undefined properties dropped, -0 made 0. The
 * copy is the object JSON.parse(canonicalJson(value)) would give (the same keys
 * inserted in the same order), so JSON.stringify of it is the same text, built
 * without an intermediate string: a coordinator snapshot copies its rule state
 * this way on the event loop.
 */
export function plainCopy<T>(value: T, path = "$"): T {
  if (value === undefined) return value;
  return copy(value, { root: path, keys: [] }, new Set()) as T;
}

function copy(value: unknown, at: Position, seen: Set<object>): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      if (!Number.isFinite(value)) throw new CepStateError(`${pathOf(at)}: ${value} is not JSON data`);
      return value === 0 ? 0 : value;
    case "object":
      break;
    default:
      throw new CepStateError(`${pathOf(at)}: a ${typeof value} is not JSON data`);
  }
  if (value === null) return null;
  if (seen.has(value)) throw new CepStateError(`${pathOf(at)}: cycle in state`);
  seen.add(value);
  let out: unknown;
  if (Array.isArray(value)) {
    const list = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      at.keys.push(i);
      list[i] = copy(value[i], at, seen);
      at.keys.pop();
    }
    out = list;
  } else {
    checkPlainObject(value, at);
    const record = value as Record<string, unknown>;
    const obj: Record<string, unknown> = {};
    for (const k of Object.keys(record).sort()) {
      const v = record[k];
      if (v === undefined) continue;
      at.keys.push(k);
      const c = copy(v, at, seen);
      at.keys.pop();
      // As JSON.parse does: "__proto__" is an own property, not the prototype.
      if (k === "__proto__")
        Object.defineProperty(obj, k, { value: c, enumerable: true, writable: true, configurable: true });
      else obj[k] = c;
    }
    out = obj;
  }
  seen.delete(value);
  return out;
}

function checkPlainObject(value: object, at: Position): void {
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) {
    const ctor = (value as { constructor?: { name?: string } }).constructor?.name ?? "unknown";
    throw new CepStateError(`${pathOf(at)}: a ${ctor} instance is not plain data (use objects and arrays)`);
  }
}

/**
 * Where the writer is: the keys from the root, pushed and popped as it goes.
 * The path's text is built only for an error, never per value: a coordinator
 * snapshot holds hundreds of thousands of values.
 */
interface Position {
  root: string;
  keys: (string | number)[];
}

function pathOf(at: Position): string {
  let text = at.root;
  for (const k of at.keys) text += typeof k === "number" ? `[${k}]` : `.${k}`;
  return text;
}

function write(value: unknown, at: Position, out: string[], seen: Set<object>): void {
  switch (typeof value) {
    case "string":
      out.push(JSON.stringify(value));
      return;
    case "boolean":
      out.push(value ? "true" : "false");
      return;
    case "number":
      if (!Number.isFinite(value)) throw new CepStateError(`${pathOf(at)}: ${value} is not JSON data`);
      out.push(Object.is(value, -0) ? "0" : JSON.stringify(value));
      return;
    case "object":
      break;
    default:
      throw new CepStateError(`${pathOf(at)}: a ${typeof value} is not JSON data`);
  }
  if (value === null) {
    out.push("null");
    return;
  }
  if (seen.has(value)) throw new CepStateError(`${pathOf(at)}: cycle in state`);
  seen.add(value);
  if (Array.isArray(value)) {
    out.push("[");
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out.push(",");
      at.keys.push(i);
      write(value[i], at, out, seen);
      at.keys.pop();
    }
    out.push("]");
  } else {
    checkPlainObject(value, at);
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
      at.keys.push(k);
      write(v, at, out, seen);
      at.keys.pop();
    }
    out.push("}");
  }
  seen.delete(value);
}
