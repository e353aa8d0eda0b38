// The "node-liveness" and "node-drain" rules: heartbeats and joins bring a
// node online (its processes started, its disks back in their pools, the
// current epoch sent); a silence feeds the node-recovery rule; a drain stops
// the node's processes. nodeAway is how the node-recovery rule's intents take
// a node away (transient or down).
import { RcRejection } from "../domain.js";
import type { VectorChange } from "../epochs.js";
import { APPLIED, num, stale, type Network, type Outcome } from "../network.js";
import { setProcessState, setServiceState, showHosted } from "../shown-state.js";
import { CLUSTER_ID, ensureCluster, UNPLACED_ENCLOSURE, UNPLACED_RACK } from "../topology.js";
import type { RuleEvent } from "./types.js";

export function nodeHeard(net: Network, nodeId: string, epoch: number): Outcome {
  // The most frequent event: one lookup, and nothing written unless something changed.
  const node = net.graph.require(nodeId, "Node");
  if (epoch > ((node.attrs.ackedEpoch as number | undefined) ?? 0)) net.epochs.recordAck(nodeId, epoch);
  if (node.attrs.state !== "online") bringOnline(net, nodeId);
  return APPLIED;
}

export function nodeJoined(
  net: Network,
  nodeId: string,
  hostId: string,
  address: string,
  epoch: number,
): Outcome {
  const nodeKind = net.graph.kindOf(nodeId);
  if (nodeKind !== undefined && nodeKind !== "Node")
    throw new RcRejection("wrong-kind", `"${nodeId}" is a ${nodeKind}, not a Node`);
  const hostKind = net.graph.kindOf(hostId);
  if (hostKind !== undefined && hostKind !== "Host")
    throw new RcRejection("wrong-kind", `"${hostId}" is a ${hostKind}, not a Host`);
  ensureCluster(net.graph);
  if (hostKind === undefined) {
    if (!net.graph.has(UNPLACED_RACK)) {
      net.graph.addResource(UNPLACED_RACK, "Rack");
      net.graph.connect(CLUSTER_ID, "has", UNPLACED_RACK);
    }
    if (!net.graph.has(UNPLACED_ENCLOSURE)) {
      net.graph.addResource(UNPLACED_ENCLOSURE, "Enclosure");
      net.graph.connect(UNPLACED_RACK, "has", UNPLACED_ENCLOSURE);
    }
    net.graph.addResource(hostId, "Host", { state: "online" });
    net.graph.connect(UNPLACED_ENCLOSURE, "has", hostId);
  }
  if (nodeKind === undefined)
    net.graph.addResource(nodeId, "Node", {
      state: "down",
      ackedEpoch: 0,
      respawnAttempts: 0,
      drained: false,
    });
  net.graph.connect(hostId, "runs", nodeId);
  if (address !== "") net.graph.setAttr(nodeId, "address", address);
  // A join is a fresh node service: what it acknowledged before is gone.
  net.graph.setAttr(nodeId, "ackedEpoch", Math.min(epoch, net.epochs.current()));
  bringOnline(net, nodeId, true);
  return APPLIED;
}

export function nodeSilent(net: Network, nodeId: string): Outcome {
  net.graph.require(nodeId, "Node");
  if (net.graph.attr(nodeId, "drained") === true) return stale("the node is drained");
  if (net.graph.attr(nodeId, "state") !== "online")
    return stale(`the node is already ${String(net.graph.attr(nodeId, "state"))}`);
  net.feed({ t: "node-silent", nodeId });
  return APPLIED;
}

