// The "topology" rule: a TopologyDeclared adds (never removes) what it
// declares, checked as a whole first (topology.ts), and starts the processes
// new on an online node.
import { compareStrings } from "../../graph/index.js";
import { APPLIED, type Network, type Outcome } from "../network.js";
import { applyTopology } from "../topology.js";
import { startProcesses } from "./node-liveness.js";

export function topology(net: Network, t: Parameters<typeof applyTopology>[1]): Outcome {
  const effect = applyTopology(net.graph, t);
  // Pools may have appeared: the cached transition no longer describes them all.
  net.epochs.forgetTransition();
  for (const nodeId of [...effect.newProcessesByNode.keys()].sort(compareStrings))
    startProcesses(net, nodeId, effect.newProcessesByNode.get(nodeId) as string[]);
  return APPLIED;
}
