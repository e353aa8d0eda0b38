// The "no disruption" property of the simulator (disruption-check.ts, run at
// the end of every mixed seed with PreVote): a voter back from a partition
// must not unseat a stable leader. It can fail: without PreVote (and without
// CheckQuorum's lease) the returning voter's higher term does unseat it.
import { afterEach, describe, expect, it } from "vitest";
import { checkNoDisruption } from "../../../src/raft/sim/disruption-check.js";
import { Simulation } from "../../../src/raft/sim/simulation.js";

let sim: Simulation | null = null;
afterEach(() => sim?.stopAll());

async function run(preVote: boolean, seed: number): Promise<string[]> {
  const config = { preVote, checkQuorum: preVote, electionTimeoutMs: 500 };
  sim = new Simulation({ seed, voters: ["a", "b", "c"], config, traceLines: 0 });
  await sim.start();
  await sim.runUntil(() => sim!.leader() !== null, 5000);
  await checkNoDisruption(sim, config);
  expect(sim.faults.partitionReturns).toBe(1);
  return sim.violations.map((v) => v.property);
}

describe("a voter back from a partition", () => {
  for (const seed of [1, 2, 3]) {
    it(`does not unseat a stable leader with PreVote (seed ${seed})`, async () => {
      expect(await run(true, seed)).toEqual([]);
    });
    it(`planted bug: without PreVote it does, and the property reports it (seed ${seed})`, async () => {
      expect(await run(false, seed)).toEqual(["disruption"]);
    });
  }
});
