// A checked property: a replica that returns from a partition does not
// disrupt a stable leader. With PreVote the cut-off replica cannot raise its
// term, so on its return the leader keeps its office and its term. Run on a
// healed, settled cluster; a failure is reported as a "disruption" violation.
import type { RaftNodeConfig } from "../driver/node-config.js";
import type { Simulation } from "./simulation.js";

export async function checkNoDisruption(sim: Simulation, config: Partial<RaftNodeConfig>): Promise<void> {
  // Settled: a leader that is a voter (not one handing over after its removal), every
  // voter up, on a registered disk (one re-registering does not count yet), no change in flight.
  const stopSettling = sim.nudgeEvery(200);
  const settled = await sim.runUntil(
    () =>
      sim.leader() !== null &&
      sim.membership().voters.includes(sim.leader() as string) &&
      sim.diskLossIsSurvivable() &&
      sim.membership().voters.every((id) => sim.isConnected(id)),
    10_000,
  );
  stopSettling();
  if (!settled) return;
  const leader = sim.leader();
  if (leader === null) return;
  const m = sim.membership();
  const followers = m.voters.filter((id) => id !== leader && sim.isConnected(id));
  if (followers.length === 0) return;
  const term = sim.node(leader).core.term;
  const away = sim.rng.pick(followers);
  sim.faults.partitionReturns++;
  const electionMs = config.electionTimeoutMs ?? 500;
  sim.isolate(away);
  const stopNudging = sim.nudgeEvery(200);
  await sim.runFor(electionMs * (3 + sim.rng.nextInt(4)));
  sim.connect(away);
  await sim.runFor(electionMs * 3);
  stopNudging();
  const now = sim.leader();
  const nowTerm = now === null ? null : sim.node(now).core.term;
  if (now !== leader || nowTerm !== term)
    sim.checker.violations.push({
      property: "disruption",
      detail: `${away} came back from a partition and the stable leader ${leader} (term ${term}) lost office: now ${now ?? "none"} in term ${nowTerm ?? "-"}`,
    });
}
