// The whole coordinator under simulation (test/sim-rc): 100 seeds of faults
// with every invariant checked, and the two planted bugs the simulator must
// catch: a node service that obeys a deposed leader (no term check), and a
// leader loop that forgets to deliver again. `make sim-rc SEEDS=n` runs more.
import { describe, expect, it } from "vitest";
import { FAULT_KINDS, simulateRcSeed, type RcSeedResult } from "./run-seed.js";

const SEEDS = 100;
/** Shorter runs than `make sim-rc`, so that 100 seeds fit in `make test`. */
const CHAOS_MS = 6_000;

function report(r: RcSeedResult): string {
  return [
    `seed ${r.seed} (replay: make sim-rc SEED=${r.seed}): ${r.summary}`,
    ...r.violations.map((v) => `  ${v.property}: ${v.detail}`),
    ...r.lastEvents.filter((l) => !/deliver (Heartbeat|Append)/.test(l)).slice(-30),
  ].join("\n");
}

describe("sim-rc: the whole coordinator under faults", () => {
  it(`keeps every invariant over ${SEEDS} seeds, and exercises the fence`, { timeout: 300_000 }, async () => {
    const failures: string[] = [];
    let refusedStale = 0;
    let heldByPause = 0;
    let deliveries = 0;
    const faults = new Map<string, number>();
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = await simulateRcSeed(seed, { chaosMs: CHAOS_MS });
      if (r.violations.length > 0) failures.push(report(r));
      for (const [k, v] of Object.entries(r.faults)) faults.set(k, (faults.get(k) ?? 0) + v);
      refusedStale += r.counts.refusedStale;
      heldByPause += r.counts.heldByPause;
      deliveries += r.counts.deliveries;
    }
    expect(failures, failures.join("\n\n")).toEqual([]);
    // The runs did what they are for: commands delivered, late sends of paused leaders refused.
    expect(deliveries).toBeGreaterThan(SEEDS * 5);
    expect(heldByPause).toBeGreaterThan(0);
    expect(refusedStale).toBeGreaterThan(0);
    // Every kind of fault was drawn (a disk wipe counts only when it was done).
    for (const kind of FAULT_KINDS) expect(faults.get(kind) ?? 0, kind).toBeGreaterThan(0);
  });

  it(
    "catches a node service that obeys a deposed leader (planted: no term check)",
    { timeout: 300_000 },
    async () => {
      let caught: RcSeedResult | undefined;
      for (let seed = 1; seed <= 60 && !caught; seed++) {
        const r = await simulateRcSeed(seed, { chaosMs: CHAOS_MS, planted: "node-ignores-term" });
        if (r.violations.some((v) => v.property === "no command from an older term")) caught = r;
      }
      expect(caught, "no seed caught the planted bug").toBeDefined();
      console.log(
        `planted "node-ignores-term" caught by seed ${caught!.seed}: ${caught!.violations[0]!.detail}`,
      );
    },
  );

  it(
    "catches a leader loop that never delivers a command again (planted: no redelivery)",
    { timeout: 300_000 },
    async () => {
      let caught: RcSeedResult | undefined;
      for (let seed = 1; seed <= 60 && !caught; seed++) {
        const r = await simulateRcSeed(seed, {
          chaosMs: CHAOS_MS,
          planted: "no-redelivery",
          settleMs: 60_000,
        });
        if (r.violations.some((v) => v.property.startsWith("every"))) caught = r;
      }
      expect(caught, "no seed caught the planted bug").toBeDefined();
      console.log(`planted "no-redelivery" caught by seed ${caught!.seed}: ${caught!.violations[0]!.detail}`);
    },
  );

  it("replays a seed exactly: the same run, event for event", async () => {
    const a = await simulateRcSeed(7, { chaosMs: 3_000, traceLines: 50 });
    const b = await simulateRcSeed(7, { chaosMs: 3_000, traceLines: 50 });
    expect(a.violations).toEqual([]);
    expect(b.lastEvents).toEqual(a.lastEvents);
    expect(b.summary).toBe(a.summary);
  });
});
