// One seed of `make sim-rc`: a cluster of 3-5 replicas and a few nodes under
// a random schedule of faults for `chaosMs` of virtual time, then everything
// healed and run until quiet; then the end-state checks. Every fault kind the
// issue names is drawn: network loss, delay, duplication and reordering (both
// networks), partitions (replica-replica, replica-node), replica crashes,
// restarts and disk wipes, node deaths and returns, process failures, striping
// errors, leader transfers, and a paused leader that wakes late.
import type { Violation } from "../../src/raft/sim/checker.js";
import { RcWorld, type PlantedBug, type WorldCounts } from "./rc-world.js";

export interface RcSeedOptions {
  chaosMs?: number;
  traceLines?: number;
  planted?: PlantedBug;
  /** Longest virtual time to wait for quiet after healing. */
  settleMs?: number;
  hashEvery?: number;
}

export interface RcSeedResult {
  seed: number;
  violations: Violation[];
  lastEvents: string[];
  summary: string;
  faults: Record<string, number>;
  counts: WorldCounts;
}

/** Runs one seed; an exception of the simulator itself is that seed's failure, never lost. */
export async function simulateRcSeed(seed: number, opts: RcSeedOptions = {}): Promise<RcSeedResult> {
  let world: RcWorld | undefined;
  const faults: Record<string, number> = {};
  try {
    world = makeWorld(seed, opts);
    await runSeed(world, opts, faults);
  } catch (e) {
    world?.violation("simulator error", e instanceof Error ? (e.stack ?? e.message) : String(e));
  } finally {
    world?.sim.stopAll();
  }
  const w = world;
  if (!w)
    return {
      seed,
      violations: [{ property: "simulator error", detail: "no world" }],
      lastEvents: [],
      summary: "the world could not be built",
      faults,
      counts: {} as WorldCounts,
    };
  const epoch = w.leader()?.machine.epoch ?? -1;
  return {
    seed,
    violations: w.sim.violations,
    lastEvents: w.sim.lastEvents(),
    summary:
      `${w.opts.replicas} replicas, ${w.opts.nodes} nodes; ${Object.entries(faults)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}; ${w.counts.deliveries} deliveries, ${w.counts.refusedStale} refused as stale, ` +
      `${w.counts.obeyed} obeyed, ${w.acked.size} events acked; epoch ${epoch}`,
    faults,
    counts: w.counts,
  };
}

function makeWorld(seed: number, opts: RcSeedOptions): RcWorld {
  // The cluster's shape is drawn from the seed too.
  const shape = ((seed * 2654435761) >>> 0) % 9;
  return new RcWorld({
    seed,
    replicas: 3 + (shape % 3 === 2 ? 2 : 0),
    nodes: 3 + (shape % 3),
    processesPerNode: 2,
    disksPerNode: 2,
    traceLines: opts.traceLines,
    planted: opts.planted,
    hashEvery: opts.hashEvery,
  });
}

export const FAULT_KINDS = [
  "raft-net",
  "node-net",
  "isolate-replica",
  "crash-replica",
  "wipe-replica",
  "cut-node-link",
  "node-death",
  "process-failure",
  "striping-error",
  "leader-transfer",
  "pause-leader",
  "stripe-then-pause",
] as const;

