// The typed resource graph: resources of declared kinds with attributes, and
// edges of declared relations whose cardinality the graph enforces.
//
// Determinism: every query that returns several resources returns them sorted
// by id, so callers never depend on Map or Set insertion order (which differs
// between a graph built step by step and the same graph restored from data).
import type { GraphChange } from "./changes.js";
import { GraphError } from "./errors.js";
import { CompiledSchema, type CompiledKind, type CompiledRelation, type GraphSchema } from "./schema.js";
import { compareStrings, type AttrValue } from "./values.js";

export type Direction = "out" | "in" | "both";

export interface Resource {
  readonly id: string;
  readonly kind: string;
  readonly attrs: Readonly<Record<string, AttrValue>>;
}

export interface Edge {
  from: string;
  relation: string;
  to: string;
}

interface Vertex {
  id: string;
  kind: string;
  spec: CompiledKind;
  attrs: Record<string, AttrValue>;
  /** Neighbours by relation key. */
  out: Map<string, Set<string>>;
  in: Map<string, Set<string>>;
  /**
   * The resource's encoding for a frozen view (FrozenGraph.encoded), kept
   * until the resource changes: a snapshot re-encodes only what changed.
   */
  enc?: string;
}

const MAX_ID_LENGTH = 256;

/**
 * One step of the undo journal: what reverses one change. Records rather than
 * closures, because every change of an event is journaled while it runs.
 */
type UndoStep =
  | { t: "add"; v: Vertex }
  | { t: "remove"; v: Vertex }
  | { t: "attr"; v: Vertex; key: string; old: AttrValue | undefined }
  | { t: "connect"; a: Vertex; b: Vertex; key: string }
  | { t: "disconnect"; a: Vertex; b: Vertex; key: string };

/**
 * The graph as it was when frozen (Graph.freeze): the same answers however the
 * graph changes afterwards, until released. Copy-on-write: a resource is
 * copied only when it is first changed after the freeze, so freezing costs a
 * list of ids and a snapshot can be serialised a slice at a time.
 */
export interface FrozenGraph {
  /** Every resource id at the freeze, sorted (compareStrings). */
  readonly ids: readonly string[];
  /** The resource as it was (an id from `ids`). */
  get(id: string): Resource;
  /** Its outgoing edges as they were, sorted by relation key then target (as outEdges()). */
  outEdges(id: string): Edge[];
  /**
   * `encode(resource, edges)` of the resource as it was, cached on the
   * resource until it changes (the same `encode` must be passed every time).
   */
  encoded(id: string, encode: (r: Resource, edges: Edge[]) => string): string;
  /** Stops keeping copies for this view; it must not be read afterwards. */
  release(): void;
}

/** Where a transaction started: undo() goes back to it. */
export interface GraphSavepoint {
  readonly journal: number;
  readonly changes: number;
}

export function checkId(id: unknown): asserts id is string {
  if (typeof id !== "string" || id.length === 0 || id.length > MAX_ID_LENGTH)
    throw new GraphError("bad-id", `a resource id is a string of 1 to ${MAX_ID_LENGTH} characters`);
}

/** The resources of one kind by the string value of one attribute (Graph.indexBy). */
interface AttrIndex {
  byValue: Map<string, Set<string>>;
  version: number;
}

const NO_IDS: ReadonlySet<string> = new Set();
/** One counter for every index of every graph: a version never repeats, even across a restored graph. */
let indexVersions = 0;

