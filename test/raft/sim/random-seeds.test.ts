// 200 seeds of the randomised simulation (the same runs as `make sim SEEDS=200`):
// mixed faults (lost disks, corrupt stores, impossible progress, crashes on
// delivery, forced membership changes at the worst moment included), leader
// churn, disk loss rounds and Figure 8, with every safety check after every
// event and liveness after healing. A failure names the seed to replay.
import { describe, expect, it } from "vitest";
import { simulateSeed } from "../../../src/raft/sim/run-seed.js";

const SEEDS = 200;

describe("randomised simulation", () => {
  it(`passes ${SEEDS} seeds with no violation`, async () => {
    const failures: string[] = [];
    const hit: Record<string, number> = {};
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = await simulateSeed(seed);
      for (const [k, v] of Object.entries(r.faults ?? {})) hit[k] = (hit[k] ?? 0) + v;
      if (r.violations.length > 0) {
        failures.push(
          `seed ${seed} (replay: make sim SEED=${seed}): ${r.violations.map((v) => `${v.property}: ${v.detail}`).join("; ")}\n  ${r.lastEvents.slice(-15).join("\n  ")}`,
        );
      }
    }
    expect(failures).toEqual([]);
    // Every kind of fault was injected somewhere in these seeds.
    for (const kind of [
      "crashes",
      "unsyncedWritesLost",
      "crashesOnDelivery",
      "wipes",
      "corruptions",
      "refusedStarts",
      "impossibleProgress",
      "forcedChanges",
      "partitionReturns",
    ])
      expect(hit[kind] ?? 0, `no seed injected ${kind}`).toBeGreaterThan(0);
    console.log(`faults injected over ${SEEDS} seeds: ${JSON.stringify(hit)}`);
  }, 240_000);
});