async function runSeed(w: RcWorld, opts: RcSeedOptions, faults: Record<string, number>): Promise<void> {
  const rng = w.rng;
  const chaosMs = opts.chaosMs ?? 20_000;
  await w.start();
  // The topology declared and the nodes joined before the faults start.
  await w.runUntil(() => settled(w), 20_000);
  let stripe = 0;
  const end = w.now + chaosMs;
  while (w.now < end && w.sim.violations.length === 0) {
    const kind = rng.pick(FAULT_KINDS);
    faults[kind] = (faults[kind] ?? 0) + 1;
    const replicas = w.sim.ids;
    const leader = w.sim.leader();
    switch (kind) {
      case "raft-net":
        w.sim.setFaults(
          rng.chance(0.5)
            ? {
                loss: 0.05 * rng.next(),
                duplicate: 0.05,
                reorder: 0.1,
                minDelayMs: 1,
                maxDelayMs: 30,
                longDelayMs: 300,
              }
            : { loss: 0, duplicate: 0, reorder: 0, minDelayMs: 1, maxDelayMs: 5 },
        );
        break;
      case "node-net":
        w.nodeFaults = rng.chance(0.5)
          ? { loss: 0.2 * rng.next(), duplicate: 0.1, minDelayMs: 1, maxDelayMs: 200 }
          : { loss: 0, duplicate: 0, minDelayMs: 1, maxDelayMs: 5 };
        break;
      case "isolate-replica": {
        const id = rng.pick(replicas);
        w.sim.isolate(id);
        const back = w.now + 500 + rng.next() * 3_000;
        w.sim.schedule(back, () => w.sim.connect(id));
        break;
      }
      case "crash-replica": {
        const id = rng.pick(replicas);
        w.sim.crash(id);
        w.sim.schedule(w.now + 200 + rng.next() * 3_000, () => w.sim.restart(id));
        break;
      }
      case "wipe-replica": {
        // Only when the cluster is sure to keep every acknowledged entry (as the Raft simulator's disk-loss runs).
        if (w.sim.diskLossIsSurvivable()) w.sim.wipe(rng.pick(replicas), rng.chance(0.5));
        else faults[kind]--;
        break;
      }
      case "cut-node-link": {
        const r = rng.pick(replicas);
        const n = rng.pick([...w.nodes.keys()]);
        w.cutNodeLink(r, n, true);
        w.sim.schedule(w.now + 500 + rng.next() * 5_000, () => w.cutNodeLink(r, n, false));
        break;
      }
      case "node-death": {
        const n = rng.pick([...w.nodes.values()]);
        if (!n.alive) break;
        w.trace(() => `NODE DEATH ${n.id}`);
        n.die();
        // Some come back by themselves; the others wait for the coordinator's RespawnNode (or the heal).
        if (rng.chance(0.5)) w.sim.schedule(w.now + 1_000 + rng.next() * 8_000, () => n.alive || n.start());
        break;
      }
      case "process-failure": {
        const n = rng.pick([...w.nodes.values()]);
        if (n.alive) {
          const p = rng.pick(n.processIds);
          if (n.failProcess(p)) w.trace(() => `PROCESS FAILED ${p}`);
        }
        break;
      }
      case "striping-error": {
        if (leader === null) break;
        const disk = rng.pick(w.poolDisks);
        const event = {
          id: `client-stripe-${++stripe}`,
          source: "client",
          stripingError: { poolId: "pool-0", diskId: disk },
        };
        w.trace(() => `STRIPING ERROR ${disk}`);
        w.proposeEvents(w.sim.node(leader), [event]).catch(() => undefined);
        break;
      }
      case "leader-transfer": {
        if (leader === null) break;
        const to = rng.pick(replicas.filter((r) => r !== leader));
        w.trace(() => `TRANSFER ${leader} -> ${to}`);
        w.sim
          .node(leader)
          .transferLeadership(to)
          .catch(() => undefined);
        break;
      }
      case "stripe-then-pause": {
        // The leader freezes right after it applied a striping error: the deliveries it decided
        // go out when it wakes, late, in its old term.
        if (leader === null) break;
        const disk = rng.pick(w.poolDisks);
        const event = {
          id: `client-stripe-${++stripe}`,
          source: "client",
          stripingError: { poolId: "pool-0", diskId: disk },
        };
        const ms = 1_500 + rng.next() * 4_000;
        w.trace(() => `STRIPING ERROR ${disk}, then the leader pauses`);
        w.proposeEvents(w.sim.node(leader), [event]).then(
          () => w.pause(leader, ms),
          () => undefined,
        );
        break;
      }
      case "pause-leader": {
        if (leader !== null) w.pause(leader, 1_500 + rng.next() * 4_000);
        break;
      }
    }
    await w.runFor(100 + rng.next() * 1_200);
  }
  if (w.sim.violations.length > 0) return;
  w.trace(() => "HEAL: every fault mended; running until quiet");
  w.heal();
  const quiet = await w.runUntil(() => settled(w), opts.settleMs ?? 240_000);
  if (w.sim.violations.length > 0) return;
  // A few more seconds: the rest of the replicas catch up.
  await w.runFor(3_000);
  finalChecks(w, quiet);
}