export class Graph {
  readonly schema: CompiledSchema;
  private readonly vertices = new Map<string, Vertex>();
  /**
   * Every id, sorted; built again only after a resource was added or removed
   * (rare once the topology is declared), so that a snapshot does not sort
   * 100,000 ids on the event loop each time. Never changed in place.
   */
  private sortedIdCache: readonly string[] | null = null;
  private readonly byKindIndex = new Map<string, Set<string>>();
  /** Attribute indexes asked for with indexBy(): kind → attribute → index. */
  private readonly attrIndexes = new Map<string, Map<string, AttrIndex>>();
  private edgeCount = 0;
  private changes: GraphChange[] = [];
  /**
   * Set while loading trusted, freshly parsed data (graphFromData): values are
   * still checked, but not copied, and no changes are recorded.
   */
  private loading = false;
  /** Undo steps since the first savepoint, while `journaling` (reused between transactions). */
  private readonly journal: UndoStep[] = [];
  private journaling = false;
  /** For each frozen view: the resources changed since, as they were at the freeze. */
  private frozen: Map<string, Vertex>[] = [];

  constructor(schema: GraphSchema | CompiledSchema) {
    this.schema = schema instanceof CompiledSchema ? schema : new CompiledSchema(schema);
    for (const k of this.schema.kinds.keys()) this.byKindIndex.set(k, new Set());
  }

  get size(): number {
    return this.vertices.size;
  }

  get edges(): number {
    return this.edgeCount;
  }

  // ---- queries ----

  has(id: string): boolean {
    return this.vertices.has(id);
  }

  /** The resource, or undefined. The attrs object must not be modified. */
  get(id: string): Resource | undefined {
    return this.vertices.get(id);
  }

  /** The resource, or a GraphError. */
  require(id: string, kind?: string): Resource {
    const v = this.vertices.get(id);
    if (!v) throw new GraphError("no-such-resource", `no resource "${id}"`);
    if (kind !== undefined && v.kind !== kind)
      throw new GraphError("no-such-resource", `"${id}" is a ${v.kind}, not a ${kind}`);
    return v;
  }

  kindOf(id: string): string | undefined {
    return this.vertices.get(id)?.kind;
  }

  attr(id: string, key: string): AttrValue | undefined {
    return this.vertices.get(id)?.attrs[key];
  }

  /** Ids of every resource of `kind`, sorted. */
  byKind(kind: string): string[] {
    this.schema.kind(kind);
    return [...(this.byKindIndex.get(kind) ?? [])].sort(compareStrings);
  }

  /**
   * Calls `fn` for every resource of `kind` in an unspecified order: only for
   * work whose result does not depend on the order (byKind() is the sorted form).
   */
  forEachOfKind(kind: string, fn: (id: string) => void): void {
    this.schema.kind(kind);
    for (const id of this.byKindIndex.get(kind) ?? []) fn(id);
  }

  countOfKind(kind: string): number {
    return this.byKindIndex.get(kind)?.size ?? 0;
  }

  /** Neighbours of `id` over relations named `relation` (any relation if omitted), sorted. */
  neighbours(id: string, relation?: string, direction: Direction = "out"): string[] {
    const v = this.vertexOrThrow(id);
    if (relation !== undefined && !this.schema.relationNames.has(relation))
      throw new GraphError("unknown-relation", `no relation named "${relation}" in the schema`);
    const found = new Set<string>();
    if (direction !== "in") collect(v.out, relation, this.schema, found);
    if (direction !== "out") collect(v.in, relation, this.schema, found);
    return [...found].sort(compareStrings);
  }

  /** The one neighbour over `relation`, undefined if none; a GraphError if several. */
  neighbour(id: string, relation: string, direction: "out" | "in" = "out"): string | undefined {
    // Fast path (a process's node, a disk's pool...): no intermediate set or sort.
    const v = this.vertexOrThrow(id);
    let found: string | undefined;
    let count = 0;
    for (const [key, ids] of direction === "out" ? v.out : v.in) {
      if ((this.schema.relations.get(key) as CompiledRelation).name !== relation) continue;
      for (const n of ids) {
        found = n;
        count++;
      }
    }
    if (count <= 1) {
      if (count === 0 && !this.schema.relationNames.has(relation))
        throw new GraphError("unknown-relation", `no relation named "${relation}" in the schema`);
      return found;
    }
    const list = this.neighbours(id, relation, direction);
    if (list.length > 1)
      throw new GraphError(
        "bad-data",
        `"${id}" has ${list.length} ${direction} "${relation}" neighbours, expected one`,
      );
    return list[0];
  }

