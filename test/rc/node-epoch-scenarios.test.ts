import { describe, expect, it } from "vitest";
import { EventOutcome, type Command } from "../../src/gen/halon/v1/events.js";
import { backoffDelay } from "../../src/rc/config.js";
import { outcomeOf, runningCluster, Scenario, TEST_CONFIG } from "./harness.js";

const epochTargets = (cs: Command[]): string[] => cs.filter((c) => c.epochTransition).map((c) => c.target);

describe("node silent", () => {
  it("goes transient, respawn-node retried with backoff, down after the budget; its disks leave their pools", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 3, processesPerNode: 1, disksPerHost: 2, pools: 1 });
    s.time = 100_000;
    const r = s.event({ nodeSilent: { nodeId: "node-1" } });
    expect(s.attr("node-1", "state")).toBe("transient");
    expect(s.attr("host-1", "state")).toBe("transient");
    expect(r.commands.map((c) => [c.target, c.respawnNode?.attempt, c.respawnNode?.infraEndpoint])).toEqual([
      ["host-1", 1, "ipmi-1"],
    ]);
    const times: number[] = [];
    const attempts: number[] = [];
    const start = s.time;
    for (let t = start + 500; t <= start + 200_000 && s.attr("node-1", "state") !== "down"; t += 500) {
      const cs = s.tick(t).commands;
      for (const c of cs.filter((x) => x.respawnNode)) {
        times.push(t - start);
        attempts.push(c.respawnNode?.attempt ?? -1);
      }
    }
    const b = TEST_CONFIG.nodeRespawnBackoff;
    expect(attempts).toEqual([2, 3]);
    expect(times).toEqual([backoffDelay(b, 1), backoffDelay(b, 1) + backoffDelay(b, 2)]);
    expect(s.attr("node-1", "state")).toBe("down");
    expect(s.attr("host-1", "state")).toBe("down");
    expect(s.sm.rulePhase("node-recovery", "node-1")).toBe("down");
    // Disks of host-1 left pool-0: a new epoch went to the nodes still online, not to node-1.
    expect(s.attr("pool-0", "failureVector")).toEqual(["disk-1-0", "disk-1-1"]);
    expect(s.sm.epoch).toBe(1);
    expect(
      s
        .pending()
        .filter((c) => c.epochTransition)
        .map((c) => c.target),
    ).toEqual(["*"]);
    expect(s.epochDeliveries()).toEqual(["node-0", "node-2"]);
    expect(s.pending().some((c) => c.respawnNode)).toBe(false);
  });

  it("a node that comes back before the deadline is online again, nothing else happens", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 2, processesPerNode: 1, disksPerHost: 1, pools: 1 });
    s.event({ nodeSilent: { nodeId: "node-0" } });
    s.tickUntil(s.time + backoffDelay(TEST_CONFIG.nodeRespawnBackoff, 1)); // one retry
    const r = s.event({ nodeHeartbeat: { nodeId: "node-0", epoch: 0 } });
    expect(s.attr("node-0", "state")).toBe("online");
    expect(s.attr("host-0", "state")).toBe("online");
    expect(s.sm.rulePhase("node-recovery", "node-0")).toBeUndefined();
    // Its processes were running all along: nothing to start; the respawn-node command is withdrawn.
    expect(r.commands).toEqual([]);
    expect(s.pending()).toEqual([]);
    expect(s.sm.epoch).toBe(0);
    expect(s.tickUntil(s.time + 100_000, 5_000)).toEqual([]);
  });

  it("a node that rejoins after the deadline is online, its processes started, its disks back, the epoch sent", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 2, processesPerNode: 2, disksPerHost: 1, pools: 1 });
    s.event({ nodeSilent: { nodeId: "node-0" } });
    s.tickUntil(s.time + 200_000, 1_000);
    expect(s.attr("node-0", "state")).toBe("down");
    expect(s.sm.epoch).toBe(1);
    const r = s.event({
      nodeJoined: { nodeId: "node-0", hostId: "host-0", address: "10.0.0.9:7000", epoch: 0 },
    });
    expect(s.attr("node-0", "state")).toBe("online");
    expect(s.attr("node-0", "address")).toBe("10.0.0.9:7000");
    const start = r.commands.find((c) => c.startProcesses);
    expect(start?.startProcesses?.processes.map((p) => [p.processId, p.instance])).toEqual([
      ["proc-0-0", 2],
      ["proc-0-1", 2],
    ]);
    // Its disk rejoined the pool: epoch 2, sent to both nodes.
    expect(s.attr("pool-0", "failureVector")).toEqual([]);
    expect(s.sm.epoch).toBe(2);
    expect(s.epochDeliveries()).toEqual(["node-0", "node-1"]);
    expect(s.pending().find((c) => c.target === "node-0" && c.epochTransition)?.epochTransition?.epoch).toBe(
      2,
    );
  });
});

