// Classic scenarios: log agreement under failures, message budgets, backup.
import { describe, expect, it } from "vitest";
import type { Simulation } from "../../../src/raft/sim/simulation.js";
import { ELECTION_MS, checkOneLeader, cluster, nApplied, one, otherThan } from "./scenario-kit.js";

// cluster() registers each simulation; the kit checks and stops it after every test.
let sim: Simulation | null = null;

describe("agreement scenarios", () => {
  it("basic agreement: each command lands on every replica at the next index", async () => {
    sim = await cluster(3);
    await checkOneLeader(sim);
    let prev = 0;
    for (let i = 0; i < 3; i++) {
      const index = await one(sim, `cmd${i}`, 3);
      expect(index).toBeGreaterThan(prev);
      prev = index;
    }
  });

  it("RPC byte budget: each command's bytes cross the network about once per follower", async () => {
    sim = await cluster(3, { seed: 4 });
    await checkOneLeader(sim);
    const before = sim.network.stats.bytes;
    const big = "x".repeat(5000);
    for (let i = 0; i < 10; i++) await one(sim, `${big}${i}`, 3);
    const used = sim.network.stats.bytes - before;
    expect(used).toBeLessThan(10 * 5000 * 2 + 50_000);
  });

  it("follower failure: progress with one follower gone, none with two", async () => {
    sim = await cluster(3, { seed: 5 });
    const leader = await checkOneLeader(sim);
    await one(sim, "a", 3);
    const [f1, f2] = otherThan(sim, leader) as [string, string];
    sim.isolate(f1);
    await one(sim, "b", 2);
    sim.isolate(f2);
    const p = sim.propose(leader, "c");
    await sim.runFor(4 * ELECTION_MS);
    expect(p.status).not.toBe("acked");
  });

  it("leader failure: a new leader after a crash; no commit once a majority is down", async () => {
    sim = await cluster(3, { seed: 6 });
    const l1 = await checkOneLeader(sim);
    await one(sim, "a", 3);
    sim.crash(l1);
    const l2 = await checkOneLeader(sim);
    await one(sim, "b", 2);
    sim.crash(l2);
    const survivor = otherThan(sim, l1, l2)[0] as string;
    const before = sim.node(survivor).status().appliedIndex;
    sim.propose(survivor, "c");
    await sim.runFor(4 * ELECTION_MS);
    expect(sim.node(survivor).status().appliedIndex).toBe(before);
  });

  it("fail-agree: a disconnected follower catches up when it returns", async () => {
    sim = await cluster(3, { seed: 7 });
    const leader = await checkOneLeader(sim);
    await one(sim, "a", 3);
    const f = otherThan(sim, leader)[0] as string;
    sim.isolate(f);
    for (let i = 0; i < 5; i++) await one(sim, `b${i}`, 2);
    sim.connect(f);
    const last = await one(sim, "c", 3);
    expect(nApplied(sim, last)).toBe(3);
  });

  it("fail-no-agree: no commit without a majority; agreement resumes afterwards", async () => {
    sim = await cluster(5, { seed: 8 });
    const leader = await checkOneLeader(sim);
    await one(sim, "a", 5);
    const gone = otherThan(sim, leader).slice(0, 3);
    for (const id of gone) sim.isolate(id);
    const p = sim.propose(leader, "b");
    await sim.runFor(4 * ELECTION_MS);
    expect(p.status).not.toBe("acked");
    for (const id of gone) sim.connect(id);
    await one(sim, "c", 5);
  });

  it("concurrent proposals: all acknowledged, at distinct indexes", async () => {
    sim = await cluster(3, { seed: 9 });
    const leader = await checkOneLeader(sim);
    await one(sim, "warm", 3);
    const ps = Array.from({ length: 50 }, (_, i) => sim!.propose(leader, `c${i}`));
    await sim.runUntil(() => ps.every((p) => p.status !== "pending"), 5000);
    expect(ps.every((p) => p.status === "acked")).toBe(true);
    expect(new Set(ps.map((p) => p.index)).size).toBe(50);
  });

  it("rejoin: a stale leader's uncommitted entries are discarded when it returns", async () => {
    sim = await cluster(3, { seed: 10 });
    const l1 = await checkOneLeader(sim);
    await one(sim, "a", 3);
    sim.isolate(l1);
    const lost = [sim.propose(l1, "lost1"), sim.propose(l1, "lost2")];
    const l2 = await checkOneLeader(sim);
    await one(sim, "b", 2);
    sim.isolate(l2);
    sim.connect(l1);
    await one(sim, "c", 2);
    sim.connect(l2);
    await one(sim, "d", 3);
    expect(lost.every((p) => p.status !== "acked")).toBe(true);
  });

  it("backup: a leader brings back followers over long divergent logs, quickly", async () => {
    sim = await cluster(5, { seed: 11, config: { maxEntriesPerMessage: 64 } });
    const l1 = await checkOneLeader(sim);
    await one(sim, "start", 5);
    // The leader and one follower are cut off with 50 entries that never commit.
    const [f1, ...rest] = otherThan(sim, l1) as [string, ...string[]];
    sim.partition([[l1, f1], rest]);
    for (let i = 0; i < 50; i++) sim.propose(l1, `lost${i}`);
    await sim.runFor(ELECTION_MS);
    // The other three commit 50 of their own.
    await checkOneLeader(sim);
    for (let i = 0; i < 50; i++) sim.propose(sim.leader() as string, `kept${i}`);
    await sim.runFor(2 * ELECTION_MS);
    // Everyone together again.
    sim.heal();
    const appendsBefore = sim.network.stats.appendMessages;
    const index = await one(sim, "end", 5);
    expect(nApplied(sim, index)).toBe(5);
    // Fast backtracking: a handful of appends per follower, not one per entry.
    expect(sim.network.stats.appendMessages - appendsBefore).toBeLessThan(200);
  });

  it("RPC counts: a few messages to elect, a bounded number per command, only heartbeats when idle", async () => {
    sim = await cluster(3, { seed: 12 });
    await checkOneLeader(sim);
    const electionMessages = sim.network.stats.messages;
    expect(electionMessages).toBeLessThan(60);
    await sim.runFor(ELECTION_MS); // settle
    const before = sim.network.stats.messages;
    for (let i = 0; i < 10; i++) await one(sim, `c${i}`, 3);
    const heartbeatsDuringCommits = Math.ceil(sim.now / 50) * 4; // generous
    expect(sim.network.stats.messages - before).toBeLessThan(10 * 8 + heartbeatsDuringCommits);
    const idleStart = sim.network.stats.messages;
    await sim.runFor(1000);
    // One heartbeat and one answer per follower per 50 ms tick.
    expect(sim.network.stats.messages - idleStart).toBeLessThanOrEqual((1000 / 50 + 2) * 2 * 2);
  });
});
