// What the recovery rules ask for, carried out on the graph and the outbox
// under the rule that asked (the coordinator traces it as that rule's step).
import type { VectorChange } from "../epochs.js";
import { num, type Network } from "../network.js";
import { setProcessState, setServiceState } from "../shown-state.js";
import { nodeAway } from "./node-liveness.js";
import type { Intent, RuleEvent } from "./types.js";

/** Returns the rule events that follow from the intent. */
export function carryOut(net: Network, intent: Intent, time: number): RuleEvent[] {
  switch (intent.do) {
    case "respawn-process": {
      const pid = intent.processId;
      if (net.graph.kindOf(pid) !== "Process") return [];
      const nodeId = net.graph.neighbour(pid, "runs", "in");
      if (nodeId === undefined) return [];
      const instance = num(net.graph, pid, "instance") + 1;
      const respawns = num(net.graph, pid, "respawns") + (intent.counted ? 1 : 0);
      setProcessState(net.graph, pid, { instance, state: "starting", respawns, recovering: true });
      const command = (net.graph.attr(pid, "command") as string | undefined) ?? "";
      net.issue(
        `respawn-process:${pid}`,
        nodeId,
        { respawnProcess: { attempt: intent.attempt, command, instance, processId: pid } },
        time,
      );
      return [];
    }
    case "process-given-up": {
      const pid = intent.processId;
      if (net.graph.kindOf(pid) !== "Process") return [];
      setProcessState(net.graph, pid, { state: "failed", recovering: false });
      for (const s of net.graph.neighbours(pid, "provides")) setServiceState(net.graph, s, "down");
      net.outbox.cancel(`respawn-process:${pid}`);
      return [];
    }
    case "node-transient":
      return nodeAway(net, intent.nodeId, "transient");
    case "respawn-node": {
      const nodeId = intent.nodeId;
      if (net.graph.kindOf(nodeId) !== "Node") return [];
      const hostId = net.graph.neighbour(nodeId, "runs", "in") ?? "";
      const infraEndpoint = hostId === "" ? "" : ((net.graph.attr(hostId, "infraEndpoint") as string) ?? "");
      net.graph.setAttr(nodeId, "respawnAttempts", intent.attempt);
      net.issue(
        `respawn-node:${nodeId}`,
        hostId === "" ? nodeId : hostId,
        { respawnNode: { attempt: intent.attempt, hostId, infraEndpoint, nodeId } },
        time,
      );
      return [];
    }
    case "node-down": {
      const events = nodeAway(net, intent.nodeId, "down");
      net.outbox.cancel(`respawn-node:${intent.nodeId}`);
      // Its disks leave their pools' healthy set.
      const hostId = net.graph.neighbour(intent.nodeId, "runs", "in");
      if (hostId !== undefined) {
        const changes: VectorChange[] = [];
        for (const d of net.graph.neighbours(hostId, "has"))
          if (net.graph.kindOf(d) === "Disk") {
            const poolId = net.graph.neighbour(d, "uses", "in");
            if (poolId !== undefined && !net.epochs.failureVector(poolId).includes(d))
              changes.push([poolId, d, "out"]);
          }
        if (changes.length > 0) net.epochs.changeVectors(changes);
      }
      return events;
    }
  }
}
