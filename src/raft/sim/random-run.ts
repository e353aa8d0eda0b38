// One randomised run of the simulator, a pure function of its seed: a cluster
// of 3, 5 or 7 voters (and spares to add), clients proposing and reading, and
// a nemesis that partitions, degrades the network, crashes and restarts
// replicas and changes the membership. Then every fault heals and the cluster
// must make progress again within a bound of simulated time.
import type { MembershipChange } from "../core/membership.js";
import { SeededRandom } from "../core/random.js";
import type { UnsafeOptions } from "../core/config.js";
import type { ReplicaId } from "../types.js";
import type { Violation } from "./checker.js";
import type { FaultCounts } from "./simulation.js";
import { Simulation } from "./simulation.js";
import { checkNoDisruption } from "./disruption-check.js";

export interface RandomRunOptions {
  /** Simulated time with faults (ms). */
  chaosMs?: number;
  /** Bound on recovery after healing (ms). */
  livenessMs?: number;
  unsafe?: UnsafeOptions;
  traceLines?: number;
  /**
   * "mixed" (the default) draws every kind of fault; "leader-churn" keeps
   * cutting off and crashing whoever leads, one entry per message: the
   * pattern of Raft's Figure 8.
   */
  profile?: "mixed" | "leader-churn";
}

export interface RandomRunResult {
  seed: number;
  violations: Violation[];
  lastEvents: string[];
  summary: string;
  faults: FaultCounts;
}

