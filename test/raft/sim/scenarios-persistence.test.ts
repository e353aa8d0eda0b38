// Classic scenarios: persistence across crashes, Figure 8, unreliable
// networks and churn.
import { describe, expect, it } from "vitest";
import type { Simulation } from "../../../src/raft/sim/simulation.js";
import { figure8Run } from "../../../src/raft/sim/figure8-run.js";
import { ELECTION_MS, checkOneLeader, cluster, nApplied, one, otherThan } from "./scenario-kit.js";

// cluster() registers each simulation; the kit checks and stops it after every test.
let sim: Simulation | null = null;

describe("persistence scenarios", () => {
  it("persist 1: term, vote and log survive crashes of all, of the leader and of followers", async () => {
    sim = await cluster(3, { seed: 20 });
    await checkOneLeader(sim);
    await one(sim, "a", 3);
    const termBefore = sim.node("n1").core.term;
    for (const id of sim.ids) sim.crash(id);
    for (const id of sim.ids) sim.restart(id);
    await sim.runFor(10);
    expect(sim.node("n1").core.term).toBeGreaterThanOrEqual(termBefore);
    expect(sim.node("n1").core.log.lastIndex()).toBeGreaterThanOrEqual(3);
    await one(sim, "b", 3);
    const leader = await checkOneLeader(sim);
    sim.crash(leader);
    sim.restart(leader);
    await one(sim, "c", 3);
    const leader2 = await checkOneLeader(sim);
    sim.crash(leader2);
    await one(sim, "d", 2);
    sim.restart(leader2);
    await one(sim, "e", 3);
    const f = otherThan(sim, (await checkOneLeader(sim)) as string)[0] as string;
    sim.crash(f);
    await one(sim, "f", 2);
    sim.restart(f);
    await one(sim, "g", 3);
  });

  it("persist 2: repeated crashes of followers in turn keep every commit", async () => {
    sim = await cluster(5, { seed: 21 });
    for (let iter = 0; iter < 5; iter++) {
      await one(sim, `a${iter}`, 5);
      const leader = await checkOneLeader(sim);
      const [f1, f2] = otherThan(sim, leader) as [string, string];
      sim.crash(f1);
      sim.crash(f2);
      await one(sim, `b${iter}`, 3);
      const [f3, f4, f5] = otherThan(sim, leader, f1, f2) as [string, string, string];
      sim.crash(f3);
      sim.crash(f4);
      sim.crash(f5 === leader ? f4 : leader);
      sim.restart(f1);
      sim.restart(f2);
      await sim.runFor(ELECTION_MS);
      sim.restart(f3);
      await one(sim, `c${iter}`, 3);
      for (const id of sim.ids) sim.restart(id);
    }
    const index = await one(sim, "last", 5);
    expect(nApplied(sim, index)).toBe(5);
  });

  it("persist 3: a partitioned leader and a crashed follower come back in agreement", async () => {
    sim = await cluster(3, { seed: 22 });
    await one(sim, "a", 3);
    const leader = await checkOneLeader(sim);
    const f = otherThan(sim, leader)[0] as string;
    sim.isolate(f);
    await one(sim, "b", 2);
    sim.crash(leader);
    sim.connect(f);
    sim.restart(leader);
    await one(sim, "c", 2);
    const other = otherThan(sim, leader, f)[0] as string;
    sim.restart(other);
    const index = await one(sim, "d", 3);
    expect(nApplied(sim, index)).toBe(3);
  });
});

describe("Figure 8", () => {
  it("reliable network: leaders crashed right after writing never lose a commit", async () => {
    for (const seed of [1, 2, 3]) {
      const r = await figure8Run(seed, { iterations: 600 });
      expect(r.violations, `seed ${seed}`).toEqual([]);
      expect(r.crashes).toBeGreaterThan(10);
    }
  });

  it("unreliable network: the same with loss, duplication and reordering", async () => {
    for (const seed of [4, 5, 6]) {
      const r = await figure8Run(seed, { iterations: 600, unreliable: true });
      expect(r.violations, `seed ${seed}`).toEqual([]);
    }
  });
});

describe("unreliable networks and churn", () => {
  it("unreliable agreement: concurrent commands commit through loss, duplication and reordering", async () => {
    sim = await cluster(5, { seed: 23 });
    await checkOneLeader(sim);
    sim.setFaults({
      loss: 0.1,
      duplicate: 0.1,
      minDelayMs: 1,
      maxDelayMs: 30,
      reorder: 0.2,
      longDelayMs: 300,
    });
    const ps = [];
    for (let round = 0; round < 5; round++) {
      const l = sim.leader();
      for (let i = 0; i < 10 && l !== null; i++) ps.push(sim.propose(l, `u${round}.${i}`));
      await sim.runFor(200);
    }
    sim.setFaults({ loss: 0, duplicate: 0, maxDelayMs: 5, reorder: 0 });
    const index = await one(sim, "final", 5);
    expect(nApplied(sim, index)).toBe(5);
    expect(ps.filter((p) => p.status === "acked").length).toBeGreaterThan(0);
  });

  for (const unreliable of [false, true]) {
    it(`${unreliable ? "unreliable" : "reliable"} churn: random crashes, restarts and cuts while clients write`, async () => {
      sim = await cluster(5, { seed: unreliable ? 25 : 24 });
      const s = sim;
      if (unreliable)
        s.setFaults({ loss: 0.1, duplicate: 0.05, maxDelayMs: 20, reorder: 0.1, longDelayMs: 200 });
      for (let iter = 0; iter < 20; iter++) {
        for (const id of s.leaders()) s.propose(id, `w${iter}`);
        const id = s.rng.pick(s.ids);
        const roll = s.rng.next();
        if (roll < 0.2) s.crash(id);
        else if (roll < 0.5) s.restart(id);
        else if (roll < 0.7) s.isolate(id);
        else s.connect(id);
        await s.runFor(s.rng.between(20, 300));
      }
      s.heal();
      s.setFaults({ loss: 0, duplicate: 0, maxDelayMs: 5, reorder: 0 });
      for (const id of s.ids) s.restart(id);
      const index = await one(s, "after churn", 5);
      await s.runUntil(() => nApplied(s, index) === 5, 10_000);
      expect(nApplied(s, index)).toBe(5);
      // Every acknowledged write is in the history every replica applied.
      for (const p of s.proposals) if (p.status === "acked") s.checker.checkAcknowledged(p.index, p.data);
    });
  }
});
