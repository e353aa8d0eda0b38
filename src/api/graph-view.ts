// The resource graph as client-API messages: a whole graph, one resource with
// its neighbours, and graph changes for watchers. Attribute values travel as
// JSON text, so that lists and numbers keep their type without a Struct.
import type {
  GraphChange as GraphChangeMessage,
  GraphEdge,
  GraphResource,
  GraphView,
} from "../gen/halon/v1/client.js";
import { GraphChangeOp } from "../gen/halon/v1/client.js";
import { graphToData, type Graph, type GraphChange } from "../graph/index.js";

function jsonAttrs(attrs: Readonly<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(attrs).sort()) out[key] = JSON.stringify(attrs[key]);
  return out;
}

/** The whole graph, resources and edges sorted. */
export function wholeGraph(graph: Graph): GraphView {
  const data = graphToData(graph);
  return {
    resources: data.resources.map(([id, kind, attrs]) => ({ id, kind, attributes: jsonAttrs(attrs) })),
    edges: data.edges.map(([from, relation, to]) => ({ from, relation, to })),
  };
}

/** One resource, its neighbours in both directions, and the edges among them; null when it does not exist. */
export function neighbourhood(graph: Graph, id: string): GraphView | null {
  const centre = graph.get(id);
  if (!centre) return null;
  const ids = [id, ...graph.neighbours(id, undefined, "both")];
  const unique = [...new Set(ids)].sort();
  const resources: GraphResource[] = unique.map((rid) => {
    const r = graph.get(rid)!;
    return { id: r.id, kind: r.kind, attributes: jsonAttrs(r.attrs) };
  });
  // Only the edges that touch the centre: the neighbours' other edges are not asked for.
  const edges: GraphEdge[] = graph
    .edgesAmong(unique)
    .filter((e) => e.from === id || e.to === id)
    .map((e) => ({ from: e.from, relation: e.relation, to: e.to }));
  return { resources, edges };
}

const OPS: Record<GraphChange["op"], GraphChangeOp> = {
  add: GraphChangeOp.GRAPH_CHANGE_OP_ADD,
  remove: GraphChangeOp.GRAPH_CHANGE_OP_REMOVE,
  set: GraphChangeOp.GRAPH_CHANGE_OP_SET,
  unset: GraphChangeOp.GRAPH_CHANGE_OP_UNSET,
  connect: GraphChangeOp.GRAPH_CHANGE_OP_CONNECT,
  disconnect: GraphChangeOp.GRAPH_CHANGE_OP_DISCONNECT,
};

/** A graph change as a message; serialised at once, so later mutations of the graph cannot leak in. */
export function changeMessage(c: GraphChange): GraphChangeMessage {
  const m: GraphChangeMessage = {
    op: OPS[c.op],
    id: "",
    kind: "",
    key: "",
    valueJson: "",
    oldJson: "",
    from: "",
    relation: "",
    to: "",
    attributes: {},
  };
  switch (c.op) {
    case "add":
      return { ...m, id: c.id, kind: c.kind, attributes: jsonAttrs(c.attrs) };
    case "remove":
      return { ...m, id: c.id, kind: c.kind };
    case "set":
      return {
        ...m,
        id: c.id,
        key: c.key,
        valueJson: JSON.stringify(c.value),
        oldJson: c.old === null ? "" : JSON.stringify(c.old),
      };
    case "unset":
      return { ...m, id: c.id, key: c.key, oldJson: JSON.stringify(c.old) };
    case "connect":
    case "disconnect":
      return { ...m, from: c.from, relation: c.relation, to: c.to };
  }
}