export async function randomRun(seed: number, opts: RandomRunOptions = {}): Promise<RandomRunResult> {
  const plan = new SeededRandom(seed ^ 0x5bd1e995);
  const churn = opts.profile === "leader-churn";
  const voterCount = churn ? 3 : plan.pick([3, 3, 5, 5, 7]);
  const voters = Array.from({ length: voterCount }, (_, i) => `n${i + 1}`);
  const spares = Array.from({ length: plan.between(0, 2) }, (_, i) => `s${i + 1}`);
  const config = {
    snapshotThreshold: plan.pick([0, 8, 20, 50]),
    trailingEntries: plan.pick([0, 2, 10]),
    maxEntriesPerMessage: churn ? 1 : plan.pick([1, 3, 64]),
    maxInflightMessages: plan.pick([1, 4, 64]),
    preVote: plan.chance(0.85),
    checkQuorum: plan.chance(0.85),
  };
  const sim = new Simulation({
    seed,
    voters,
    spares,
    maxClockDrift: plan.pick([0, 0.05, 0.2]),
    diskDelayMs: plan.pick([
      [0.1, 1],
      [1, 10],
    ]),
    snapshotPadding: plan.pick([0, 0, 3000]),
    crashOnDelivery: churn ? 0 : plan.pick([0, 0, 0.0005]),
    traceLines: opts.traceLines ?? 80,
    config,
    unsafe: opts.unsafe,
  });
  const chaosMs = opts.chaosMs ?? plan.between(2000, 5000);
  const livenessMs = opts.livenessMs ?? 30_000;
  const rng = sim.rng;
  const all = sim.ids;
  let reads = 0;

  await sim.start();
  // Slow, lossy links widen the windows in which a leader's entries reach only a minority.
  if (churn) sim.setFaults({ loss: 0.1, minDelayMs: 2, maxDelayMs: 60, reorder: 0.1, longDelayMs: 400 });

  // Clients: proposals mostly to the leader, sometimes to anyone.
  let clientOn = true;
  const client = () => {
    if (!clientOn) return;
    if (churn) {
      // Like the Figure 8 tests: every replica that believes it leads gets the write.
      for (const id of sim.leaders()) {
        sim.propose(id);
        // Adversarial timing: cut the leader off before its new entry leaves.
        if (rng.chance(0.15)) sim.isolate(id);
      }
    } else {
      const leader = sim.leader();
      const target = leader !== null && rng.chance(0.85) ? leader : rng.pick(all);
      if (sim.replica(target).alive) sim.propose(target);
    }
    sim.schedule(sim.now + rng.between(5, 60), client);
  };
  sim.schedule(100, client);

  // Linearizable reads: the read index must cover every write acknowledged before the read began.
  const reader = () => {
    if (!clientOn) return;
    const target = rng.pick(all);
    const r = sim.replica(target);
    if (r.alive && r.node !== null) {
      const floor = Math.max(0, ...sim.proposals.filter((p) => p.status === "acked").map((p) => p.index));
      reads++;
      r.node.readIndex().then(
        (index) => {
          if (index < floor)
            sim.checker.violations.push({
              property: "linearizable read",
              detail: `${target} served read index ${index} below ${floor}, acknowledged before the read`,
            });
        },
        () => undefined,
      );
    }
    sim.schedule(sim.now + rng.between(100, 400), reader);
  };
  sim.schedule(200, reader);

  // The nemesis.
  const nemesis = () => {
    if (!clientOn) return;
    const live = sim.live().map((r) => r.id);
    const dead = all.filter((id) => !sim.replica(id).alive);
    const action = churn ? leaderChurnAction(sim, rng) : rng.nextInt(16);
    switch (action) {
      case 0: {
        const shuffled = [...all].sort(() => rng.next() - 0.5);
        const cut = rng.between(1, all.length - 1);
        sim.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
        break;
      }
      case 1: {
        const a = rng.pick(all);
        const b = rng.pick(all);
        if (a !== b) {
          sim.trace(() => `CUT ${a}->${b}`);
          sim.network.block(a, b);
        }
        break;
      }
      case 2:
        sim.isolate(rng.pick(all));
        break;
      case 3:
        sim.heal();
        break;
      case 4:
        sim.setFaults({
          loss: rng.pick([0, 0.05, 0.2]),
          duplicate: rng.pick([0, 0.05]),
          minDelayMs: 1,
          maxDelayMs: rng.pick([5, 30]),
          reorder: rng.pick([0, 0.1]),
          longDelayMs: 200,
        });
        break;
      case 5:
      case 6:
        if (live.length > 0) sim.crash(rng.pick(live));
        break;
      case 7:
        if (dead.length > 0) sim.restart(rng.pick(dead));
        break;
      case 8:
      case 9:
        void changeMembership(sim, rng, all);
        break;
      case 10: {
        const leader = sim.leader();
        if (leader !== null) {
          const to = rng.chance(0.5) ? undefined : rng.pick(all);
          sim.trace(() => `TRANSFER from ${leader} to ${to ?? "best"}`);
          sim
            .node(leader)
            .transferLeadership(to)
            .catch(() => undefined);
        }
        break;
      }
      case 12:
        // A lost disk, when the cluster can survive one more (see diskLossIsSurvivable).
        if (sim.corrupted.size > 0) sim.wipe(rng.pick([...sim.corrupted]), rng.chance(0.5));
        else if (sim.diskLossIsSurvivable()) sim.wipe(rng.pick(all), rng.chance(0.5));
        break;
      case 13:
        if (sim.diskLossIsSurvivable()) sim.corrupt(rng.pick(all));
        break;
      case 14:
        sim.forgeImpossibleProgress(rng.chance(0.5));
        break;
      case 15:
        void operatorAtTheWorstMoment(sim, rng);
        break;
      case -1:
        break;
      default: {
        const leader = sim.leader();
        if (leader !== null) {
          sim.trace(() => `BURST via ${leader}`);
          for (let i = 0; i < 20; i++) sim.propose(leader);
        }
      }
    }
    sim.schedule(sim.now + (churn ? rng.between(20, 200) : rng.between(50, 500)), nemesis);
  };
  sim.schedule(300, nemesis);

  await sim.runFor(chaosMs);
  clientOn = false;

  // Heal everything; the cluster must recover and commit again.
  if (sim.violations.length === 0) {
    sim.heal();
    sim.crashOnDelivery = 0;
    sim.setFaults({ loss: 0, duplicate: 0, minDelayMs: 1, maxDelayMs: 5, reorder: 0 });
    // The operator's fix for a store that refuses to start: recover it as a lost disk.
    for (const id of [...sim.corrupted]) sim.wipe(id, true);
    for (const id of all) sim.restart(id);
    let final: ReturnType<Simulation["propose"]> | null = null;
    const ok = await sim.runUntil(() => {
      if (final !== null && final.status === "acked") return true;
      if (final === null || final.status === "failed") {
        const leader = sim.leader();
        if (
          leader !== null &&
          sim.node(leader).status().appliedIndex >= sim.node(leader).status().commitIndex
        )
          final = sim.propose(leader, "final");
      }
      return false;
    }, livenessMs);
    if (!ok && sim.violations.length === 0) {
      sim.checker.liveness(
        `no proposal committed within ${livenessMs}ms after healing (leader: ${sim.leader() ?? "none"})`,
      );
    } else if (ok && final !== null) {
      const target = (final as { index: number }).index;
      const members = () => {
        const m = sim.membership();
        return [...new Set([...m.voters, ...m.learners])].filter((id) => sim.replicas.has(id));
      };
      const stopNudging = sim.nudgeEvery(1000);
      const converged = await sim.runUntil(
        () => members().every((id) => (sim.replica(id).node?.status().appliedIndex ?? 0) >= target),
        livenessMs,
      );
      stopNudging();
      if (!converged && sim.violations.length === 0)
        sim.checker.liveness(
          `members did not all apply ${target} within ${livenessMs}ms: ${members()
            .map((id) => `${id}=${sim.replica(id).node?.status().appliedIndex ?? "down"}`)
            .join(" ")}`,
        );
      // With PreVote, a replica back from a partition must not unseat the settled leader.
      if (converged && config.preVote && sim.violations.length === 0)
        await checkNoDisruption(sim, { electionTimeoutMs: 500 });
    }
  }
  // Every acknowledged proposal is in the applied history.
  for (const p of sim.proposals) if (p.status === "acked") sim.checker.checkAcknowledged(p.index, p.data);
  sim.stopAll();
  const acked = sim.proposals.filter((p) => p.status === "acked").length;
  return {
    seed,
    violations: sim.violations,
    lastEvents: sim.lastEvents(),
    faults: { ...sim.faults },
    summary: `${voterCount} voters + ${spares.length} spares, ${sim.events} events, ${acked}/${sim.proposals.length} proposals acknowledged, ${reads} reads, applied through ${sim.checker.maxAppliedIndex}`,
  };
}