/**
 * Quiet: a leader whose outbox is empty, every node online with the current
 * epoch acknowledged, and every node service at that epoch.
 */
export function settled(w: RcWorld): boolean {
  const l = w.leader();
  if (l === null) return false;
  const sm = l.machine;
  if (sm.pendingCommands().length > 0 || !sm.graph.has("pool-0")) return false;
  for (const n of w.nodes.values()) {
    if (!n.alive || sm.graph.attr(n.id, "state") !== "online") return false;
    if (sm.graph.attr(n.id, "ackedEpoch") !== sm.epoch || n.epoch !== sm.epoch) return false;
  }
  return true;
}

function finalChecks(w: RcWorld, quiet: boolean): void {
  const l = w.leader();
  if (l === null) return w.violation("liveness", "no leader after healing");
  const sm = l.machine;
  if (!quiet) {
    const pending = sm.pendingCommands().map((c) => `${c.id}->${c.target}`);
    const nodes = [...w.nodes.values()].map(
      (n) =>
        `${n.id}: ${n.alive ? "alive" : "dead"}, graph ${String(sm.graph.attr(n.id, "state"))}, epoch ${n.epoch}/${String(sm.graph.attr(n.id, "ackedEpoch"))} of ${sm.epoch}`,
    );
    if (pending.length > 0)
      w.violation("every pending command delivered after healing", `still pending: ${pending.join(", ")}`);
    w.violation("every epoch reaches every live node", `not quiet after healing: ${nodes.join("; ")}`);
    return;
  }
  // The same state on every replica at the same index.
  const ms = w.machines();
  for (const m of ms)
    if (m.machine.lastApplied === sm.lastApplied && m.machine.stateHash() !== sm.stateHash())
      w.violation("same state everywhere", `${m.replicaId} and ${l.replicaId} differ at ${sm.lastApplied}`);
  // No acknowledged event lost: each was taken at an index every replica has applied past.
  for (const id of w.acked) {
    const at = w.appliedAt.get(id);
    if (at === undefined)
      w.violation("no acknowledged event lost", `event ${id} was acknowledged but never applied`);
    else if (at > sm.lastApplied)
      w.violation(
        "no acknowledged event lost",
        `event ${id} acknowledged at ${at}, beyond the leader's ${sm.lastApplied}`,
      );
  }
  // The graph's own invariants.
  if (sm.faultLog().count > 0)
    w.violation(
      "no faults",
      `the state machine undid ${sm.faultLog().count} events/timers: ${JSON.stringify(sm.faultLog().recent)}`,
    );
  if (sm.engineIncidents().count > 0)
    w.violation("no engine incidents", JSON.stringify(sm.engineIncidents().recent));
  for (const nodeId of sm.graph.byKind("Node")) {
    const acked = sm.graph.attr(nodeId, "ackedEpoch");
    if (typeof acked !== "number" || acked > sm.epoch)
      w.violation("graph invariants", `${nodeId} acknowledged epoch ${String(acked)} beyond ${sm.epoch}`);
  }
  for (const pid of sm.graph.byKind("Process")) {
    const state = sm.graph.attr(pid, "state");
    const node = sm.graph.neighbour(pid, "runs", "in");
    if (state === "online" && node !== undefined && sm.graph.attr(node, "state") !== "online")
      w.violation(
        "graph invariants",
        `${pid} is online on ${node}, which is ${String(sm.graph.attr(node, "state"))}`,
      );
  }
  const failed = sm.graph.byKind("Disk").filter((d) => sm.graph.attr(d, "state") === "failed");
  for (const d of failed)
    if (!(sm.graph.attr("pool-0", "failureVector") as string[] | undefined)?.includes(d))
      w.violation("graph invariants", `${d} failed but not in pool-0's failure vector`);
  // A snapshot restored elsewhere is the same state.
  const copy = new (sm.constructor as new (o: object) => typeof sm)({ config: sm.config });
  copy.restore(sm.snapshot());
  if (copy.stateHash() !== sm.stateHash())
    w.violation("graph invariants", "a restored snapshot hashes differently");
}
