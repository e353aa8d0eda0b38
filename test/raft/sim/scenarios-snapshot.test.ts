// Classic scenarios: snapshots, log compaction and InstallSnapshot.
import { describe, expect, it } from "vitest";
import type { Simulation } from "../../../src/raft/sim/simulation.js";
import { ELECTION_MS, checkOneLeader, cluster, nApplied, one, otherThan } from "./scenario-kit.js";

// cluster() registers each simulation; the kit checks and stops it after every test.
let sim: Simulation | null = null;

/** Small thresholds so that snapshots happen every few entries; padding makes them span chunks. */
const SNAP = { config: { snapshotThreshold: 10, trailingEntries: 3 }, snapshotPadding: 4000 };

describe("snapshot scenarios", () => {
  it("basic: replicas snapshot at the threshold and compact their logs, keeping a tail", async () => {
    sim = await cluster(3, { seed: 30, ...SNAP });
    for (let i = 0; i < 35; i++) await one(sim, `s${i}`, 3);
    for (const r of sim.live()) {
      const st = r.node!.status();
      expect(st.snapshotIndex).toBeGreaterThanOrEqual(20);
      const first = r.node!.core.log.firstIndex();
      expect(first).toBeGreaterThan(1);
      expect(first).toBeLessThanOrEqual(st.snapshotIndex - 3 + 1); // the tail is kept
      expect(r.logStore.firstIndex).toBeGreaterThan(1); // the store was compacted too
    }
  });

  it("install: a follower that was away gets a snapshot in chunks and catches up", async () => {
    sim = await cluster(3, { seed: 31, ...SNAP });
    const leader = await checkOneLeader(sim);
    const f = otherThan(sim, leader)[0] as string;
    sim.isolate(f);
    for (let i = 0; i < 40; i++) await one(sim, `s${i}`, 2);
    const snapsBefore = sim.network.stats.snapshots;
    sim.connect(f);
    const index = await one(sim, "after", 3);
    expect(sim.network.stats.snapshots).toBeGreaterThan(snapsBefore);
    expect(nApplied(sim, index)).toBe(3);
    expect(sim.replica(f).machine.count).toBe(sim.replica(leader).machine.count);
  });

  it("install on an unreliable network: lost chunks are retried until the follower has it", async () => {
    sim = await cluster(3, { seed: 32, ...SNAP });
    const leader = await checkOneLeader(sim);
    const f = otherThan(sim, leader)[0] as string;
    sim.isolate(f);
    for (let i = 0; i < 40; i++) await one(sim, `s${i}`, 2);
    sim.setFaults({ loss: 0.2, duplicate: 0.05, maxDelayMs: 20, reorder: 0.1, longDelayMs: 100 });
    sim.connect(f);
    await sim.runFor(5 * ELECTION_MS);
    sim.setFaults({ loss: 0, duplicate: 0, maxDelayMs: 5, reorder: 0 });
    const index = await one(sim, "after", 3);
    expect(nApplied(sim, index)).toBe(3);
  });

  it("install with crashes: a follower crashed during the install restarts and still catches up", async () => {
    sim = await cluster(5, { seed: 33, ...SNAP });
    const leader = await checkOneLeader(sim);
    const [f1, f2] = otherThan(sim, leader) as [string, string];
    sim.crash(f1);
    sim.isolate(f2);
    for (let i = 0; i < 40; i++) await one(sim, `s${i}`, 3);
    sim.restart(f1);
    sim.connect(f2);
    await sim.runFor(60);
    sim.crash(f1);
    sim.crash(f2);
    await sim.runFor(ELECTION_MS);
    sim.restart(f1);
    sim.restart(f2);
    const index = await one(sim, "after", 5);
    expect(nApplied(sim, index)).toBe(5);
  });

  it("all crash: everything restarts from its snapshot and log, and goes on", async () => {
    sim = await cluster(3, { seed: 34, ...SNAP });
    for (let i = 0; i < 30; i++) await one(sim, `s${i}`, 3);
    const counts = sim.ids.map((id) => sim!.replica(id).machine.count);
    for (const id of sim.ids) sim.crash(id);
    for (const id of sim.ids) sim.restart(id);
    const index = await one(sim, "after", 3);
    expect(nApplied(sim, index)).toBe(3);
    for (const [k, id] of sim.ids.entries())
      expect(sim.replica(id).machine.count).toBe((counts[k] as number) + 1);
  });

  it("restart from snapshot: the state machine is restored before any entry is replayed", async () => {
    sim = await cluster(3, { seed: 35, ...SNAP });
    for (let i = 0; i < 25; i++) await one(sim, `s${i}`, 3);
    const id = sim.ids[0] as string;
    const snapIndex = sim.node(id).status().snapshotIndex;
    expect(snapIndex).toBeGreaterThan(0);
    sim.crash(id);
    sim.isolate(id); // nothing from the others: what it has must come from its own disk
    sim.restart(id);
    await sim.runFor(20);
    const m = sim.replica(id).machine;
    expect(m.lastIndex).toBeGreaterThanOrEqual(snapIndex - 2); // restored, then its log replayed
    expect(sim.node(id).status().appliedIndex).toBeGreaterThanOrEqual(snapIndex);
    sim.connect(id);
    await one(sim, "after", 3);
  });
});
