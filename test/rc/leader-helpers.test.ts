import fc from "fast-check";
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

  it("a cached deadline is never later than the exact one, and is exact again after each look", () => {
    // The leader's loop asks nextDeadline at every step with the online set's version; a cached
    // answer later than the truth would let a silent node go unnoticed.
    const NODES = ["n1", "n2", "n3", "n4"];
    const step = fc.oneof(
      fc.record({ t: fc.constant("heard" as const), node: fc.constantFrom(...NODES), dt: fc.nat(400) }),
      fc.record({ t: fc.constant("online" as const), node: fc.constantFrom(...NODES), on: fc.boolean() }),
      fc.record({ t: fc.constant("look" as const), dt: fc.nat(1_500) }),
      fc.record({ t: fc.constant("elected" as const) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const fd = new FailureDetector({ silentAfterMs: 1_000, graceAfterElectionMs: 300 });
        const exact = new FailureDetector({ silentAfterMs: 1_000, graceAfterElectionMs: 300 });
        const online = new Set(["n1", "n2"]);
        let version = 1;
        let now = 0;
        fd.becameLeader(now);
        exact.becameLeader(now);
        for (const st of steps) {
          if (st.t === "heard") {
            now += st.dt;
            fd.heard(st.node, now);
            exact.heard(st.node, now);
          } else if (st.t === "online") {
            if (st.on !== online.has(st.node)) version++;
            if (st.on) online.add(st.node);
            else online.delete(st.node);
          } else if (st.t === "elected") {
            fd.becameLeader(now);
            exact.becameLeader(now);
          } else {
            now += st.dt;
            const cachedAt = fd.nextDeadline(online, version);
            if (cachedAt !== undefined && now >= cachedAt) {
              expect(fd.silentNodes(now, online)).toEqual(exact.silentNodes(now, online));
              expect(fd.nextDeadline(online, version)).toBe(exact.nextDeadline(online));
            }
          }
          const cached = fd.nextDeadline(online, version) ?? Infinity;
          expect(cached).toBeLessThanOrEqual(exact.nextDeadline(online) ?? Infinity);
        }
      }),
      { seed: 20261203, numRuns: 500 },
    );
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
    expect([...s.sm.onlineNodes()]).toEqual(["node-0"]);
    // The node-recovery timer: a Tick is worth proposing exactly when it falls due.
    const due = s.sm.nextTimerDue() as number;
    expect(due).toBeGreaterThan(1_500);
    expect(s.sm.tickDue(due - 1)).toBe(false);
    expect(s.sm.tickDue(due)).toBe(true);
    expect(s.tick(due).commands.map((c) => c.respawnNode?.attempt)).toEqual([2]);
  });
});
