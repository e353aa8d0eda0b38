// The disk-loss pattern as a randomised schedule: again and again, a
// follower F falls behind (cut off) while the leader commits writes with the
// others, then another follower W loses its disk (wiped, restarted with a plain
// start or --join) or loses its unsynced writes in a crash just after it
// answered, and then the leader dies and F returns. F must not be elected
// with W's help: W no longer holds what it acknowledged. The leader comes
// back, the cluster heals and re-registers W's disk, and the next round starts.
import type { UnsafeOptions } from "../core/config.js";
import type { Violation } from "./checker.js";
import type { FaultCounts } from "./simulation.js";
import { Simulation } from "./simulation.js";

export interface DiskLossResult {
  violations: Violation[];
  lastEvents: string[];
  acked: number;
  rounds: number;
  faults: FaultCounts;
}

export async function diskLossRun(
  seed: number,
  opts: { unsafe?: UnsafeOptions; traceLines?: number; rounds?: number } = {},
): Promise<DiskLossResult> {
  const sim = new Simulation({
    seed,
    voters: ["n1", "n2", "n3"],
    traceLines: opts.traceLines ?? 80,
    // Slow disks: a crash right after an answer often finds the write unsynced.
    diskDelayMs: [2, 8],
    config: { heartbeatIntervalMs: 20, electionTimeoutMs: 200 },
    unsafe: opts.unsafe,
  });
  const rng = sim.rng;
  await sim.start();
  let rounds = 0;
  const target = opts.rounds ?? 12;
  for (let round = 0; round < target && sim.violations.length === 0; round++) {
    // A settled cluster: a leader, every disk registered and known to all.
    const settled = await sim.runUntil(() => sim.leader() !== null && sim.diskLossIsSurvivable(), 10_000);
    if (!settled) break;
    rounds++;
    const leader = sim.leader() as string;
    const [stale, victim] = sim.ids.filter((id) => id !== leader).sort(() => rng.next() - 0.5) as [
      string,
      string,
    ];
    sim.isolate(stale);
    for (let i = 0; i < rng.between(1, 6); i++) sim.propose(leader, `r${round}w${i}`);
    await sim.runFor(rng.between(5, 60));
    if (rng.chance(0.5)) sim.wipe(victim, rng.chance(0.5));
    else sim.crash(victim); // its unsynced writes (and answers already sent) are lost
    sim.crash(leader);
    sim.connect(stale);
    sim.restart(victim);
    await sim.runFor(rng.between(200, 1500));
    sim.restart(leader);
    sim.heal();
  }
  // Everything back: one more write must reach every replica.
  if (sim.violations.length === 0) {
    sim.heal();
    for (const id of sim.ids) sim.restart(id);
    const final = await sim.commitOneMore("final");
    if (final === null && sim.violations.length === 0)
      sim.checker.liveness("no write committed after the last round");
  }
  for (const p of sim.proposals) if (p.status === "acked") sim.checker.checkAcknowledged(p.index, p.data);
  sim.stopAll();
  return {
    violations: sim.violations,
    lastEvents: sim.lastEvents(),
    acked: sim.proposals.filter((p) => p.status === "acked").length,
    rounds,
    faults: { ...sim.faults },
  };
}
