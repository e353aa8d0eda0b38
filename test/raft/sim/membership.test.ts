// Membership changes while serving, in the simulator.
import { describe, expect, it } from "vitest";
import type { Simulation } from "../../../src/raft/sim/simulation.js";
import { ProposalDroppedError } from "../../../src/raft/core/errors.js";
import { ELECTION_MS, checkOneLeader, cluster, one, otherThan, settle } from "./scenario-kit.js";

// cluster() registers each simulation; the kit checks and stops it after every test.
let sim: Simulation | null = null;

describe("membership changes", () => {
  it("adds a learner that catches up without voting, then promotes it", async () => {
    sim = await cluster(3, { seed: 40, spares: ["s1"] });
    const leader = await checkOneLeader(sim);
    for (let i = 0; i < 5; i++) await one(sim, `a${i}`, 3);
    expect(await settle(sim, sim.changeMembership([{ op: "addLearner", id: "s1" }]))).toBeNull();
    const index = await one(sim, "b", 4);
    expect(sim.node("s1").status().appliedIndex).toBeGreaterThanOrEqual(index);
    expect(sim.node("s1").core.promotable()).toBe(false);
    // A learner does not count: with two voters down nothing commits.
    const [f1, f2] = otherThan(sim, leader, "s1") as [string, string];
    sim.isolate(f1);
    sim.isolate(f2);
    const p = sim.propose(leader, "needs a voter");
    await sim.runFor(3 * ELECTION_MS);
    expect(p.status).not.toBe("acked");
    sim.connect(f1);
    sim.connect(f2);
    await checkOneLeader(sim);
    expect(await settle(sim, sim.changeMembership([{ op: "addVoter", id: "s1" }]))).toBeNull();
    await one(sim, "c", 4);
    expect(sim.membership().voters).toContain("s1");
    expect(sim.node("s1").core.promotable()).toBe(true);
  });

  it("addServer: a new replica joins as a learner and becomes a voter once caught up", async () => {
    sim = await cluster(3, {
      seed: 45,
      spares: ["s1"],
      config: { snapshotThreshold: 20, trailingEntries: 5 },
    });
    for (let i = 0; i < 60; i++) await one(sim, `a${i}`, 3);
    const leader = await checkOneLeader(sim);
    const m = await settle(sim, sim.node(leader).addServer("s1", 8), 20_000);
    expect(m.voters).toContain("s1");
    expect(sim.node("s1").status().appliedIndex).toBeGreaterThan(50);
    await one(sim, "with s1", 4);
  });

  it("removes a follower; the removed replica cannot disrupt the rest", async () => {
    sim = await cluster(3, { seed: 41 });
    const leader = await checkOneLeader(sim);
    const victim = otherThan(sim, leader)[0] as string;
    expect(await settle(sim, sim.changeMembership([{ op: "remove", id: victim }]))).toBeNull();
    await one(sim, "after removal", 2);
    const term = sim.node(leader).core.term;
    await sim.runFor(10 * ELECTION_MS);
    expect(sim.leader()).toBe(leader);
    expect(sim.node(leader).core.term).toBe(term);
  });

  it("removes the leader: it steps down and the others elect a new one", async () => {
    sim = await cluster(3, { seed: 42 });
    const leader = await checkOneLeader(sim);
    await one(sim, "a", 3);
    expect(await settle(sim, sim.changeMembership([{ op: "remove", id: leader }]))).toBeNull();
    await sim.runUntil(() => sim!.leader() !== null && sim!.leader() !== leader, 10 * ELECTION_MS);
    const l2 = sim.leader() as string;
    expect(l2).not.toBe(leader);
    await one(sim, "b", 2);
    expect(sim.membership().voters).not.toContain(leader);
  });

  it("replaces a voter through joint consensus and leaves the joint state by itself", async () => {
    sim = await cluster(3, { seed: 43, spares: ["s1"] });
    const leader = await checkOneLeader(sim);
    const old = otherThan(sim, leader, "s1")[0] as string;
    expect(await settle(sim, sim.changeMembership([{ op: "addLearner", id: "s1" }]))).toBeNull();
    await sim.runFor(500); // it catches up
    expect(
      await settle(
        sim,
        sim.changeMembership([
          { op: "addVoter", id: "s1" },
          { op: "remove", id: old },
        ]),
      ),
    ).toBeNull();
    await sim.runUntil(() => sim!.membership().outgoing === undefined, 5000);
    const m = sim.membership();
    expect(m.outgoing).toBeUndefined();
    expect(m.voters).toContain("s1");
    expect(m.voters).not.toContain(old);
    await one(sim, "after joint", 3);
  });

  it("allows one change at a time", async () => {
    sim = await cluster(3, { seed: 44, spares: ["s1", "s2"] });
    const leader = await checkOneLeader(sim);
    const node = sim.node(leader);
    const first = node.addLearner("s1");
    await expect(node.addLearner("s2")).rejects.toThrow(ProposalDroppedError);
    await settle(sim, first);
    expect((await settle(sim, node.addLearner("s2"))).learners).toEqual(["s1", "s2"]);
  });
});
