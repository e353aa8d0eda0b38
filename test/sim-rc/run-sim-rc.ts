// The coordinator simulator's command line: `make sim-rc SEED=n` replays one
// seed and prints its trace; `make sim-rc SEEDS=n` runs seeds 1..n and prints
// one summary line, `sim-rc: N seeds, V violations`.
import { simulateRcSeed } from "./run-seed.js";

function usage(): never {
  console.error(
    "usage: run-sim-rc.ts --seed N [--chaos-ms MS] [--trace] | --seeds N [--from K] [--chaos-ms MS]",
  );
  process.exit(2);
}

function intArg(name: string): number | undefined {
  const i = process.argv.indexOf(name);
  if (i < 0) return undefined;
  const v = Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(v) || v < 0) usage();
  return v;
}

const seed = intArg("--seed");
const seeds = intArg("--seeds");
const from = intArg("--from") ?? 1;
const chaosMs = intArg("--chaos-ms");

if (seed !== undefined) {
  const r = await simulateRcSeed(seed, { chaosMs, traceLines: 300 });
  console.log(`seed ${seed}: ${r.summary}`);
  if (r.violations.length > 0 || process.argv.includes("--trace")) {
    console.log("last events:");
    for (const l of r.lastEvents) console.log(`  ${l}`);
    for (const v of r.violations) console.log(`VIOLATION ${v.property}: ${v.detail}`);
  }
  console.log(`sim-rc: 1 seeds, ${r.violations.length > 0 ? 1 : 0} violations`);
  process.exit(r.violations.length > 0 ? 1 : 0);
} else if (seeds !== undefined) {
  const started = Date.now();
  let bad = 0;
  for (let s = from; s < from + seeds; s++) {
    const r = await simulateRcSeed(s, { chaosMs });
    if (r.violations.length > 0) {
      bad++;
      console.log(`seed ${s} FAILED (replay: make sim-rc SEED=${s}): ${r.summary}`);
      for (const v of r.violations) console.log(`  ${v.property}: ${v.detail}`);
      for (const l of r.lastEvents.slice(-20)) console.log(`    ${l}`);
    }
    if ((s - from + 1) % 100 === 0)
      console.error(
        `... ${s - from + 1} seeds, ${bad} violations, ${((Date.now() - started) / 1000).toFixed(0)}s`,
      );
  }
  console.log(`sim-rc: ${seeds} seeds, ${bad} violations (${((Date.now() - started) / 1000).toFixed(0)}s)`);
  process.exit(bad > 0 ? 1 : 0);
} else usage();
