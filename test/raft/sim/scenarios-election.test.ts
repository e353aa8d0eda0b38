// Classic scenarios: leader election.
import { describe, expect, it } from "vitest";
import type { Simulation } from "../../../src/raft/sim/simulation.js";
import { ELECTION_MS, checkOneLeader, cluster, otherThan, termOf } from "./scenario-kit.js";

// cluster() registers each simulation; the kit checks and stops it after every test.
let sim: Simulation | null = null;

describe("election scenarios", () => {
  it("initial election: one leader, agreed terms, and no change without failures", async () => {
    sim = await cluster(3);
    const leader = await checkOneLeader(sim);
    const term = termOf(sim, leader);
    expect(term).toBeGreaterThanOrEqual(2);
    await sim.runFor(2 * ELECTION_MS);
    for (const id of sim.ids) expect(termOf(sim, id)).toBe(term);
    expect(sim.leader()).toBe(leader);
  });

  it("re-election: a new leader when the leader is cut off; none without a quorum", async () => {
    sim = await cluster(3, { seed: 2 });
    const l1 = await checkOneLeader(sim);
    sim.isolate(l1);
    const l2 = await checkOneLeader(sim);
    expect(l2).not.toBe(l1);
    // The old leader rejoins: one leader, still.
    sim.connect(l1);
    await checkOneLeader(sim);
    // No quorum: no leader among the connected.
    const l3 = sim.leader() as string;
    const other = otherThan(sim, l3)[0] as string;
    sim.isolate(l3);
    sim.isolate(other);
    await sim.runFor(4 * ELECTION_MS);
    const alone = otherThan(sim, l3, other)[0] as string;
    expect(sim.node(alone).isLeader).toBe(false);
    // A quorum again: a leader.
    sim.connect(other);
    await checkOneLeader(sim);
  });

  it("many elections: seven replicas, repeatedly losing three", async () => {
    sim = await cluster(7, { seed: 3 });
    await checkOneLeader(sim);
    for (let iter = 0; iter < 8; iter++) {
      const ids = [...sim.ids].sort(() => sim!.rng.next() - 0.5).slice(0, 3);
      for (const id of ids) sim.isolate(id);
      await checkOneLeader(sim);
      for (const id of ids) sim.connect(id);
    }
    await checkOneLeader(sim);
  });
});
