// Leadership transfer and linearizable reads, in the simulator.
import { describe, expect, it } from "vitest";
import type { Simulation } from "../../../src/raft/sim/simulation.js";
import { NotLeaderError } from "../../../src/raft/core/errors.js";
import { ELECTION_MS, checkOneLeader, cluster, one, otherThan } from "./scenario-kit.js";

// cluster() registers each simulation; the kit checks and stops it after every test.
let sim: Simulation | null = null;

describe("leadership transfer", () => {
  it("hands leadership to a named follower", async () => {
    sim = await cluster(3, { seed: 50 });
    const leader = await checkOneLeader(sim);
    await one(sim, "a", 3);
    const target = otherThan(sim, leader)[1] as string;
    let result: string | null = null;
    void sim
      .node(leader)
      .transferLeadership(target)
      .then((l) => (result = l));
    await sim.runUntil(() => result !== null, 2000);
    expect(result).toBe(target);
    expect(sim.leader()).toBe(target);
    await one(sim, "b", 3);
  });

  it("picks the most up-to-date follower when none is named, and waits for a lagging one", async () => {
    sim = await cluster(3, { seed: 51 });
    const leader = await checkOneLeader(sim);
    const [lagging, current] = otherThan(sim, leader) as [string, string];
    sim.isolate(lagging);
    for (let i = 0; i < 5; i++) await one(sim, `a${i}`, 2);
    let result: string | null = null;
    void sim
      .node(leader)
      .transferLeadership()
      .then((l) => (result = l));
    await sim.runUntil(() => result !== null, 2000);
    expect(result).toBe(current);
    // A transfer to a follower that is behind first brings it up to date.
    sim.connect(lagging);
    let second: string | null = null;
    void sim
      .node(current)
      .transferLeadership(lagging)
      .then((l) => (second = l));
    await sim.runUntil(() => second !== null, 3000);
    expect(second).toBe(lagging);
    await one(sim, "b", 3);
  });

  it("fails when the target cannot be reached, and the leader serves again", async () => {
    sim = await cluster(3, { seed: 52 });
    const leader = await checkOneLeader(sim);
    const target = otherThan(sim, leader)[0] as string;
    sim.isolate(target);
    let failed = false;
    void sim
      .node(leader)
      .transferLeadership(target)
      .catch(() => (failed = true));
    await sim.runUntil(() => failed, 10 * ELECTION_MS);
    expect(failed).toBe(true);
    expect(sim.leader()).toBe(leader);
    await one(sim, "still serving", 2);
  });
});

describe("linearizable reads", () => {
  it("a read on any replica reflects every write acknowledged before it", async () => {
    sim = await cluster(3, { seed: 53 });
    await checkOneLeader(sim);
    for (const id of sim.ids) {
      const index = await one(sim, `w-${id}`, 1);
      let readAt = -1;
      void sim
        .node(id)
        .readIndex()
        .then((i) => (readAt = i));
      await sim.runUntil(() => readAt >= 0, 2000);
      expect(readAt).toBeGreaterThanOrEqual(index);
      expect(sim.node(id).status().appliedIndex).toBeGreaterThanOrEqual(index);
    }
  });

  it("a leader cut off from the majority does not serve reads", async () => {
    sim = await cluster(3, { seed: 54 });
    const leader = await checkOneLeader(sim);
    await one(sim, "a", 3);
    sim.isolate(leader);
    let outcome: string | null = null;
    sim
      .node(leader)
      .readIndex()
      .then(
        () => (outcome = "served"),
        (e: unknown) => (outcome = e instanceof NotLeaderError ? "not leader" : String(e)),
      );
    await sim.runUntil(() => outcome !== null, 20 * ELECTION_MS);
    expect(outcome).not.toBe("served");
  });

  it("barrier: resolves once everything committed before it is applied", async () => {
    sim = await cluster(3, { seed: 55 });
    const leader = await checkOneLeader(sim);
    const ps = Array.from({ length: 10 }, (_, i) => sim!.propose(leader, `b${i}`));
    let done = false;
    void sim
      .node(leader)
      .barrier()
      .then(() => (done = true));
    await sim.runUntil(() => done, 2000);
    expect(done).toBe(true);
    const maxAcked = Math.max(...ps.filter((p) => p.status === "acked").map((p) => p.index), 0);
    expect(sim.node(leader).status().appliedIndex).toBeGreaterThanOrEqual(maxAcked);
  });
});