  /**
   * Ids reachable from `start` (included), following `relations` (all if
   * omitted) in `direction`, sorted.
   */
  reachable(start: string, opts: { relations?: readonly string[]; direction?: Direction } = {}): string[] {
    this.vertexOrThrow(start);
    const direction = opts.direction ?? "out";
    const wanted = opts.relations ? new Set(opts.relations) : undefined;
    const seen = new Set<string>([start]);
    const stack = [start];
    while (stack.length > 0) {
      const v = this.vertices.get(stack.pop() as string) as Vertex;
      const visit = (adj: Map<string, Set<string>>): void => {
        for (const [key, ids] of adj) {
          if (wanted && !wanted.has((this.schema.relations.get(key) as CompiledRelation).name)) continue;
          for (const n of ids)
            if (!seen.has(n)) {
              seen.add(n);
              stack.push(n);
            }
        }
      };
      if (direction !== "in") visit(v.out);
      if (direction !== "out") visit(v.in);
    }
    return [...seen].sort(compareStrings);
  }

  /** Every edge among `ids`, sorted by from, relation key, to. */
  edgesAmong(ids: Iterable<string>): Edge[] {
    const set = ids instanceof Set ? (ids as Set<string>) : new Set(ids);
    const edges: Edge[] = [];
    for (const id of [...set].sort(compareStrings)) {
      const v = this.vertices.get(id);
      if (!v) continue;
      for (const key of [...v.out.keys()].sort(compareStrings)) {
        const rel = this.schema.relations.get(key) as CompiledRelation;
        for (const to of [...(v.out.get(key) as Set<string>)].sort(compareStrings))
          if (set.has(to)) edges.push({ from: id, relation: rel.name, to });
      }
    }
    return edges;
  }

  hasEdge(from: string, relation: string, to: string): boolean {
    const a = this.vertices.get(from);
    const b = this.vertices.get(to);
    if (!a || !b) return false;
    const key = this.schema.relations.get(`${a.kind}:${relation}:${b.kind}`)?.key;
    return key !== undefined && (a.out.get(key)?.has(to) ?? false);
  }

  /** Every resource id, sorted. */
  ids(): string[] {
    return [...this.sortedIds()];
  }

  private sortedIds(): readonly string[] {
    this.sortedIdCache ??= [...this.vertices.keys()].sort(compareStrings);
    return this.sortedIdCache;
  }

  /**
   * Keeps an index of the resources of `kind` by the string value of `key`,
   * from now on (built from what is there, then kept up to date by every
   * change and undo), so that a question like "which nodes are online" costs
   * nothing per entry at 10,000 nodes. Values that are not strings are not indexed.
   */
  indexBy(kind: string, key: string): void {
    this.schema.kind(kind);
    let byKey = this.attrIndexes.get(kind);
    if (!byKey) this.attrIndexes.set(kind, (byKey = new Map()));
    if (byKey.has(key)) return;
    const index: AttrIndex = { byValue: new Map(), version: 0 };
    byKey.set(key, index);
    for (const id of this.byKindIndex.get(kind) ?? []) {
      const v = this.vertices.get(id) as Vertex;
      this.reindex(v, key, undefined, v.attrs[key]);
    }
  }

  /**
   * The resources of `kind` whose `key` is `value` (an index made with
   * indexBy), in no particular order. Live: it follows the graph, and must not
   * be changed by the caller.
   */
  withAttr(kind: string, key: string, value: string): ReadonlySet<string> {
    const index = this.attrIndexes.get(kind)?.get(key);
    if (!index) throw new Error(`no index of ${kind}.${key}: call indexBy first`);
    return index.byValue.get(value) ?? NO_IDS;
  }

  /** Changes whenever the membership of any value of the index changes. */
  indexVersion(kind: string, key: string): number {
    const index = this.attrIndexes.get(kind)?.get(key);
    if (!index) throw new Error(`no index of ${kind}.${key}: call indexBy first`);
    return index.version;
  }

