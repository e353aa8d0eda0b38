// The "acknowledgements" rule: a node's answer to a command. It ends the
// command (a broadcast ends when its last awaited node answered), records an
// acknowledged epoch, and tells the process-recovery rule of a failed respawn.
import { RcRejection } from "../domain.js";
import { BROADCAST } from "../epochs.js";
import { APPLIED, stale, type Network, type Outcome } from "../network.js";

export function commandResult(net: Network, commandId: string, ok: boolean, nodeId: string): Outcome {
  const pending = net.outbox.get(commandId);
  if (!pending) return stale(`command "${commandId}" is not pending (acknowledged, superseded or cancelled)`);
  if (pending.command.target === BROADCAST) {
    // One answer per node; the broadcast ends when the last awaited node has answered.
    if (nodeId === "")
      throw new RcRejection("bad-field", "command_result.node_id is required for a broadcast");
    net.graph.require(nodeId, "Node");
    if (ok) net.epochs.recordAck(nodeId, pending.command.epochTransition?.epoch ?? 0);
    return APPLIED;
  }
  net.outbox.acknowledge(commandId);
  const c = pending.command;
  if (c.epochTransition && ok && net.graph.kindOf(c.target) === "Node")
    net.epochs.recordAck(c.target, c.epochTransition.epoch);
  if (c.respawnProcess && !ok && net.graph.kindOf(c.respawnProcess.processId) === "Process")
    net.feed({ t: "respawn-failed", processId: c.respawnProcess.processId });
  return APPLIED;
}
