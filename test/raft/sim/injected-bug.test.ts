// The simulator must be able to fail. A copy of the core with a known bug
// injected (test-only options of the core): the leader commits an entry of an
// earlier term by counting replicas, which Raft forbids (§5.4.2, Figure 8).
// The no-op entry of each new term hides this bug almost always, so the
// injection also drops the no-op; dropping it alone is safe, as shown below.
import { describe, expect, it } from "vitest";
import { simulateSeed } from "../../../src/raft/sim/run-seed.js";
import { Simulation } from "../../../src/raft/sim/simulation.js";
import type { UnsafeOptions } from "../../../src/raft/core/config.js";

const BUDGET = 200;

async function firstFailingSeed(unsafe: UnsafeOptions): Promise<{ seed: number; property: string } | null> {
  for (let seed = 1; seed <= BUDGET; seed++) {
    const r = await simulateSeed(seed, { unsafe, traceLines: 0 });
    if (r.violations.length > 0)
      return { seed, property: (r.violations[0] as { property: string }).property };
  }
  return null;
}

/** Figure 8 scripted: old-term entry re-replicated by a returning leader, which is then cut off. */
async function scriptedFigure8(unsafe: UnsafeOptions): Promise<string[]> {
  const sim = new Simulation({ seed: 7, voters: ["a", "b", "c"], unsafe, traceLines: 0 });
  await sim.start();
  await sim.runUntil(() => sim.leader() !== null, 5000);
  const l1 = sim.leader() as string;
  const first = sim.propose(l1, "x0");
  await sim.runUntil(() => first.status === "acked", 5000);
  // Let the leader register every member's disk first (a Config entry of its own).
  await sim.runUntil(() => Object.keys(sim.node(l1).status().membership.storage ?? {}).length === 3, 5000);
  sim.isolate(l1);
  sim.propose(l1, "A"); // only l1 has it
  await sim.runUntil(() => sim.leaders().some((id) => id !== l1), 10_000);
  const l2 = sim.leaders().find((id) => id !== l1) as string;
  sim.isolate(l2);
  sim.propose(l2, "B"); // only l2 has it, at the same index, in a later term
  await sim.runFor(50);
  sim.connect(l1);
  sim.isolate(l2);
  await sim.runUntil(() => sim.node(l1).isLeader && sim.node(l1).core.term > sim.node(l2).core.term, 20_000);
  await sim.runFor(300); // l1 brings "A" to the third replica
  sim.isolate(l1);
  sim.connect(l2);
  sim.isolate(l1);
  await sim.runUntil(() => sim.node(l2).isLeader, 20_000);
  const c = sim.propose(l2, "C");
  await sim.runUntil(() => c.status !== "pending", 5000);
  sim.stopAll();
  return sim.violations.map((v) => v.property);
}

describe("the simulator catches an injected bug", () => {
  it("scripted Figure 8: the buggy commit is caught, the correct rule is not flagged", async () => {
    expect(await scriptedFigure8({ skipNoop: true })).toEqual([]);
    expect(await scriptedFigure8({ skipNoop: true, commitPreviousTermByCounting: true })).not.toEqual([]);
  });

  // Every other unsafe option of the core is a safety bug the seeds of `make test` must catch.
  // (The same seeds pass without them: random-seeds.test.ts.)
  for (const option of ["ignoreStorageIdentity", "acknowledgeBeforePersist"] as const) {
    it(`randomised: unsafe.${option} is reported as a safety violation within ${BUDGET} seeds`, async () => {
      const found = await firstFailingSeed({ [option]: true });
      expect(found, `unsafe.${option} went unnoticed`).not.toBeNull();
      expect([
        "leader completeness",
        "acknowledged proposal",
        "state machine safety",
        "log matching",
        "election safety",
      ]).toContain(found?.property);
      console.log(`unsafe.${option} caught at seed ${found?.seed}: ${found?.property}`);
    }, 240_000);
  }

  it(`randomised: the bug is found within ${BUDGET} seeds, the no-op removal alone is not`, async () => {
    expect(await firstFailingSeed({ skipNoop: true })).toBeNull();
    const found = await firstFailingSeed({ skipNoop: true, commitPreviousTermByCounting: true });
    expect(found, "the injected bug went unnoticed").not.toBeNull();
    console.log(`injected bug caught at seed ${found?.seed}: ${found?.property}`);
  }, 240_000);
});