describe("epochs", () => {
  it("a striping error gives epoch + 1 and a broadcast; acknowledgements are recorded", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 3, disksPerHost: 2, pools: 2 });
    const r = s.event({ stripingError: { poolId: "pool-1", diskId: "disk-1-0" } });
    expect(outcomeOf(r)).toBe(EventOutcome.EVENT_OUTCOME_APPLIED);
    expect(s.sm.epoch).toBe(1);
    expect(s.attr("disk-1-0", "state")).toBe("failed");
    expect(s.attr("pool-1", "failureVector")).toEqual(["disk-1-0"]);
    expect(s.attr("pool-1", "epoch")).toBe(1);
    // One broadcast, delivered to every online node.
    expect(epochTargets(r.commands)).toEqual(["*"]);
    expect(s.epochDeliveries()).toEqual(["node-0", "node-1", "node-2"]);
    const broadcast = r.commands[0];
    const t = broadcast?.epochTransition;
    expect(t?.epoch).toBe(1);
    expect(t?.pools).toEqual([
      { poolId: "pool-0", epoch: 0, failedDiskIds: [] },
      { poolId: "pool-1", epoch: 1, failedDiskIds: ["disk-1-0"] },
    ]);
    const id = broadcast?.id as string;
    expect(s.ack(id).events[0]?.code).toBe("bad-field"); // a broadcast answer must name its node
    s.ack(id, true, "node-0");
    s.ack(id, true, "node-1");
    s.ack(id, true, "node-1");
    expect(s.attr("node-0", "ackedEpoch")).toBe(1);
    expect(s.attr("node-1", "ackedEpoch")).toBe(1);
    expect(s.attr("node-2", "ackedEpoch")).toBe(0);
    expect(s.epochDeliveries()).toEqual(["node-2"]);
    // The last answer ends the broadcast.
    s.ack(id, true, "node-2");
    expect(s.pending()).toEqual([]);
    expect(outcomeOf(s.ack(id, true, "node-2"))).toBe(EventOutcome.EVENT_OUTCOME_IGNORED_STALE);
    // The same disk reported again: no new epoch.
    const again = s.event({ stripingError: { poolId: "pool-1", diskId: "disk-1-0" } });
    expect(outcomeOf(again)).toBe(EventOutcome.EVENT_OUTCOME_IGNORED_STALE);
    expect(s.sm.epoch).toBe(1);
    // A disk not in that pool is refused.
    const wrong = s.event({ stripingError: { poolId: "pool-1", diskId: "disk-0-0" } });
    expect(wrong.events[0]?.code).toBe("conflict");
  });

  it("a newer transition supersedes an unacknowledged older one for the same node", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 2, disksPerHost: 2, pools: 1 });
    s.event({ diskFailed: { diskId: "disk-0-0" } });
    s.event({ diskFailed: { diskId: "disk-1-1" } });
    expect(s.sm.epoch).toBe(2);
    expect(s.pending().map((c) => [c.target, c.epochTransition?.epoch])).toEqual([["*", 2]]);
    // A late answer to a superseded command is acknowledged as stale.
    const old = s.issued.find((c) => c.epochTransition?.epoch === 1);
    expect(outcomeOf(s.ack(old?.id as string, true, "node-0"))).toBe(
      EventOutcome.EVENT_OUTCOME_IGNORED_STALE,
    );
    s.event({ diskReplaced: { diskId: "disk-0-0", serial: "NEW" } });
    expect(s.sm.epoch).toBe(3);
    expect(s.attr("pool-0", "failureVector")).toEqual(["disk-1-1"]);
    expect(s.attr("disk-0-0", "serial")).toBe("NEW");
  });

  it("a request for the epoch is answered with the current one", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 2, disksPerHost: 1, pools: 1 });
    s.event({ diskFailed: { diskId: "disk-0-0" } });
    const r = s.event({ epochRequest: { nodeId: "node-1" } });
    expect(r.commands.map((c) => [c.target, c.epochTransition?.epoch])).toEqual([["node-1", 1]]);
    expect(r.events[0]?.reason).toBe("epoch 1");
    expect(outcomeOf(s.event({ epochRequest: { nodeId: "node-77" } }))).toBe(
      EventOutcome.EVENT_OUTCOME_REJECTED,
    );
  });

  it("a late joiner, declared or not, gets the current epoch and its processes started", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 2, disksPerHost: 1, pools: 1 });
    s.event({ stripingError: { poolId: "pool-0", diskId: "disk-1-0" } });
    const r = s.event({ nodeJoined: { nodeId: "node-new", hostId: "host-new", address: "", epoch: 0 } });
    expect(r.commands.map((c) => [c.target, c.epochTransition?.epoch])).toEqual([["node-new", 1]]);
    expect(s.sm.graph.neighbour("host-new", "runs")).toBe("node-new");
    // Undeclared hosts are placed where the sweep still reaches them.
    expect(s.sm.graph.sweep()).toEqual([]);
    // A node that already knows the epoch is not sent it again.
    const known = s.event({ nodeJoined: { nodeId: "node-x", hostId: "host-x", address: "", epoch: 1 } });
    expect(known.commands).toEqual([]);
  });
});
