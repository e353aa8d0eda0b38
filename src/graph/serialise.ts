// Canonical serialisation: a graph becomes plain data with every list sorted,
// so that two equal graphs give the same bytes and the same hash, however they
// were built.
import { GraphError } from "./errors.js";
import { Graph, type Resource } from "./graph.js";
import type { CompiledSchema, GraphSchema } from "./schema.js";
import { canonicalJson, compareStrings, sha256Hex, type AttrValue } from "./values.js";

/** [id, kind, attrs] */
export type ResourceData = [string, string, Record<string, AttrValue>];
/** [from, relation, to] */
export type EdgeData = [string, string, string];

export interface GraphData {
  /** Sorted by id. */
  resources: ResourceData[];
  /** Sorted by from, relation key, to. */
  edges: EdgeData[];
}

export function graphToData(graph: Graph): GraphData {
  const resources: ResourceData[] = [];
  const edges: EdgeData[] = [];
  for (const id of graph.ids()) {
    const r = graph.get(id) as NonNullable<ReturnType<Graph["get"]>>;
    resources.push(resourceData(id, r));
    for (const e of graph.outEdges(id)) edges.push([e.from, e.relation, e.to]);
  }
  return { resources, edges };
}

/** One resource as graphToData() lists it. */
export function resourceData(id: string, r: Resource): ResourceData {
  return [id, r.kind, sortedRecord(r.attrs)];
}

/** Rebuilds a graph from data, checking every resource and edge against the schema. */
export function graphFromData(
  schema: GraphSchema | CompiledSchema,
  data: unknown,
  options: { owned?: boolean } = {},
): Graph {
  const graph = new Graph(schema);
  if (typeof data !== "object" || data === null)
    throw new GraphError("bad-data", "graph data must be an object");
  const { resources, edges } = data as Partial<GraphData>;
  if (!Array.isArray(resources) || !Array.isArray(edges))
    throw new GraphError("bad-data", "graph data needs resources and edges lists");
  const load = (): void => {
    for (let i = 0; i < resources.length; i++) {
      const r: unknown = resources[i];
      if (!Array.isArray(r) || r.length !== 3 || typeof r[1] !== "string" || !isRecord(r[2]))
        throw new GraphError("bad-data", `resources[${i}] is not [id, kind, attrs]`);
      graph.addResource(r[0] as string, r[1], r[2]);
    }
    for (let i = 0; i < edges.length; i++) {
      const e: unknown = edges[i];
      if (!isEdgeData(e)) throw new GraphError("bad-data", `edges[${i}] is not [from, relation, to]`);
      const before = graph.edges;
      graph.connect(e[0], e[1], e[2]);
      // connect() replaces on a "one" end; in stored data that would mean two
      // edges where the schema allows one: the data is wrong, not to be repaired.
      if (graph.edges !== before + 1)
        throw new GraphError(
          "bad-data",
          `edges[${i}] ${e[0]} -${e[1]}-> ${e[2]} breaks a cardinality or repeats`,
        );
    }
  };
  // Data the caller hands over (`owned`, e.g. just parsed) is used in place; otherwise values are copied in.
  if (options.owned === true) graph.bulkLoad(load);
  else load();
  graph.discardChanges();
  return graph;
}

export function graphCanonicalJson(graph: Graph): string {
  return canonicalJson(graphToData(graph));
}

export function graphHash(graph: Graph): string {
  return sha256Hex(graphCanonicalJson(graph));
}

function sortedRecord(rec: Readonly<Record<string, AttrValue>>): Record<string, AttrValue> {
  // Usually already in order (attributes are added sorted): then no copy is needed.
  let prev = "";
  let sorted = true;
  for (const k in rec) {
    if (k < prev) {
      sorted = false;
      break;
    }
    prev = k;
  }
  if (sorted) return rec as Record<string, AttrValue>;
  const out: Record<string, AttrValue> = {};
  for (const k of Object.keys(rec).sort(compareStrings)) out[k] = rec[k] as AttrValue;
  return out;
}

function isEdgeData(e: unknown): e is EdgeData {
  return (
    Array.isArray(e) &&
    e.length === 3 &&
    typeof e[0] === "string" &&
    typeof e[1] === "string" &&
    typeof e[2] === "string"
  );
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}
