// The coordinator's state machine under the Raft simulator (src/raft/sim):
// seeded network faults, partitions, crashes with loss of unsynced writes,
// restarts from snapshots. Every replica must reach the same state hash at the
// same index, whether it applied the entry itself or restored a snapshot that
// covers it. The simulator is used as it is: a subclass only swaps in a
// machine that runs RcStateMachine next to the simulator's own hash chain
// (which keeps the simulator's safety checker working).
import { describe, expect, it } from "vitest";
import type { Event } from "../../src/gen/halon/v1/events.js";
import { SimMachine, type ApplyListener } from "../../src/raft/sim/sim-machine.js";
import { Simulation } from "../../src/raft/sim/simulation.js";
import type { Entry, ReplicaId } from "../../src/raft/types.js";
import { encodeEventBatch, encodeTick } from "../../src/rc/entry.js";
import { RcStateMachine } from "../../src/rc/state-machine.js";
import { declaredHosts, TEST_CONFIG } from "./harness.js";
import { prng } from "./mixed-load.js";

const SIM_HEADER = 24;

/** Hashes seen at each index, by whichever replica got there first; disagreements are collected. */
class HashBook {
  readonly atIndex = new Map<number, string>();
  readonly disagreements: string[] = [];
  compared = 0;
  restores = 0;

  see(node: string, index: number, hash: string, how: string): void {
    const known = this.atIndex.get(index);
    if (known === undefined) this.atIndex.set(index, hash);
    else {
      this.compared++;
      if (known !== hash) this.disagreements.push(`${node} ${how} index ${index}: ${hash} != ${known}`);
    }
  }
}

class RcSimMachine extends SimMachine {
  readonly rc = new RcStateMachine({ config: TEST_CONFIG });

  constructor(
    private readonly id: string,
    listener: ApplyListener,
    private readonly book: HashBook,
  ) {
    super(id, listener);
  }

  override apply(entry: Entry): Uint8Array {
    const out = super.apply(entry);
    this.rc.apply(entry);
    this.book.see(this.id, entry.index, this.rc.stateHash(), "applied");
    return out;
  }

  override snapshot(): Uint8Array {
    const own = super.snapshot();
    const rc = this.rc.snapshot();
    const out = new Uint8Array(SIM_HEADER + rc.length);
    out.set(own.subarray(0, SIM_HEADER), 0);
    out.set(rc, SIM_HEADER);
    return out;
  }

  override restore(data: Uint8Array): void {
    super.restore(data.subarray(0, SIM_HEADER));
    this.rc.restore(data.subarray(SIM_HEADER));
    this.book.restores++;
    this.book.see(this.id, this.rc.lastApplied, this.rc.stateHash(), "restored");
  }
}

// Simulation's constructor creates the machines, before a subclass's fields
// exist: the book is handed over through this variable.
let bookForNextSimulation = new HashBook();

class RcSimulation extends Simulation {
  readonly book = bookForNextSimulation;
  override newMachine(id: ReplicaId): SimMachine {
    return new RcSimMachine(id, this.checker, bookForNextSimulation);
  }
}

const HOSTS = 4;

/** The cluster the coordinator's log starts with. */
function topologyEntry(now: number): Uint8Array {
  const { hosts, pools } = declaredHosts({ hosts: HOSTS, processesPerNode: 2, disksPerHost: 2, pools: 1 });
  const joins: Event[] = hosts.map((h) => ({
    id: `join-${h.nodeId}`,
    source: "sim",
    nodeJoined: { nodeId: h.nodeId, hostId: h.id, address: "", epoch: 0 },
  }));
  return encodeEventBatch(Math.floor(now), [
    { id: "topology", source: "sim", topologyDeclared: { clusterName: "sim", hosts, pools } },
    ...joins,
  ]);
}

/** A seeded source of coordinator entries, stamped with the simulated time. */
function entrySource(seed: number): (now: number) => Uint8Array {
  const rand = prng(seed);
  let seq = 0;
  const pick = (n: number): number => Math.floor(rand() * n);
  return (now) => {
    const t = Math.floor(now);
    if (rand() < 0.2) return encodeTick(t);
    const events: Event[] = [];
    for (let i = 0, n = 1 + pick(4); i < n; i++) {
      const h = pick(HOSTS);
      const node = `node-${h}`;
      const r = rand();
      // Some ids repeat on purpose: the retry of a client that did not hear back.
      const id = rand() < 0.1 && seq > 0 ? `s${seq - pick(Math.min(seq, 5))}` : `s${++seq}`;
      const base = { id, source: "sim" };
      if (r < 0.35) events.push({ ...base, nodeHeartbeat: { nodeId: node, epoch: pick(3) } });
      else if (r < 0.55)
        events.push({
          ...base,
          processFailed: { processId: `proc-${h}-${pick(2)}`, instance: 1 + pick(4), reason: "" },
        });
      else if (r < 0.7)
        events.push({
          ...base,
          processStarted: { processId: `proc-${h}-${pick(2)}`, instance: 1 + pick(5) },
        });
      else if (r < 0.78) events.push({ ...base, nodeSilent: { nodeId: node } });
      else if (r < 0.83)
        events.push({ ...base, stripingError: { poolId: "pool-0", diskId: `disk-${h}-${pick(2)}` } });
      else if (r < 0.86)
        events.push({ ...base, diskReplaced: { diskId: `disk-${h}-${pick(2)}`, serial: "" } });
      else if (r < 0.9) events.push({ ...base, epochRequest: { nodeId: node } });
      else if (r < 0.97)
        events.push({
          ...base,
          commandResult: {
            commandId: `c${1 + pick(40)}`,
            ok: rand() < 0.8,
            detail: "",
            nodeId: rand() < 0.5 ? node : "",
          },
        });
      else
        events.push({
          ...base,
          nodeJoined: { nodeId: node, hostId: `host-${h}`, address: "", epoch: pick(2) },
        });
    }
    return encodeEventBatch(t, events);
  };
}

