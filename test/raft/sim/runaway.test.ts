// A seed that runs away is stopped and reported, never left to hang the run:
// a cap on events (a message storm) and one on real time per seed.
import { describe, expect, it } from "vitest";
import { Simulation } from "../../../src/raft/sim/simulation.js";

async function runWith(opts: { maxEvents?: number; maxWallMs?: number }): Promise<string[]> {
  const sim = new Simulation({ seed: 5, voters: ["a", "b", "c"], traceLines: 0, ...opts });
  await sim.start();
  const stop = sim.nudgeEvery(5);
  const done = await sim.runUntil(() => false, 60_000);
  stop();
  sim.stopAll();
  expect(done).toBe(false);
  return sim.violations.map((v) => v.detail);
}

describe("runaway seeds", () => {
  it("stops a run past its event cap and says so", async () => {
    const details = await runWith({ maxEvents: 2000 });
    expect(details.some((d) => d.includes("message storm: more than 2000 events"))).toBe(true);
  });

  it("stops a run past its real-time cap and says so", async () => {
    const details = await runWith({ maxWallMs: 50 });
    expect(details.some((d) => d.includes("runaway: still running after 50 ms"))).toBe(true);
  });

  it("does not stop a run within its caps", async () => {
    const sim = new Simulation({ seed: 5, voters: ["a", "b", "c"], traceLines: 0 });
    await sim.start();
    expect(await sim.runUntil(() => sim.leader() !== null, 5000)).toBe(true);
    sim.stopAll();
    expect(sim.violations).toEqual([]);
  });
});
