// What `make sim` runs for one seed: half the seeds draw a mixed fault
// schedule (random-run.ts), a quarter the leader-churn schedule, and a quarter
// the Figure 8 pattern (figure8-run.ts), alternately on a reliable and an
// unreliable network.
import type { UnsafeOptions } from "../core/config.js";
import type { Violation } from "./checker.js";
import { figure8Run } from "./figure8-run.js";
import { randomRun } from "./random-run.js";

export interface SeedResult {
  seed: number;
  violations: Violation[];
  lastEvents: string[];
  summary: string;
}

export async function simulateSeed(
  seed: number,
  opts: { unsafe?: UnsafeOptions; traceLines?: number; chaosMs?: number } = {},
): Promise<SeedResult> {
  if (seed % 4 === 0) {
    const unreliable = seed % 8 === 0;
    const r = await figure8Run(seed, { unsafe: opts.unsafe, unreliable, traceLines: opts.traceLines });
    return {
      seed,
      violations: r.violations,
      lastEvents: r.lastEvents,
      summary: `figure 8 (${unreliable ? "unreliable" : "reliable"} network): ${r.crashes} leader crashes, ${r.acked} proposals acknowledged`,
    };
  }
  const profile = seed % 4 === 2 ? "leader-churn" : "mixed";
  const r = await randomRun(seed, { ...opts, profile });
  return { seed, violations: r.violations, lastEvents: r.lastEvents, summary: `${profile}: ${r.summary}` };
}