  private reindex(v: Vertex, key: string, before: unknown, after: unknown): void {
    const index = this.attrIndexes.get(v.kind)?.get(key);
    if (index === undefined || before === after) return;
    if (typeof before === "string") index.byValue.get(before)?.delete(v.id);
    if (typeof after === "string") {
      let ids = index.byValue.get(after);
      if (!ids) index.byValue.set(after, (ids = new Set()));
      ids.add(v.id);
    }
    index.version = ++indexVersions;
  }

  /** Every indexed attribute of `v` moves from `from` (its attributes, or none) to `to`. */
  private reindexAll(
    v: Vertex,
    from: Record<string, unknown> | null,
    to: Record<string, unknown> | null,
  ): void {
    const byKey = this.attrIndexes.get(v.kind);
    if (byKey === undefined) return;
    for (const key of byKey.keys()) this.reindex(v, key, from?.[key], to?.[key]);
  }

  // ---- changes ----

  addResource(id: string, kind: string, attrs: Record<string, unknown> = {}): Resource {
    checkId(id);
    const k = this.schema.kind(kind);
    if (this.vertices.has(id)) throw new GraphError("duplicate-resource", `resource "${id}" already exists`);
    const checked: Record<string, AttrValue> = {};
    for (const key of Object.keys(attrs).sort(compareStrings)) {
      const value = attrs[key];
      this.schema.checkAttr(k, key, value);
      checked[key] = this.loading ? value : own(value);
    }
    const v: Vertex = { id, kind, spec: k, attrs: checked, out: NO_EDGES, in: NO_EDGES };
    this.vertices.set(id, v);
    this.sortedIdCache = null;
    (this.byKindIndex.get(kind) as Set<string>).add(id);
    this.reindexAll(v, null, checked);
    if (this.journaling) this.journal.push({ t: "add", v });
    if (!this.loading) this.changes.push({ op: "add", id, kind, attrs: { ...checked } });
    return v;
  }

  /** Removes the resource and every edge touching it. */
  removeResource(id: string): void {
    const v = this.vertexOrThrow(id);
    if (this.frozen.length > 0) this.preserve(v);
    for (const e of this.edgesOf(v)) this.disconnect(e.from, e.relation, e.to);
    this.vertices.delete(id);
    this.sortedIdCache = null;
    (this.byKindIndex.get(v.kind) as Set<string>).delete(id);
    this.reindexAll(v, v.attrs, null);
    if (this.journaling) this.journal.push({ t: "remove", v });
    this.changes.push({ op: "remove", id, kind: v.kind });
  }

  /** Sets one attribute; records nothing when the value is unchanged. */
  setAttr(id: string, key: string, value: unknown): void {
    this.setAttrOf(this.vertexOrThrow(id), key, value);
  }

  /** Sets several attributes, in key order (callers mostly write them in that order: no sort then). */
  setAttrs(id: string, attrs: Record<string, unknown>): void {
    const keys = Object.keys(attrs);
    if (keys.length === 0) return; // as setAttr key by key: nothing, not even a lookup
    const v = this.vertexOrThrow(id); // one lookup for all of them
    for (let i = 1; i < keys.length; i++)
      if (compareStrings(keys[i - 1] as string, keys[i] as string) > 0) {
        keys.sort(compareStrings);
        break;
      }
    for (const key of keys) this.setAttrOf(v, key, attrs[key]);
  }

  private setAttrOf(v: Vertex, key: string, value: unknown): void {
    const id = v.id;
    this.schema.checkAttr(v.spec, key, value);
    const old = v.attrs[key];
    if (old !== undefined && sameValue(old, value)) return;
    if (this.frozen.length > 0) this.preserve(v);
    v.enc = undefined;
    if (this.journaling) this.journal.push({ t: "attr", v, key, old });
    v.attrs[key] = own(value);
    this.reindex(v, key, old, value);
    this.changes.push({ op: "set", id, key, value: own(value), old: old ?? null });
  }

