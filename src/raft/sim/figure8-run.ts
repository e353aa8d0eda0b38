// Raft's Figure 8 as a randomised test, after the classic course test of the
// same name: five replicas; again and again, every replica that believes it
// leads gets a write, and the leader is crashed a few milliseconds later
// (sometimes after a longer pause); whenever fewer than three are up, one
// restarts. Entries of old terms thus keep reaching some replicas but not
// others, which is exactly where a leader that commits an old-term entry by
// counting loses data. Afterwards everything restarts and must agree.
import type { UnsafeOptions } from "../core/config.js";
import type { Violation } from "./checker.js";
import { Simulation } from "./simulation.js";

export interface Figure8Options {
  iterations?: number;
  /** Lossy, duplicating, reordering network as well. */
  unreliable?: boolean;
  unsafe?: UnsafeOptions;
  traceLines?: number;
}

export interface Figure8Result {
  violations: Violation[];
  lastEvents: string[];
  acked: number;
  crashes: number;
}

export async function figure8Run(seed: number, opts: Figure8Options = {}): Promise<Figure8Result> {
  const ids = ["n1", "n2", "n3", "n4", "n5"];
  const sim = new Simulation({
    seed,
    voters: ids,
    traceLines: opts.traceLines ?? 60,
    diskDelayMs: [0.5, 3],
    config: { heartbeatIntervalMs: 10, electionTimeoutMs: 100, maxEntriesPerMessage: 1 },
    unsafe: opts.unsafe,
  });
  const rng = sim.rng;
  await sim.start();
  if (opts.unreliable)
    sim.setFaults({
      loss: 0.1,
      duplicate: 0.05,
      minDelayMs: 1,
      maxDelayMs: 20,
      reorder: 0.1,
      longDelayMs: 300,
    });
  let crashes = 0;
  const iterations = opts.iterations ?? 1000;
  for (let it = 0; it < iterations && sim.violations.length === 0; it++) {
    let leader: string | null = null;
    for (const id of sim.leaders()) {
      sim.propose(id);
      leader = id;
    }
    await sim.runFor(rng.chance(0.1) ? rng.between(0, 250) : rng.between(0, 13));
    if (leader !== null && sim.replica(leader).alive) {
      sim.crash(leader);
      crashes++;
    }
    const up = ids.filter((id) => sim.replica(id).alive);
    if (up.length < 3) {
      const down = ids.filter((id) => !sim.replica(id).alive);
      sim.restart(rng.pick(down));
    }
  }
  // Everything back; one more write must reach every replica.
  if (sim.violations.length === 0) {
    sim.setFaults({ loss: 0, duplicate: 0, minDelayMs: 1, maxDelayMs: 5, reorder: 0 });
    for (const id of ids) sim.restart(id);
    const final = await sim.commitOneMore("final");
    if (final === null && sim.violations.length === 0)
      sim.checker.liveness("no write committed after every replica restarted");
    if (final !== null) {
      const target = final.index;
      const stopNudging = sim.nudgeEvery(1000);
      const done = await sim.runUntil(
        () => ids.every((id) => (sim.replica(id).node?.status().appliedIndex ?? 0) >= target),
        30_000,
      );
      stopNudging();
      if (!done && sim.violations.length === 0) sim.checker.liveness(`not every replica applied ${target}`);
    }
  }
  for (const p of sim.proposals) if (p.status === "acked") sim.checker.checkAcknowledged(p.index, p.data);
  sim.stopAll();
  return {
    violations: sim.violations,
    lastEvents: sim.lastEvents(),
    acked: sim.proposals.filter((p) => p.status === "acked").length,
    crashes,
  };
}
