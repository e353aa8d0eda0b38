// Folding a topology declaration into the graph. The declaration adds what is
// missing and updates what exists; it never removes. It is checked against
// the graph as a whole before the first change, so a refused declaration
// leaves the graph as it was.
import type { TopologyDeclared } from "../gen/halon/v1/events.js";
import type { Graph } from "../graph/index.js";
import { RcRejection } from "./domain.js";

export const CLUSTER_ID = "cluster";
/** Where a host that joins without being declared is placed, so that it stays reachable. */
export const UNPLACED_RACK = "rack-unplaced";
export const UNPLACED_ENCLOSURE = "enclosure-unplaced";

export function ensureCluster(graph: Graph, name = ""): void {
  if (!graph.has(CLUSTER_ID)) graph.addResource(CLUSTER_ID, "Cluster", { epoch: 0 });
  if (name !== "" && graph.attr(CLUSTER_ID, "name") !== name) graph.setAttr(CLUSTER_ID, "name", name);
}

function expectKind(graph: Graph, id: string, kind: string): boolean {
  const actual = graph.kindOf(id);
  if (actual === undefined) return false;
  if (actual !== kind)
    throw new RcRejection("wrong-kind", `"${id}" is a ${actual} in the graph, not a ${kind}`);
  return true;
}

function ensure(graph: Graph, id: string, kind: string, attrs: Record<string, unknown>): boolean {
  if (graph.has(id)) return false;
  graph.addResource(id, kind, attrs);
  return true;
}

export interface TopologyEffect {
  /** Processes added on nodes that are online: the caller starts them. */
  newProcessesByNode: Map<string, string[]>;
  /** Whether pools' disk sets changed (the caller may start an epoch transition). */
  poolsChanged: boolean;
}

export function applyTopology(graph: Graph, t: TopologyDeclared): TopologyEffect {
  // Check first: kinds of existing ids, and that every pool disk exists somewhere.
  const declaredDisks = new Set<string>();
  for (const h of t.hosts) {
    expectKind(graph, h.id, "Host");
    expectKind(graph, h.rackId, "Rack");
    expectKind(graph, h.enclosureId, "Enclosure");
    if (h.nodeId !== "") expectKind(graph, h.nodeId, "Node");
    for (const d of h.disks) {
      expectKind(graph, d.id, "Disk");
      declaredDisks.add(d.id);
    }
    for (const p of h.processes) {
      expectKind(graph, p.id, "Process");
      for (const s of p.serviceIds) expectKind(graph, s, "Service");
    }
  }
  for (const p of t.pools) {
    expectKind(graph, p.id, "Pool");
    for (const d of p.diskIds)
      if (!declaredDisks.has(d) && !expectKind(graph, d, "Disk"))
        throw new RcRejection(
          "unknown-resource",
          `pool "${p.id}" uses disk "${d}", which is declared nowhere`,
        );
  }

  ensureCluster(graph, t.clusterName);
  const effect: TopologyEffect = { newProcessesByNode: new Map(), poolsChanged: false };
  for (const h of t.hosts) {
    if (ensure(graph, h.rackId, "Rack", {})) graph.connect(CLUSTER_ID, "has", h.rackId);
    if (ensure(graph, h.enclosureId, "Enclosure", {})) graph.connect(h.rackId, "has", h.enclosureId);
    ensure(graph, h.id, "Host", { state: "online" });
    graph.connect(h.enclosureId, "has", h.id);
    if (h.address !== "") graph.setAttr(h.id, "address", h.address);
    if (h.infraEndpoint !== "") graph.setAttr(h.id, "infraEndpoint", h.infraEndpoint);
    for (const d of h.disks) {
      ensure(graph, d.id, "Disk", { state: "online" });
      if (d.serial !== "") graph.setAttr(d.id, "serial", d.serial);
      graph.connect(h.id, "has", d.id);
    }
    if (h.nodeId === "") continue;
    // A node declared before it joins waits as "down" with nothing to recover.
    ensure(graph, h.nodeId, "Node", { state: "down", ackedEpoch: 0, respawnAttempts: 0, drained: false });
    graph.connect(h.id, "runs", h.nodeId);
    const nodeOnline = graph.attr(h.nodeId, "state") === "online";
    for (const p of h.processes) {
      const created = ensure(graph, p.id, "Process", {
        state: "stopped",
        instance: 0,
        localRestarts: 0,
        respawns: 0,
      });
      if (p.command !== "") graph.setAttr(p.id, "command", p.command);
      graph.connect(h.nodeId, "runs", p.id);
      for (const s of p.serviceIds) {
        ensure(graph, s, "Service", { state: "down" });
        graph.connect(p.id, "provides", s);
      }
      if (created && nodeOnline) {
        const list = effect.newProcessesByNode.get(h.nodeId) ?? [];
        list.push(p.id);
        effect.newProcessesByNode.set(h.nodeId, list);
      }
    }
  }
  for (const p of t.pools) {
    if (ensure(graph, p.id, "Pool", { epoch: 0, failureVector: [] })) graph.connect(CLUSTER_ID, "has", p.id);
    for (const d of p.diskIds)
      if (!graph.hasEdge(p.id, "uses", d)) {
        graph.connect(p.id, "uses", d);
        effect.poolsChanged = true;
      }
  }
  return effect;
}
