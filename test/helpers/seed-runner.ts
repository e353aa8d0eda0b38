// The command line shared by the simulators (`make sim`, `make sim-rc`):
// `--seed N` replays one seed and prints its trace on a violation (or with
// `--trace`); `--seeds N [--from K]` runs seeds K..K+N-1 and prints one
// summary line, `<name>: N seeds, V violations`, the one CI and people read.

export interface SeedResult {
  summary: string;
  violations: { property: string; detail: string }[];
  lastEvents: string[];
}

export interface SeedRunner {
  /** "sim" or "sim-rc": the make target, and the summary line's first word. */
  name: string;
  script: string;
  run(seed: number, opts: { chaosMs?: number; traceLines?: number }): Promise<SeedResult>;
  /** How many trace lines a replay keeps. */
  traceLines: number;
  /** A progress line on stderr every this many seeds. */
  progressEvery: number;
}

export async function runSeedsFromArgs(r: SeedRunner): Promise<never> {
  const usage = (): never => {
    console.error(
      `usage: ${r.script} --seed N [--chaos-ms MS] [--trace] | --seeds N [--from K] [--chaos-ms MS]`,
    );
    process.exit(2);
  };
  const intArg = (name: string): number | undefined => {
    const i = process.argv.indexOf(name);
    if (i < 0) return undefined;
    const v = Number(process.argv[i + 1]);
    if (!Number.isSafeInteger(v) || v < 0) usage();
    return v;
  };
  const seed = intArg("--seed");
  const seeds = intArg("--seeds");
  const from = intArg("--from") ?? 1;
  const chaosMs = intArg("--chaos-ms");

  if (seed !== undefined) {
    const res = await r.run(seed, { chaosMs, traceLines: r.traceLines });
    console.log(`seed ${seed}: ${res.summary}`);
    if (res.violations.length > 0 || process.argv.includes("--trace")) {
      console.log("last events:");
      for (const l of res.lastEvents) console.log(`  ${l}`);
      for (const v of res.violations) console.log(`VIOLATION ${v.property}: ${v.detail}`);
    }
    console.log(`${r.name}: 1 seeds, ${res.violations.length > 0 ? 1 : 0} violations`);
    process.exit(res.violations.length > 0 ? 1 : 0);
  }
  if (seeds === undefined) return usage();
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)}s`;
  let bad = 0;
  for (let s = from; s < from + seeds; s++) {
    const res = await r.run(s, { chaosMs });
    if (res.violations.length > 0) {
      bad++;
      console.log(`seed ${s} FAILED (replay: make ${r.name} SEED=${s}): ${res.summary}`);
      for (const v of res.violations) console.log(`  ${v.property}: ${v.detail}`);
      for (const l of res.lastEvents.slice(-20)) console.log(`    ${l}`);
    }
    if ((s - from + 1) % r.progressEvery === 0)
      console.error(`... ${s - from + 1} seeds, ${bad} violations, ${elapsed()}`);
  }
  console.log(`${r.name}: ${seeds} seeds, ${bad} violations (${elapsed()})`);
  process.exit(bad > 0 ? 1 : 0);
}
