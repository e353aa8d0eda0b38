// A graph schema declares the kinds of resources, the attributes each kind may
// carry, and the relations between kinds with a cardinality at each end.
import { GraphError } from "./errors.js";
import { isAttrValue, type AttrValue } from "./values.js";

/** "one": at most one edge at this end; "many": any number. */
export type Cardinality = "one" | "many";

export type AttrSpec =
  | { type: "string"; values?: readonly string[] }
  | { type: "number"; integer?: boolean; min?: number }
  | { type: "boolean" }
  /** Any JSON data (lists, records). */
  | { type: "json" };

export interface KindSpec {
  name: string;
  /** Roots are never swept: everything else must be reachable from one. */
  root?: boolean;
  attributes?: Record<string, AttrSpec>;
}

/**
 * A relation from one kind to another, read "from <name> to" ("Host runs Node").
 * `out` bounds the edges of this relation leaving one `from` resource, `in` the
 * edges entering one `to` resource. Connecting on a "one" end replaces the edge
 * that was there.
 */
export interface RelationSpec {
  name: string;
  from: string;
  to: string;
  out: Cardinality;
  in: Cardinality;
}

export interface GraphSchema {
  kinds: readonly KindSpec[];
  relations: readonly RelationSpec[];
}

/** A relation type is identified by its name and the kinds at both ends. */
export function relationKey(from: string, name: string, to: string): string {
  return `${from}:${name}:${to}`;
}

export interface CompiledRelation extends RelationSpec {
  key: string;
}

export interface CompiledKind {
  name: string;
  root: boolean;
  attributes: ReadonlyMap<string, AttrSpec>;
  /** Relation types leaving / entering this kind, by relation name. */
  outgoing: ReadonlyMap<string, readonly CompiledRelation[]>;
  incoming: ReadonlyMap<string, readonly CompiledRelation[]>;
}

/** A schema checked once and indexed for the graph's hot paths. */
export class CompiledSchema {
  readonly kinds: ReadonlyMap<string, CompiledKind>;
  readonly relations: ReadonlyMap<string, CompiledRelation>;
  readonly relationNames: ReadonlySet<string>;
  readonly rootKinds: readonly string[];

  constructor(readonly spec: GraphSchema) {
    const kinds = new Map<string, CompiledKind>();
    const outgoing = new Map<string, Map<string, CompiledRelation[]>>();
    const incoming = new Map<string, Map<string, CompiledRelation[]>>();
    for (const k of spec.kinds) {
      if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(k.name))
        throw new GraphError("bad-schema", `bad kind name "${k.name}"`);
      if (kinds.has(k.name)) throw new GraphError("bad-schema", `kind "${k.name}" declared twice`);
      const out = new Map<string, CompiledRelation[]>();
      const inc = new Map<string, CompiledRelation[]>();
      outgoing.set(k.name, out);
      incoming.set(k.name, inc);
      kinds.set(k.name, {
        name: k.name,
        root: k.root === true,
        attributes: new Map(Object.entries(k.attributes ?? {})),
        outgoing: out,
        incoming: inc,
      });
    }
    const relations = new Map<string, CompiledRelation>();
    const names = new Set<string>();
    for (const r of spec.relations) {
      if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(r.name))
        throw new GraphError("bad-schema", `bad relation name "${r.name}"`);
      const out = outgoing.get(r.from);
      const inc = incoming.get(r.to);
      if (!out) throw new GraphError("bad-schema", `relation "${r.name}" starts at unknown kind "${r.from}"`);
      if (!inc) throw new GraphError("bad-schema", `relation "${r.name}" ends at unknown kind "${r.to}"`);
      for (const c of [r.out, r.in])
        if (c !== "one" && c !== "many")
          throw new GraphError("bad-schema", `relation "${r.name}": cardinality must be "one" or "many"`);
      const key = relationKey(r.from, r.name, r.to);
      if (relations.has(key)) throw new GraphError("bad-schema", `relation ${key} declared twice`);
      const compiled: CompiledRelation = { ...r, key };
      relations.set(key, compiled);
      names.add(r.name);
      pushTo(out, r.name, compiled);
      pushTo(inc, r.name, compiled);
    }
    this.kinds = kinds;
    this.relations = relations;
    this.relationNames = names;
    this.rootKinds = [...kinds.values()].filter((k) => k.root).map((k) => k.name);
    if (this.rootKinds.length === 0)
      throw new GraphError("bad-schema", "a schema needs at least one root kind");
  }

  kind(name: string): CompiledKind {
    const k = this.kinds.get(name);
    if (!k) throw new GraphError("unknown-kind", `unknown resource kind "${name}"`);
    return k;
  }

  /** The relation type for `name` between these two kinds, or a GraphError. */
  relation(fromKind: string, name: string, toKind: string): CompiledRelation {
    const r = this.relations.get(relationKey(fromKind, name, toKind));
    if (!r)
      throw new GraphError("unknown-relation", `no relation ${fromKind} -${name}-> ${toKind} in the schema`);
    return r;
  }

  /** Throws a GraphError unless `value` is allowed for attribute `key` of `kind`. */
  checkAttr(kind: CompiledKind, key: string, value: unknown): asserts value is AttrValue {
    const spec = kind.attributes.get(key);
    if (!spec) throw new GraphError("unknown-attribute", `${kind.name} has no attribute "${key}"`);
    // Hot path (every attribute write): no closures, the common cases first.
    switch (spec.type) {
      case "string":
        if (typeof value !== "string") badValue(kind, key, `expected a string, got ${describe(value)}`);
        if (spec.values !== undefined && !spec.values.includes(value as string))
          badValue(kind, key, `"${String(value)}" is not one of ${spec.values.join(", ")}`);
        return;
      case "number":
        if (typeof value !== "number" || !Number.isFinite(value))
          badValue(kind, key, `expected a number, got ${describe(value)}`);
        if (spec.integer === true && !Number.isSafeInteger(value))
          badValue(kind, key, `expected an integer, got ${String(value)}`);
        if (spec.min !== undefined && (value as number) < spec.min)
          badValue(kind, key, `must be at least ${spec.min}`);
        return;
      case "boolean":
        if (typeof value !== "boolean") badValue(kind, key, `expected a boolean, got ${describe(value)}`);
        return;
      case "json":
        if (!isAttrValue(value)) badValue(kind, key, "not JSON data");
        return;
    }
  }
}

function badValue(kind: CompiledKind, key: string, why: string): never {
  throw new GraphError("bad-attribute-value", `${kind.name}.${key}: ${why}`);
}

function pushTo<V>(map: Map<string, V[]>, key: string, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return typeof value;
}
