// The "disk-health" rule: striping errors, failed and replaced disks move
// disks out of and back into their pools' healthy set; each change is a new
// epoch, broadcast to the nodes (epochs.ts).
import type { Graph } from "../../graph/index.js";
import { RcRejection } from "../domain.js";
import { APPLIED, stale, type Network, type Outcome } from "../network.js";

export function stripingError(net: Network, poolId: string, diskId: string): Outcome {
  net.graph.require(poolId, "Pool");
  net.graph.require(diskId, "Disk");
  if (!net.graph.hasEdge(poolId, "uses", diskId))
    throw new RcRejection("conflict", `disk "${diskId}" is not in pool "${poolId}"`);
  if (net.epochs.failureVector(poolId).includes(diskId))
    return stale(`disk "${diskId}" is already out of the pool`);
  net.graph.setAttr(diskId, "state", "failed");
  net.epochs.changeVectors([[poolId, diskId, "out"]]);
  return APPLIED;
}

export function diskFailed(net: Network, diskId: string): Outcome {
  net.graph.require(diskId, "Disk");
  if (net.graph.attr(diskId, "state") === "failed") return stale("the disk is already failed");
  net.graph.setAttr(diskId, "state", "failed");
  const poolId = net.graph.neighbour(diskId, "uses", "in");
  if (poolId !== undefined && !net.epochs.failureVector(poolId).includes(diskId))
    net.epochs.changeVectors([[poolId, diskId, "out"]]);
  return APPLIED;
}

export function diskReplaced(net: Network, diskId: string, serial: string): Outcome {
  net.graph.require(diskId, "Disk");
  net.graph.setAttr(diskId, "state", "online");
  if (serial !== "") net.graph.setAttr(diskId, "serial", serial);
  const poolId = net.graph.neighbour(diskId, "uses", "in");
  if (
    poolId !== undefined &&
    net.epochs.failureVector(poolId).includes(diskId) &&
    diskHostUp(net.graph, diskId)
  )
    net.epochs.changeVectors([[poolId, diskId, "in"]]);
  return APPLIED;
}

function diskHostUp(graph: Graph, diskId: string): boolean {
  const hostId = graph.neighbour(diskId, "has", "in");
  return hostId === undefined || graph.attr(hostId, "state") !== "down";
}
