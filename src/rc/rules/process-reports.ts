// The "process-reports" rule: what node services report of their processes
// (failed after their local restarts, started, restarted locally), checked
// against the instance the graph knows; a failure feeds the process-recovery rule.
import { APPLIED, isUsable, num, stale, type Network, type Outcome } from "../network.js";
import { lastKnownState, setProcessState, setServiceState } from "../shown-state.js";

export function processFailed(net: Network, pid: string, instance: number): Outcome {
  net.graph.require(pid, "Process");
  const current = num(net.graph, pid, "instance");
  const state = lastKnownState(net.graph, pid);
  if (instance < current) return stale(`instance ${instance} was replaced by ${current}`);
  if (instance === current && (state === "failed" || state === "stopped"))
    return stale(`instance ${instance} is already ${String(state)}`);
  if (net.graph.attr(pid, "recovering") === true && state !== "starting" && state !== "online")
    return stale("already being recovered");
  setProcessState(net.graph, pid, { instance, state: "failed", recovering: true });
  const nodeId = net.graph.neighbour(pid, "runs", "in");
  const nodeUp = nodeId !== undefined && isUsable(net.graph, nodeId);
  net.feed({ t: "process-failed", processId: pid, nodeUp });
  return APPLIED;
}

export function processStarted(net: Network, pid: string, instance: number): Outcome {
  net.graph.require(pid, "Process");
  const current = num(net.graph, pid, "instance");
  if (instance < current) return stale(`instance ${instance} was replaced by ${current}`);
  const node = setProcessState(net.graph, pid, { instance, state: "online", recovering: false });
  for (const s of net.graph.neighbours(pid, "provides"))
    setServiceState(net.graph, s, "up", node === "online");
  net.outbox.cancel(`respawn-process:${pid}`);
  net.feed({ t: "process-started", processId: pid });
  return APPLIED;
}

export function processLocalRestart(net: Network, pid: string, instance: number): Outcome {
  net.graph.require(pid, "Process");
  const current = num(net.graph, pid, "instance");
  if (instance <= current) return stale(`instance ${instance} is not newer than ${current}`);
  // Recorded only: the node service handled it.
  setProcessState(net.graph, pid, {
    instance,
    state: "online",
    localRestarts: num(net.graph, pid, "localRestarts") + 1,
  });
  return APPLIED;
}