export function nodeDrained(net: Network, nodeId: string): Outcome {
  net.graph.require(nodeId, "Node");
  if (net.graph.attr(nodeId, "drained") === true) return stale("the node is already drained");
  net.graph.setAttr(nodeId, "drained", true);
  net.epochs.refresh(nodeId);
  const processes = net.graph.neighbours(nodeId, "runs");
  net.outbox.cancel(`start:${nodeId}`);
  net.feed({ t: "node-drained", nodeId });
  for (const pid of processes) {
    setProcessState(net.graph, pid, { state: "stopped", recovering: false });
    for (const s of net.graph.neighbours(pid, "provides")) setServiceState(net.graph, s, "down");
    net.outbox.cancel(`respawn-process:${pid}`);
    net.feed({ t: "process-stopped", processId: pid });
  }
  if (processes.length > 0 && net.graph.attr(nodeId, "state") === "online")
    net.issue(
      `stop:${nodeId}`,
      nodeId,
      { stopProcesses: { nodeId, processIds: processes } } /* keys sorted */,
    );
  return APPLIED;
}

export function nodeAway(net: Network, nodeId: string, state: "transient" | "down"): RuleEvent[] {
  if (net.graph.kindOf(nodeId) !== "Node") return [];
  net.graph.setAttr(nodeId, "state", state);
  const hostId = net.graph.neighbour(nodeId, "runs", "in");
  if (hostId !== undefined) net.graph.setAttr(hostId, "state", state);
  net.outbox.cancel(`epoch:${nodeId}`);
  net.outbox.cancel(`start:${nodeId}`);
  net.outbox.cancel(`stop:${nodeId}`);
  net.epochs.refresh(nodeId);
  const processes = net.graph.neighbours(nodeId, "runs");
  showHosted(net.graph, processes);
  return processes.map((processId) => ({ t: "process-node-down", processId }));
}

/** The node is back: online, its processes started, its disks healthy again, the current epoch sent. */
export function bringOnline(net: Network, nodeId: string, joined = false): void {
  const wasDown = net.graph.attr(nodeId, "state") === "down";
  const wasAway = net.graph.attr(nodeId, "state") !== "online";
  net.graph.setAttrs(nodeId, { state: "online", respawnAttempts: 0 });
  net.epochs.refresh(nodeId);
  const hostId = net.graph.neighbour(nodeId, "runs", "in");
  if (hostId !== undefined) net.graph.setAttr(hostId, "state", "online");
  net.outbox.cancel(`respawn-node:${nodeId}`);
  const processes = net.graph.neighbours(nodeId, "runs");
  // Back to what they were last known in (nothing to do for a node that was online).
  if (wasAway) showHosted(net.graph, processes);
  net.feed({ t: "node-up", nodeId });
  if (net.graph.attr(nodeId, "drained") === true) return;
  // After a join (a fresh node service) every process not under recovery is
  // started; after a heartbeat only those that are neither running nor starting.
  const toStart = processes.filter((pid) => {
    if (net.graph.attr(pid, "recovering") === true) return false;
    const state = net.graph.attr(pid, "state");
    return joined || (state !== "online" && state !== "starting");
  });
  for (const processId of processes)
    if (net.graph.attr(processId, "recovering") === true) net.feed({ t: "process-node-up", processId });
  if (toStart.length > 0) startProcesses(net, nodeId, toStart);
  if (wasDown && hostId !== undefined) {
    const back: VectorChange[] = [];
    for (const d of net.graph.neighbours(hostId, "has"))
      if (net.graph.kindOf(d) === "Disk" && net.graph.attr(d, "state") !== "failed") {
        const poolId = net.graph.neighbour(d, "uses", "in");
        if (poolId !== undefined && net.epochs.failureVector(poolId).includes(d))
          back.push([poolId, d, "in"]);
      }
    if (back.length > 0) net.epochs.changeVectors(back);
  }
  if (num(net.graph, nodeId, "ackedEpoch") < net.epochs.current()) net.epochs.send(nodeId);
  net.epochs.refresh(nodeId);
}

export function startProcesses(net: Network, nodeId: string, pids: string[]): void {
  const processes = pids.map((processId) => {
    const instance = num(net.graph, processId, "instance") + 1;
    setProcessState(net.graph, processId, { instance, state: "starting" });
    // Keys in sorted order (see plain.ts).
    return {
      command: (net.graph.attr(processId, "command") as string | undefined) ?? "",
      instance,
      processId,
    };
  });
  net.issue(`start:${nodeId}`, nodeId, { startProcesses: { nodeId, processes } } /* keys sorted */);
}