async function runSeed(seed: number): Promise<{ book: HashBook; sim: RcSimulation }> {
  bookForNextSimulation = new HashBook();
  const sim = new RcSimulation({
    seed,
    voters: ["n1", "n2", "n3"],
    maxClockDrift: 0.05,
    traceLines: 0,
    config: { snapshotThreshold: 10, trailingEntries: 2, maxEntriesPerMessage: 8 },
  });
  const next = entrySource(seed);
  const chaos = prng(seed ^ 0x9e3779b9);
  await sim.start();
  await sim.runUntil(() => sim.leader() !== null, 10_000);
  // Clients propose through the leader; the nemesis acts now and then.
  for (let round = 0; round < 250; round++) {
    const leader = sim.leader();
    const node = leader === null ? null : sim.replica(leader).node;
    if (leader !== null && node !== null) {
      // The topology first (again, until it is in: a resubmission is deduplicated).
      const declared = (sim.replica(leader).machine as RcSimMachine).rc.graph.countOfKind("Node") > 0;
      node.propose(declared ? next(sim.now) : topologyEntry(sim.now)).catch(() => undefined);
    }
    const r = chaos();
    const ids = sim.ids;
    const victim = ids[Math.floor(chaos() * ids.length)] as string;
    if (r < 0.05) sim.crash(victim);
    else if (r < 0.1) sim.restart(victim);
    else if (r < 0.13) sim.isolate(victim);
    else if (r < 0.18) sim.connect(victim);
    else if (r < 0.2) sim.setFaults({ loss: 0.05, minDelayMs: 1, maxDelayMs: 30, reorder: 0.1 });
    await sim.runFor(25 + Math.floor(chaos() * 50));
  }
  // Heal everything and let every replica catch up.
  for (const id of sim.ids) {
    sim.restart(id);
    sim.connect(id);
  }
  sim.heal();
  sim.setFaults({ loss: 0, reorder: 0 });
  // Let the restarted drivers reach their first timer: runUntil returns at once on an empty event queue.
  await new Promise<void>((resolve) => setImmediate(resolve));
  const leader = await sim.runUntil(() => sim.leader() !== null, 20_000);
  expect(sim.violations, `seed ${seed}`).toEqual([]);
  expect(leader, `seed ${seed}: a leader after healing`).toBe(true);
  const marker = sim.replica(sim.leader() as string).node?.propose(next(sim.now));
  let done = false;
  marker?.then(
    () => (done = true),
    () => (done = true),
  );
  await sim.runUntil(() => {
    if (!done) return false;
    const applied = sim.live().map((r) => (r.machine as RcSimMachine).rc.lastApplied);
    return applied.length === 3 && applied.every((a) => a === applied[0]);
  }, 30_000);
  sim.stopAll();
  return { book: bookForNextSimulation, sim };
}

describe("the coordinator under the Raft simulator", () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]) {
    it(`seed ${seed}: every replica has the same state hash at every index`, async () => {
      const { book, sim } = await runSeed(seed);
      expect(sim.violations, `seed ${seed}`).toEqual([]);
      expect(book.disagreements, `seed ${seed}`).toEqual([]);
      const machines = sim.live().map((r) => r.machine as RcSimMachine);
      expect(machines).toHaveLength(3);
      const hashes = new Set(machines.map((m) => m.rc.stateHash()));
      expect(hashes.size, `seed ${seed}: final hashes`).toBe(1);
      // The run did real work: entries applied and compared across replicas, a cluster in the graph.
      expect(book.compared, `seed ${seed}`).toBeGreaterThan(50);
      expect(machines[0]?.rc.graph.countOfKind("Node")).toBe(HOSTS);
      // Replicas did restore snapshots (crash restarts and lagging followers).
      expect(book.restores, `seed ${seed}`).toBeGreaterThan(0);
    });
  }
});
