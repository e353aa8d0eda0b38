// The graph tells the truth about a node that is away (docs/rc.md, "What the
// graph says"): its processes and services never show online or up while it
// is transient or down, and show what they were last known in when it is back.
import { describe, expect, it } from "vitest";
import { Graph, HALON_SCHEMA } from "../../src/graph/index.js";
import { shownStateViolations } from "../../src/rc/shown-state.js";
import { declaredHosts, runningCluster, Scenario, TEST_CONFIG } from "./harness.js";

const states = (s: Scenario, ids: string[]): unknown[] => ids.map((id) => s.attr(id, "state"));
const PROCS = ["proc-0-0", "proc-0-1"];
const SVCS = ["svc-0-0", "svc-0-1"];

function silentUntilDown(s: Scenario, nodeId: string): void {
  s.event({ nodeSilent: { nodeId } });
  s.tickUntil(s.time + 200_000, 1_000);
  expect(s.attr(nodeId, "state")).toBe("down");
}

describe("what the graph shows for a node that is away", () => {
  it("transient: its processes and services are unknown; back by heartbeat: online and up, nothing restarted", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 2, processesPerNode: 2 });
    s.event({ nodeSilent: { nodeId: "node-0" } });
    expect(s.attr("node-0", "state")).toBe("transient");
    expect(states(s, PROCS)).toEqual(["unknown", "unknown"]);
    expect(states(s, SVCS)).toEqual(["unknown", "unknown"]);
    expect(PROCS.map((p) => s.attr(p, "lastKnown"))).toEqual(["online", "online"]);
    // The other node's processes are untouched.
    expect(states(s, ["proc-1-0", "svc-1-0"])).toEqual(["online", "up"]);
    expect(shownStateViolations(s.sm.graph)).toEqual([]);

    const back = s.event({ nodeHeartbeat: { nodeId: "node-0", epoch: 0 } });
    expect(states(s, PROCS)).toEqual(["online", "online"]);
    expect(states(s, SVCS)).toEqual(["up", "up"]);
    expect(PROCS.map((p) => s.attr(p, "lastKnown"))).toEqual([undefined, undefined]);
    expect(back.commands.filter((c) => c.startProcesses || c.respawnProcess)).toEqual([]);
    expect(shownStateViolations(s.sm.graph)).toEqual([]);
  });

  it("down: offline processes and down services; a rejoin starts them and a report brings them online", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 2, processesPerNode: 2 });
    silentUntilDown(s, "node-0");
    expect(states(s, PROCS)).toEqual(["offline", "offline"]);
    expect(states(s, SVCS)).toEqual(["down", "down"]);
    expect(shownStateViolations(s.sm.graph)).toEqual([]);

    const r = s.event({ nodeJoined: { nodeId: "node-0", hostId: "host-0", address: "", epoch: 0 } });
    const start = r.commands.find((c) => c.startProcesses)?.startProcesses;
    expect(start?.processes.map((p) => p.processId)).toEqual(PROCS);
    expect(states(s, PROCS)).toEqual(["starting", "starting"]);
    for (const p of start?.processes ?? [])
      s.event({ processStarted: { processId: p.processId, instance: p.instance } });
    expect(states(s, PROCS)).toEqual(["online", "online"]);
    expect(states(s, SVCS)).toEqual(["up", "up"]);
    expect(shownStateViolations(s.sm.graph)).toEqual([]);
  });

  it("facts stay: a failed or stopped process shows so on a node that is away", () => {
    // proc-0-1 fails and its respawns are never answered: the rule gives up, it is failed.
    const failed = new Scenario();
    runningCluster(failed, { hosts: 1, processesPerNode: 2 });
    failed.event({ processFailed: { processId: "proc-0-1", instance: 1, reason: "exit 1" } });
    failed.tickUntil(failed.time + 600_000, 1_000);
    expect(failed.sm.rulePhase("process-recovery", "proc-0-1")).toBeUndefined();
    expect(failed.attr("proc-0-1", "state")).toBe("failed");
    expect(failed.attr("svc-0-1", "state")).toBe("down");
    failed.event({ nodeSilent: { nodeId: "node-0" } });
    expect(states(failed, PROCS)).toEqual(["unknown", "failed"]);
    expect(states(failed, SVCS)).toEqual(["unknown", "down"]);
    expect(failed.attr("proc-0-1", "lastKnown")).toBeUndefined();
    expect(shownStateViolations(failed.sm.graph)).toEqual([]);
  });

  it("a report that arrives while the node is away is kept, and shown when it is back", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 2, processesPerNode: 1 });
    s.time = 1_000;
    s.event({ nodeSilent: { nodeId: "node-0" } });
    // A failure while transient is a fact: it shows. The retries go to a node that is away.
    s.event({ processFailed: { processId: "proc-0-0", instance: 1, reason: "exit 1" } });
    expect(s.attr("proc-0-0", "state")).toBe("failed");
    const retry = s
      .tickUntil(s.time + TEST_CONFIG.processRespawnBackoff.maxMs, 500)
      .find((c) => c.respawnProcess);
    expect(retry).toBeDefined();
    // Asked to start, on a node that is away: nobody knows.
    expect(s.attr("proc-0-0", "state")).toBe("unknown");
    expect(s.attr("proc-0-0", "lastKnown")).toBe("starting");
    // The node's own report of the start, while the leader still thinks it transient.
    s.event({ processStarted: { processId: "proc-0-0", instance: retry?.respawnProcess?.instance ?? 0 } });
    expect(s.attr("proc-0-0", "state")).toBe("unknown");
    expect(s.attr("proc-0-0", "lastKnown")).toBe("online");
    expect(s.attr("svc-0-0", "state")).toBe("unknown");
    expect(shownStateViolations(s.sm.graph)).toEqual([]);
    s.event({ nodeHeartbeat: { nodeId: "node-0", epoch: 0 } });
    expect(states(s, ["proc-0-0", "svc-0-0"])).toEqual(["online", "up"]);
    expect(shownStateViolations(s.sm.graph)).toEqual([]);
  });

  it("transient then down: unknown becomes offline; a service another online node provides stays up", () => {
    const s = new Scenario();
    const { hosts } = declaredHosts({ hosts: 2, processesPerNode: 1 });
    // svc-shared is provided by a process on each node.
    for (const h of hosts) h.processes[0]!.serviceIds.push("svc-shared");
    s.event({ topologyDeclared: { clusterName: "test", hosts, pools: [] } });
    for (const n of ["0", "1"])
      s.event({ nodeJoined: { nodeId: `node-${n}`, hostId: `host-${n}`, address: "", epoch: 0 } });
    for (const c of s.pending().filter((x) => x.startProcesses)) {
      s.ack(c.id);
      for (const p of c.startProcesses?.processes ?? [])
        s.event({ processStarted: { processId: p.processId, instance: p.instance } });
    }
    expect(states(s, ["proc-0-0", "svc-0-0", "svc-shared"])).toEqual(["online", "up", "up"]);
    s.event({ nodeSilent: { nodeId: "node-0" } });
    expect(states(s, ["proc-0-0", "svc-0-0", "svc-shared"])).toEqual(["unknown", "unknown", "up"]);
    s.tickUntil(s.time + 200_000, 1_000);
    expect(s.attr("node-0", "state")).toBe("down");
    expect(states(s, ["proc-0-0", "svc-0-0", "svc-shared"])).toEqual(["offline", "down", "up"]);
    // Now node-1 goes away too: the shared service has no provider on an online node left.
    s.event({ nodeSilent: { nodeId: "node-1" } });
    expect(states(s, ["proc-1-0", "svc-1-0", "svc-shared"])).toEqual(["unknown", "unknown", "unknown"]);
    expect(shownStateViolations(s.sm.graph)).toEqual([]);
    // node-1 back: the shared service is up again with it.
    s.event({ nodeHeartbeat: { nodeId: "node-1", epoch: s.sm.epoch } });
    expect(states(s, ["proc-1-0", "svc-1-0", "svc-shared"])).toEqual(["online", "up", "up"]);
    expect(shownStateViolations(s.sm.graph)).toEqual([]);
  });

  it("the check itself catches a graph that lies", () => {
    const g = new Graph(HALON_SCHEMA);
    g.addResource("node-x", "Node", { state: "transient" });
    g.addResource("proc-x", "Process", { state: "online" });
    g.addResource("svc-x", "Service", { state: "up" });
    g.connect("node-x", "runs", "proc-x");
    g.connect("proc-x", "provides", "svc-x");
    expect(shownStateViolations(g)).toEqual([
      "process proc-x shows online on a transient node",
      "service svc-x shows up with no provider on an online node",
    ]);
    g.setAttrs("proc-x", { state: "unknown", lastKnown: "online" });
    g.setAttrs("svc-x", { state: "unknown", lastKnown: "up" });
    expect(shownStateViolations(g)).toEqual([]);
    g.setAttr("node-x", "state", "online");
    expect(shownStateViolations(g)).toEqual([
      "process proc-x keeps lastKnown on an online node",
      "service svc-x keeps lastKnown with a provider on an online node",
    ]);
  });
});
