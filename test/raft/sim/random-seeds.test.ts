// 200 seeds of the randomised simulation (the same runs as `make sim SEEDS=200`):
// mixed faults, leader churn and Figure 8, with every safety check after
// every event and liveness after healing. A failure names the seed to replay.
import { describe, expect, it } from "vitest";
import { simulateSeed } from "../../../src/raft/sim/run-seed.js";

const SEEDS = 200;

describe("randomised simulation", () => {
  it(`passes ${SEEDS} seeds with no violation`, async () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = await simulateSeed(seed);
      if (r.violations.length > 0) {
        failures.push(
          `seed ${seed} (replay: make sim SEED=${seed}): ${r.violations.map((v) => `${v.property}: ${v.detail}`).join("; ")}\n  ${r.lastEvents.slice(-15).join("\n  ")}`,
        );
      }
    }
    expect(failures).toEqual([]);
  }, 240_000);
});
