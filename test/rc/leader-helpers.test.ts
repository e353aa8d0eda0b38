import { describe, expect, it } from "vitest";
import { FailureDetector } from "../../src/rc/leader/failure-detector.js";
import { runningCluster, Scenario } from "./harness.js";

describe("failure detector (leader only)", () => {
  it("suspects nobody during the grace period, then the nodes not heard from, once each", () => {
    const fd = new FailureDetector({ silentAfterMs: 1_000, graceAfterElectionMs: 3_000 });
    const nodes = ["n1", "n2", "n3"];
    expect(fd.silentNodes(10_000, nodes)).toEqual([]); // not leader
    fd.becameLeader(10_000);
    fd.heard("n1", 10_500);
    expect(fd.silentNodes(12_900, nodes)).toEqual([]); // grace
    fd.heard("n1", 12_800);
    fd.heard("n2", 12_950);
    expect(fd.silentNodes(13_000, nodes)).toEqual(["n3"]);
    expect(fd.silentNodes(13_500, nodes)).toEqual([]);
    expect(fd.silentNodes(13_800, nodes)).toEqual(["n1"]);
    expect(fd.silentEvent("n1")).toEqual({
      id: "silent:n1:12800",
      source: "leader",
      nodeSilent: { nodeId: "n1" },
    });
    fd.heard("n1", 14_000); // back: it may be suspected again later
    expect(fd.silentNodes(15_000, nodes)).toEqual(["n1", "n2"]);
  });

  it("drives the state machine: silence proposed, node transient, back when heard", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 2 });
    const fd = new FailureDetector({ silentAfterMs: 1_000, graceAfterElectionMs: 500 });
    fd.becameLeader(0);
    fd.heard("node-0", 900);
    const silent = fd.silentNodes(1_500, s.sm.onlineNodes());
    expect(silent).toEqual(["node-1"]);
    s.events(
      silent.map((n) => fd.silentEvent(n)),
      1_500,
    );
    expect(s.attr("node-1", "state")).toBe("transient");
    expect(s.sm.onlineNodes()).toEqual(["node-0"]);
    // The node-recovery timer: a Tick is worth proposing exactly when it falls due.
    const due = s.sm.nextTimerDue() as number;
    expect(due).toBeGreaterThan(1_500);
    expect(s.sm.tickDue(due - 1)).toBe(false);
    expect(s.sm.tickDue(due)).toBe(true);
    expect(s.tick(due).commands.map((c) => c.respawnNode?.attempt)).toEqual([2]);
  });
});