/**
 * An operator changes the membership just as a voter (often the leader) fails:
 * a crash or a cut, then at once a promotion or a removal, sometimes forced.
 */
async function operatorAtTheWorstMoment(sim: Simulation, rng: SeededRandom): Promise<void> {
  const m = sim.membership();
  if (m.voters.length === 0) return;
  const leader = sim.leader();
  const victim = leader !== null && rng.chance(0.5) ? leader : rng.pick(m.voters);
  if (rng.chance(0.5)) sim.crash(victim);
  else sim.isolate(victim);
  const changes: MembershipChange[][] = [];
  if (m.learners.length > 0) changes.push([{ op: "addVoter", id: rng.pick(m.learners) }]);
  if (m.voters.length > 2 && sim.recovering.size === 0 && sim.corrupted.size === 0)
    changes.push([{ op: "remove", id: rng.pick(m.voters) }]);
  if (changes.length === 0) return;
  // Forced only while no disk is being rebuilt: forcing out a voter then can leave
  // too few to re-register the new disk, which only an unsafe recovery could fix.
  const force = sim.recovering.size === 0 && sim.corrupted.size === 0 && rng.chance(0.3);
  await sim.changeMembership(rng.pick(changes), force);
}

/** Leader churn: cut off or crash the leader, or repair; returns a case of the nemesis switch or -1. */
function leaderChurnAction(sim: Simulation, rng: SeededRandom): number {
  const leader = sim.leader();
  const roll = rng.next();
  if (leader !== null && roll < 0.3) {
    sim.isolate(leader);
    return -1;
  }
  if (leader !== null && roll < 0.4) {
    sim.crash(leader);
    return -1;
  }
  if (roll < 0.6) {
    const dead = sim.ids.filter((id) => !sim.replica(id).alive);
    if (dead.length > 0) sim.restart(rng.pick(dead));
    return -1;
  }
  if (roll < 0.9) return 3; // heal
  return 11; // a burst of proposals
}

async function changeMembership(sim: Simulation, rng: SeededRandom, all: ReplicaId[]): Promise<void> {
  const m = sim.membership();
  const members = new Set([...m.voters, ...m.learners]);
  const outsiders = all.filter((id) => !members.has(id));
  const options: MembershipChange[][] = [];
  if (outsiders.length > 0) options.push([{ op: "addLearner", id: rng.pick(outsiders) }]);
  if (m.learners.length > 0) options.push([{ op: "addVoter", id: rng.pick(m.learners) }]);
  // Not while a disk is rebuilt: a removal then can leave too few voters to
  // re-register it (the live-quorum check sees a voter that just failed as live).
  const rebuilding = sim.recovering.size > 0 || sim.corrupted.size > 0;
  if (m.voters.length > 2 && !rebuilding) options.push([{ op: "remove", id: rng.pick(m.voters) }]);
  if (m.learners.length > 0 && m.voters.length > 1 && !rebuilding)
    options.push([
      { op: "addVoter", id: rng.pick(m.learners) },
      { op: "remove", id: rng.pick(m.voters) },
    ]);
  const leader = sim.leader();
  if (outsiders.length > 0 && leader !== null && rng.chance(0.25)) {
    // The safe way in: learner first, voter once caught up.
    const id = rng.pick(outsiders);
    sim.trace(() => `ADD SERVER ${id} via ${leader}`);
    await sim
      .node(leader)
      .addServer(id, 4)
      .catch(() => undefined);
    return;
  }
  if (options.length === 0) return;
  await sim.changeMembership(rng.pick(options));
}
