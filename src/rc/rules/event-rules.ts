// The coordinator's rules for events (docs/rc.md, "The rule network"): which
// rule takes each kind of event, what the event is about (the key the rule
// runs for, in the trace), and the dispatch to the rule's function.
import { EventOutcome } from "../../gen/halon/v1/events.js";
import type { DomainEvent } from "../domain.js";
import type { Network, Outcome } from "../network.js";
import { commandResult } from "./acknowledgements.js";
import { diskFailed, diskReplaced, stripingError } from "./disk-health.js";
import { nodeDrained, nodeHeard, nodeJoined, nodeSilent } from "./node-liveness.js";
import { processFailed, processLocalRestart, processStarted } from "./process-reports.js";
import { topology } from "./topology-rule.js";

/**
 * The coordinator's rules for events, by kind of event: each checks the event
 * against the graph, records what it says, and feeds the CEP recovery rules
 * (rules/). With the recovery rules, whose intents the coordinator carries
 * out, they are the coordinator's rule network (docs/rc.md, "The rule
 * network"); explain shows each graph change and command under its rule.
 */
export const EVENT_RULES: Readonly<Record<DomainEvent["type"], string>> = {
  "topology-declared": "topology",
  "node-joined": "node-liveness",
  "node-heartbeat": "node-liveness",
  "node-silent": "node-liveness",
  "node-drained": "node-drain",
  "process-failed": "process-reports",
  "process-started": "process-reports",
  "process-local-restart": "process-reports",
  "striping-error": "disk-health",
  "disk-failed": "disk-health",
  "disk-replaced": "disk-health",
  "epoch-request": "epochs",
  "command-result": "acknowledgements",
  unknown: "unknown-events",
};

/** What an event is about: the key its rule runs for. */
export function eventKey(e: DomainEvent): string {
  switch (e.type) {
    case "process-failed":
    case "process-started":
    case "process-local-restart":
      return e.processId;
    case "node-heartbeat":
    case "node-joined":
    case "node-silent":
    case "node-drained":
    case "epoch-request":
      return e.nodeId;
    case "striping-error":
    case "disk-failed":
    case "disk-replaced":
      return e.diskId;
    case "topology-declared":
      return e.topology.clusterName;
    case "command-result":
      return e.commandId;
    case "unknown":
      return e.name;
  }
}

/** The event's rule (EVENT_RULES) at work. Throws RcRejection (or GraphError) before changing anything. */
export function takeEvent(net: Network, id: string, e: DomainEvent): Outcome {
  switch (e.type) {
    case "topology-declared":
      return topology(net, e.topology);
    case "process-failed":
      return processFailed(net, e.processId, e.instance);
    case "process-started":
      return processStarted(net, e.processId, e.instance);
    case "process-local-restart":
      return processLocalRestart(net, e.processId, e.instance);
    case "node-heartbeat":
      return nodeHeard(net, e.nodeId, e.epoch);
    case "node-joined":
      return nodeJoined(net, e.nodeId, e.hostId, e.address, e.epoch);
    case "node-silent":
      return nodeSilent(net, e.nodeId);
    case "striping-error":
      return stripingError(net, e.poolId, e.diskId);
    case "disk-failed":
      return diskFailed(net, e.diskId);
    case "disk-replaced":
      return diskReplaced(net, e.diskId, e.serial);
    case "node-drained":
      return nodeDrained(net, e.nodeId);
    case "epoch-request":
      // The "epochs" rule: the asking node is sent the current epoch.
      net.graph.require(e.nodeId, "Node");
      net.epochs.send(e.nodeId);
      return { outcome: EventOutcome.EVENT_OUTCOME_APPLIED, reason: `epoch ${net.epochs.current()}` };
    case "command-result":
      return commandResult(net, e.commandId, e.ok, e.nodeId);
    case "unknown":
      net.recordUnknown(id, e.name);
      return { outcome: EventOutcome.EVENT_OUTCOME_RECORDED_UNKNOWN, reason: `no rule for "${e.name}"` };
  }
}