  unsetAttr(id: string, key: string): void {
    const v = this.vertexOrThrow(id);
    if (!v.spec.attributes.has(key))
      throw new GraphError("unknown-attribute", `${v.kind} has no attribute "${key}"`);
    const old = v.attrs[key];
    if (old === undefined) return;
    if (this.frozen.length > 0) this.preserve(v);
    v.enc = undefined;
    if (this.journaling) this.journal.push({ t: "attr", v, key, old });
    delete v.attrs[key];
    this.reindex(v, key, old, undefined);
    this.changes.push({ op: "unset", id, key, old });
  }

  /**
   * Adds the edge `from -relation-> to`. On a "one" end an existing edge of the
   * same relation type is replaced (and its removal recorded). Connecting an
   * edge that exists changes nothing.
   */
  connect(from: string, relation: string, to: string): void {
    const a = this.vertexOrThrow(from);
    const b = this.vertexOrThrow(to);
    const rel = this.schema.relation(a.kind, relation, b.kind);
    if (a.out.get(rel.key)?.has(to)) return;
    if (rel.out === "one") {
      const old = a.out.get(rel.key);
      if (old) for (const t of [...old]) this.disconnect(from, relation, t);
    }
    if (rel.in === "one") {
      const old = b.in.get(rel.key);
      if (old) for (const f of [...old]) this.disconnect(f, relation, to);
    }
    if (this.frozen.length > 0) this.preserve(a);
    a.enc = undefined;
    if (a.out === NO_EDGES) a.out = new Map();
    if (b.in === NO_EDGES) b.in = new Map();
    addTo(a.out, rel.key, to);
    addTo(b.in, rel.key, from);
    this.edgeCount++;
    if (this.journaling) this.journal.push({ t: "connect", a, b, key: rel.key });
    if (!this.loading) this.changes.push({ op: "connect", from, relation, to });
  }

  disconnect(from: string, relation: string, to: string): void {
    const a = this.vertexOrThrow(from);
    const b = this.vertexOrThrow(to);
    const rel = this.schema.relation(a.kind, relation, b.kind);
    const outs = a.out.get(rel.key);
    if (!outs?.has(to)) throw new GraphError("no-such-edge", `no edge ${from} -${relation}-> ${to}`);
    if (this.frozen.length > 0) this.preserve(a);
    a.enc = undefined;
    removeFrom(a.out, rel.key, to);
    removeFrom(b.in, rel.key, from);
    this.edgeCount--;
    if (this.journaling) this.journal.push({ t: "disconnect", a, b, key: rel.key });
    this.changes.push({ op: "disconnect", from, relation, to });
  }

  // ---- transactions ----

  /**
   * Starts (or nests in) a transaction: every change from here on is journaled
   * until commit(), and undo(savepoint) reverses the changes made after it,
   * recorded changes included, so watchers never see them.
   */
  savepoint(): GraphSavepoint {
    this.journaling = true;
    return { journal: this.journal.length, changes: this.changes.length };
  }

