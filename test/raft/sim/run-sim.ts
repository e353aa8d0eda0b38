// The simulator's command line: `make sim SEED=n` replays one seed and prints
// its trace; `make sim SEEDS=n` runs seeds 1..n and prints one summary line.
import { simulateSeed } from "../../../src/raft/sim/run-seed.js";
import { runSeedsFromArgs } from "../../helpers/seed-runner.js";

await runSeedsFromArgs({
  name: "sim",
  script: "run-sim.ts",
  run: (seed, opts) => Promise.resolve(simulateSeed(seed, opts)),
  traceLines: 200,
  progressEvery: 250,
});
