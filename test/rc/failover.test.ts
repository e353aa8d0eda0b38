// A failover is a fresh state machine restored from a snapshot taken
// mid-way, then fed the rest of the log: it must continue exactly as the old
// one would have, with no command lost or issued twice.
import { describe, expect, it } from "vitest";
import type { Entry } from "../../src/raft/types.js";
import { RcStateMachine } from "../../src/rc/state-machine.js";
import { runningCluster, Scenario, TEST_CONFIG } from "./harness.js";

function restoredFrom(sm: RcStateMachine): RcStateMachine {
  const fresh = new RcStateMachine({ config: TEST_CONFIG });
  fresh.restore(sm.snapshot());
  return fresh;
}

/** Applies the log from `from` on to both machines; asserts equal results and hashes at every index. */
function replayBoth(a: RcStateMachine, b: RcStateMachine, log: Entry[], from: number): void {
  for (const e of log.slice(from)) {
    expect(Buffer.from(b.apply(e)).toString("hex"), `result at index ${e.index}`).toBe(
      Buffer.from(a.apply(e)).toString("hex"),
    );
    expect(b.stateHash(), `hash at index ${e.index}`).toBe(a.stateHash());
  }
}

describe("failover", () => {
  it("in the middle of an epoch transition: the new leader completes it, nothing lost or duplicated", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 5, disksPerHost: 1, pools: 1 });
    const r = s.event({ stripingError: { poolId: "pool-0", diskId: "disk-2-0" } });
    expect(r.commands.map((c) => c.target)).toEqual(["*"]);
    const broadcast = r.commands[0]?.id as string;
    s.ack(broadcast, true, "node-0");
    s.ack(broadcast, true, "node-1");

    // The old leader fails here. The new one restores the latest snapshot.
    const splitAt = s.log.length;
    const successor = restoredFrom(s.sm);
    expect(successor.stateHash()).toBe(s.sm.stateHash());
    expect(successor.pendingCommands()).toEqual(s.sm.pendingCommands());
    expect(successor.pendingCommands().map((c) => c.id)).toEqual([broadcast]);
    expect(successor.nodesAwaitingEpoch()).toEqual(["node-2", "node-3", "node-4"]);

    // The log goes on (the new leader delivered the pending commands; answers come back).
    s.ack(broadcast, true, "node-2");
    s.ack(broadcast, true, "node-2"); // a node answering twice
    s.ack(broadcast, true, "node-3");
    s.ack(broadcast, true, "node-4");
    s.event({ epochRequest: { nodeId: "node-4" } });
    // Apply the tail to the successor and compare with the original run.
    const original = new RcStateMachine({ config: TEST_CONFIG });
    for (const e of s.log.slice(0, splitAt)) original.apply(e);
    replayBoth(original, successor, s.log, splitAt);
    expect(successor.stateHash()).toBe(s.sm.stateHash());
    for (let i = 0; i < 5; i++) expect(successor.graph.attr(`node-${i}`, "ackedEpoch")).toBe(1);
    // Only the answer to the epoch request is left.
    expect(successor.pendingCommands().map((c) => [c.target, c.epochTransition?.epoch])).toEqual([
      ["node-4", 1],
    ]);
    const ids = s.issued.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("with a node recovery in backoff: timers survive and fire at the same time", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 2, processesPerNode: 1, disksPerHost: 1, pools: 1 });
    s.time = 50_000;
    s.event({ nodeSilent: { nodeId: "node-1" } });
    s.event({ processFailed: { processId: "proc-0-0", instance: 1, reason: "" } });
    s.tick(52_000);
    const splitAt = s.log.length;
    const successor = restoredFrom(s.sm);
    expect(successor.nextTimerDue()).toBe(s.sm.nextTimerDue());
    s.tickUntil(200_000, 1_000);
    s.event({ nodeJoined: { nodeId: "node-1", hostId: "host-1", address: "", epoch: 0 } });
    const original = new RcStateMachine({ config: TEST_CONFIG });
    for (const e of s.log.slice(0, splitAt)) original.apply(e);
    replayBoth(original, successor, s.log, splitAt);
    expect(successor.graph.attr("node-1", "state")).toBe("online");
    expect(s.issued.filter((c) => c.respawnNode).map((c) => c.respawnNode?.attempt)).toEqual([1, 2, 3]);
  });
});

describe("failover regressions", () => {
  it("a pool declared after an epoch change is in the next transition, on the old leader as on the new", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 2, disksPerHost: 2, pools: 1 });
    s.event({ stripingError: { poolId: "pool-0", diskId: "disk-0-0" } });
    s.event({
      topologyDeclared: { clusterName: "", hosts: [], pools: [{ id: "pool-9", diskIds: ["disk-1-1"] }] },
    });
    const splitAt = s.log.length;
    const successor = restoredFrom(s.sm);
    s.event({ epochRequest: { nodeId: "node-1" } });
    const pools = s
      .pending()
      .find((c) => c.target === "node-1")
      ?.epochTransition?.pools.map((p) => p.poolId);
    expect(pools).toEqual(["pool-0", "pool-9"]);
    const original = new RcStateMachine({ config: TEST_CONFIG });
    for (const e of s.log.slice(0, splitAt)) original.apply(e);
    replayBoth(original, successor, s.log, splitAt);
  });
});