  /** Puts the graph back as it was at `sp`, exactly (same attribute values, same edges). */
  undo(sp: GraphSavepoint): void {
    const journal = this.journal;
    if (!this.journaling) throw new Error("graph undo without a savepoint");
    for (let i = journal.length - 1; i >= sp.journal; i--) {
      const step = journal[i] as UndoStep;
      switch (step.t) {
        case "add":
          this.vertices.delete(step.v.id);
          this.sortedIdCache = null;
          (this.byKindIndex.get(step.v.kind) as Set<string>).delete(step.v.id);
          this.reindexAll(step.v, step.v.attrs, null);
          break;
        case "remove":
          this.vertices.set(step.v.id, step.v);
          this.sortedIdCache = null;
          (this.byKindIndex.get(step.v.kind) as Set<string>).add(step.v.id);
          this.reindexAll(step.v, null, step.v.attrs);
          break;
        case "attr":
          step.v.enc = undefined;
          this.reindex(step.v, step.key, step.v.attrs[step.key], step.old);
          if (step.old === undefined) delete step.v.attrs[step.key];
          else step.v.attrs[step.key] = step.old;
          break;
        case "connect":
          step.a.enc = undefined;
          removeFrom(step.a.out, step.key, step.b.id);
          removeFrom(step.b.in, step.key, step.a.id);
          this.edgeCount--;
          break;
        case "disconnect":
          if (step.a.out === NO_EDGES) step.a.out = new Map();
          if (step.b.in === NO_EDGES) step.b.in = new Map();
          step.a.enc = undefined;
          addTo(step.a.out, step.key, step.b.id);
          addTo(step.b.in, step.key, step.a.id);
          this.edgeCount++;
          break;
      }
    }
    journal.length = sp.journal;
    if (this.changes.length > sp.changes) this.changes.length = sp.changes;
  }

  /** Whether anything changed since the savepoint. */
  changedSince(sp: GraphSavepoint): boolean {
    return this.journal.length > sp.journal;
  }

  /** Ends the transaction: the journal is dropped, and changes are no longer journaled. */
  commit(): void {
    this.journaling = false;
    // Most transactions change nothing (heartbeats): setting an array's length is not free.
    if (this.journal.length > 0) this.journal.length = 0;
  }

  /**
   * Mark and sweep: removes every resource not reachable from a root kind's
   * resource along outgoing edges. Removal is in id order, so the recorded
   * changes are the same on every replica. Returns the removed ids.
   */
  sweep(): string[] {
    const marked = new Set<string>();
    const stack: string[] = [];
    for (const kind of this.schema.rootKinds)
      for (const id of this.byKindIndex.get(kind) as Set<string>) {
        marked.add(id);
        stack.push(id);
      }
    while (stack.length > 0) {
      const v = this.vertices.get(stack.pop() as string) as Vertex;
      for (const ids of v.out.values())
        for (const n of ids)
          if (!marked.has(n)) {
            marked.add(n);
            stack.push(n);
          }
    }
    const garbage = [...this.vertices.keys()].filter((id) => !marked.has(id)).sort(compareStrings);
    for (const id of garbage) this.removeResource(id);
    return garbage;
  }

  /**
   * Runs `load` with change recording off and without copying values: for
   * building a graph from data that nobody else holds (a parsed snapshot).
   */
  bulkLoad(load: () => void): void {
    this.loading = true;
    try {
      load();
    } finally {
      this.loading = false;
    }
  }

  /** How many changes are recorded and not yet taken: a mark for changesFrom(). */
  get changeMark(): number {
    return this.changes.length;
  }

  /** The changes recorded since `mark` (a changeMark since the last takeChanges()), not taken. */
  changesFrom(mark: number): GraphChange[] {
    return this.changes.slice(mark);
  }

  /** The changes recorded since the last call, oldest first. */
  takeChanges(): GraphChange[] {
    const out = this.changes;
    this.changes = [];
    return out;
  }

  /** Drops recorded changes (after a bulk load nobody watches). */
  discardChanges(): void {
    this.changes = [];
  }

  // ---- frozen views ----

  /**
   * A view of the graph as it is now that later changes do not alter (see
   * FrozenGraph). Only between transactions: undo() restores vertices without
   * the copy-on-write step, which is right only for changes made after a freeze.
   */
  freeze(): FrozenGraph {
    if (this.journaling) throw new Error("graph freeze inside a transaction");
    const saved = new Map<string, Vertex>();
    this.frozen.push(saved);
    const at = (id: string): Vertex => {
      const v = saved.get(id) ?? this.vertices.get(id);
      if (!v) throw new Error(`frozen graph: "${id}" was not in the graph at the freeze`);
      return v;
    };
    return {
      ids: this.sortedIds(),
      get: at,
      outEdges: (id) => this.outEdgesOf(at(id)),
      encoded: (id, encode) => {
        const v = at(id);
        v.enc ??= encode(v, this.outEdgesOf(v));
        return v.enc;
      },
      release: () => {
        this.frozen = this.frozen.filter((s) => s !== saved);
      },
    };
  }

