// What `make sim` runs for one seed: half the seeds draw a mixed fault
// schedule (random-run.ts), a quarter the leader-churn schedule, and a quarter
// the Figure 8 pattern (figure8-run.ts), alternately on a reliable and an
// unreliable network.
import type { UnsafeOptions } from "../core/config.js";
import type { Violation } from "./checker.js";
import { diskLossRun } from "./disk-loss-run.js";
import { figure8Run } from "./figure8-run.js";
import { randomRun } from "./random-run.js";
import type { FaultCounts } from "./simulation.js";

export interface SeedResult {
  seed: number;
  violations: Violation[];
  lastEvents: string[];
  summary: string;
  /** The faults the run injected (mixed runs only). */
  faults?: FaultCounts;
}

type SeedOptions = { unsafe?: UnsafeOptions; traceLines?: number; chaosMs?: number };

/** Runs one seed; an exception of the simulator itself is reported as that seed's failure, never lost. */
export async function simulateSeed(seed: number, opts: SeedOptions = {}): Promise<SeedResult> {
  try {
    return await runSeed(seed, opts);
  } catch (e) {
    const detail = e instanceof Error ? (e.stack ?? e.message) : String(e);
    return {
      seed,
      violations: [{ property: "simulator error", detail }],
      lastEvents: [],
      summary: "the run threw",
    };
  }
}

async function runSeed(seed: number, opts: SeedOptions): Promise<SeedResult> {
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
  if (seed % 8 === 6) {
    const r = await diskLossRun(seed, { unsafe: opts.unsafe, traceLines: opts.traceLines });
    return {
      seed,
      violations: r.violations,
      lastEvents: r.lastEvents,
      summary: `disk loss: ${r.rounds} rounds (${r.faults.wipes} wipes, ${r.faults.unsyncedWritesLost} unsynced writes lost), ${r.acked} proposals acknowledged`,
      faults: r.faults,
    };
  }
  const profile = seed % 4 === 2 ? "leader-churn" : "mixed";
  const r = await randomRun(seed, { ...opts, profile });
  return {
    seed,
    violations: r.violations,
    lastEvents: r.lastEvents,
    summary: `${profile}: ${r.summary}`,
    faults: r.faults,
  };
}
