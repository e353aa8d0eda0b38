// The coordinator simulator's command line: `make sim-rc SEED=n` replays one
// seed and prints its trace; `make sim-rc SEEDS=n` runs seeds 1..n and prints
// one summary line, `sim-rc: N seeds, V violations`.
import { runSeedsFromArgs } from "../helpers/seed-runner.js";
import { simulateRcSeed } from "./run-seed.js";

await runSeedsFromArgs({
  name: "sim-rc",
  script: "run-sim-rc.ts",
  run: simulateRcSeed,
  traceLines: 300,
  progressEvery: 100,
});