  /** Keeps a copy of `v` as it is for every frozen view that has none yet (before a change to it). */
  private preserve(v: Vertex): void {
    let copy: Vertex | undefined;
    for (const saved of this.frozen) {
      if (saved.has(v.id)) continue;
      copy ??= {
        ...v,
        attrs: { ...v.attrs },
        out: v.out === NO_EDGES ? NO_EDGES : new Map([...v.out].map(([k, ids]) => [k, new Set(ids)])),
        in: NO_EDGES, // not read by a view
      };
      saved.set(v.id, copy);
    }
  }

  // ---- internals shared with serialisation ----

  /** Outgoing edges of `id`, sorted by relation key then target. */
  outEdges(id: string): Edge[] {
    return this.outEdgesOf(this.vertexOrThrow(id));
  }

  private outEdgesOf(v: Vertex): Edge[] {
    const id = v.id;
    const edges: Edge[] = [];
    for (const key of [...v.out.keys()].sort(compareStrings)) {
      const name = (this.schema.relations.get(key) as CompiledRelation).name;
      for (const to of [...(v.out.get(key) as Set<string>)].sort(compareStrings))
        edges.push({ from: id, relation: name, to });
    }
    return edges;
  }

  private edgesOf(v: Vertex): Edge[] {
    const edges: Edge[] = [];
    for (const [key, ids] of v.out) {
      const name = (this.schema.relations.get(key) as CompiledRelation).name;
      for (const to of [...ids].sort(compareStrings)) edges.push({ from: v.id, relation: name, to });
    }
    for (const [key, ids] of v.in) {
      const name = (this.schema.relations.get(key) as CompiledRelation).name;
      for (const from of [...ids].sort(compareStrings))
        if (from !== v.id) edges.push({ from, relation: name, to: v.id });
    }
    return edges.sort(compareEdges);
  }

  private vertexOrThrow(id: string): Vertex {
    const v = this.vertices.get(id);
    if (!v) throw new GraphError("no-such-resource", `no resource "${id}"`);
    return v;
  }
}

export function compareEdges(a: Edge, b: Edge): number {
  return (
    compareStrings(a.from, b.from) || compareStrings(a.relation, b.relation) || compareStrings(a.to, b.to)
  );
}

function collect(
  adj: Map<string, Set<string>>,
  relation: string | undefined,
  schema: CompiledSchema,
  into: Set<string>,
): void {
  for (const [key, ids] of adj) {
    if (relation !== undefined && (schema.relations.get(key) as CompiledRelation).name !== relation) continue;
    for (const id of ids) into.add(id);
  }
}

/**
 * The adjacency of a vertex without edges in one direction: shared and never
 * written (connect() gives the vertex its own map first), so that the many
 * leaves of a large graph cost no map of their own.
 */
const NO_EDGES: Map<string, Set<string>> = new Map();

function addTo(adj: Map<string, Set<string>>, key: string, id: string): void {
  const set = adj.get(key);
  if (set) set.add(id);
  else adj.set(key, new Set([id]));
}

function removeFrom(adj: Map<string, Set<string>>, key: string, id: string): void {
  const set = adj.get(key);
  if (!set) return;
  set.delete(id);
  if (set.size === 0) adj.delete(key);
}

/** Objects are copied in, so that a caller who later mutates its own value changes nothing here. */
function own(value: AttrValue): AttrValue {
  return typeof value === "object" && value !== null ? structuredClone(value) : value;
}

function sameValue(a: AttrValue, b: AttrValue): boolean {
  // Key order may differ between equal records; compare structurally.
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    const bv = (b as Record<string, AttrValue>)[k];
    if (bv === undefined || !sameValue((a as Record<string, AttrValue>)[k] as AttrValue, bv)) return false;
  }
  return true;
}
