// Whether the graph already holds a topology declaration: the leader proposes
// the cluster config's declaration only when it does not (a new leader, a
// retry). Pure: reads the graph only.
import type { TopologyDeclared } from "../../gen/halon/v1/events.js";
import type { Graph } from "../../graph/index.js";
import { CLUSTER_ID } from "../topology.js";

/** True when every resource and pool membership the declaration names is already in the graph. */
export function topologyPresent(graph: Graph, t: TopologyDeclared): boolean {
  if (!graph.has(CLUSTER_ID)) return false;
  for (const h of t.hosts) {
    if (!graph.has(h.id) || (h.nodeId !== "" && !graph.hasEdge(h.id, "runs", h.nodeId))) return false;
    for (const d of h.disks) if (!graph.has(d.id)) return false;
    for (const p of h.processes) if (!graph.has(p.id)) return false;
  }
  for (const p of t.pools) for (const d of p.diskIds) if (!graph.hasEdge(p.id, "uses", d)) return false;
  return true;
}
