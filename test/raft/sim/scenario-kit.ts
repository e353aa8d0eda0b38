// Helpers for the classic Raft scenarios against the simulator, in the
// spirit of the well-known course tests: one(), a leader check, counts.
import { afterEach, expect } from "vitest";
import type { SimOptions, Proposal } from "../../../src/raft/sim/simulation.js";
import { Simulation } from "../../../src/raft/sim/simulation.js";
import type { ReplicaId } from "../../../src/raft/types.js";

/** Election timeout used by the scenarios (ms of simulated time). */
export const ELECTION_MS = 500;

/** Every simulation a test made with cluster(): checked for safety and stopped after the test. */
const live: Simulation[] = [];
afterEach(() => {
  for (const sim of live.splice(0)) {
    try {
      expectSafe(sim);
    } finally {
      sim.stopAll();
    }
  }
});

export async function cluster(n: number, opts: Partial<SimOptions> = {}): Promise<Simulation> {
  const voters = Array.from({ length: n }, (_, i) => `n${i + 1}`);
  const sim = new Simulation({ seed: opts.seed ?? 1, voters, ...opts });
  live.push(sim);
  await sim.start();
  return sim;
}

/** A leader among the connected replicas within a few election timeouts. */
export async function checkOneLeader(sim: Simulation, maxMs = 10 * ELECTION_MS): Promise<ReplicaId> {
  const ok = await sim.runUntil(() => sim.leader() !== null && agreedLeader(sim) !== null, maxMs);
  expect(ok, `no leader within ${maxMs}ms`).toBe(true);
  return agreedLeader(sim) as ReplicaId;
}

/** The leader of the highest term, if no other replica leads that term. */
function agreedLeader(sim: Simulation): ReplicaId | null {
  const byTerm = new Map<number, ReplicaId[]>();
  for (const r of sim.live()) {
    if (r.node?.isLeader !== true || !sim.isConnected(r.id)) continue;
    const t = r.node.core.term;
    byTerm.set(t, [...(byTerm.get(t) ?? []), r.id]);
  }
  if (byTerm.size === 0) return null;
  const top = Math.max(...byTerm.keys());
  const ls = byTerm.get(top) as ReplicaId[];
  return ls.length === 1 ? (ls[0] as ReplicaId) : null;
}

/** How many live replicas applied through `index`. */
export function nApplied(sim: Simulation, index: number): number {
  return sim.live().filter((r) => (r.node?.status().appliedIndex ?? 0) >= index).length;
}

/**
 * Like the course's one(): proposes `payload` through whoever leads until it
 * is acknowledged, then waits until `expected` replicas applied it. Returns its index.
 */
export async function one(
  sim: Simulation,
  payload: string,
  expected: number,
  maxMs = 20_000,
): Promise<number> {
  let p: Proposal | null = null;
  let index = 0;
  const ok = await sim.runUntil(() => {
    if (p !== null && p.status === "acked") {
      index = p.index;
      return nApplied(sim, index) >= expected;
    }
    if (p === null || p.status === "failed") {
      const l = sim.leader();
      if (l !== null) p = sim.propose(l, payload);
    }
    return false;
  }, maxMs);
  expect(ok, `"${payload}" was not applied on ${expected} replicas within ${maxMs}ms`).toBe(true);
  return index;
}

export function expectSafe(sim: Simulation): void {
  const v = sim.violations;
  if (v.length > 0) console.log(sim.lastEvents().join("\n"));
  expect(v).toEqual([]);
}

export function otherThan(sim: Simulation, ...ids: ReplicaId[]): ReplicaId[] {
  return sim.ids.filter((id) => !ids.includes(id));
}

export function termOf(sim: Simulation, id: ReplicaId): number {
  return sim.node(id).core.term;
}

/** Runs the simulation until `p` settles (the caller's promise needs simulated time to pass). */
export async function settle<T>(sim: Simulation, p: Promise<T>, maxMs = 10_000): Promise<T> {
  let done = false;
  let value: T | undefined;
  let error: unknown = null;
  p.then(
    (v) => {
      done = true;
      value = v;
    },
    (e: unknown) => {
      done = true;
      error = e ?? new Error("rejected");
    },
  );
  await sim.runUntil(() => done, maxMs);
  if (!done) throw new Error(`did not settle within ${maxMs}ms of simulated time`);
  if (error !== null) throw error;
  return value as T;
}
