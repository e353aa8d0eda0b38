// The coordinator's tunables. They are part of the replicated state's
// definition: every replica must run with the same values (they come from the
// cluster config), or the replicas diverge; the state hash would show it.

import type { BackoffPolicy } from "../util/backoff.js";
export { backoffDelay } from "../util/backoff.js";

/** A respawn plan's delays, in ms of log time (backoffDelay gives the delay of each retry). */
export type Backoff = BackoffPolicy;

export interface RcConfig {
  /** How many times the coordinator respawns a failed process before it gives up. */
  processRespawnBudget: number;
  processRespawnBackoff: Backoff;
  /** A respawn with no answer (neither started nor failed) after this long counts as failed. */
  processRespawnTimeoutMs: number;
  /** How many respawn-node commands before a silent node is declared down. */
  nodeRespawnBudget: number;
  nodeRespawnBackoff: Backoff;
  /** How long an applied event id is remembered, in ms of log time. */
  dedupRetentionMs: number;
  /** A hard bound on remembered ids, whatever the time (oldest forgotten first). */
  dedupMaxIds: number;
  /** How many unknown events are kept for the record (the count is kept in full). */
  unknownEventsKept: number;
  /**
   * The most one entry may move log time forward. The leader stamps entries
   * from a monotonic clock and ticks every few seconds, so a real step is far
   * smaller; a leader whose wall clock jumped still moves time at most this
   * much per entry (a forward jump of an hour takes 60 entries at the default).
   */
  maxTimeStepMs: number;
}

export const DEFAULT_RC_CONFIG: RcConfig = {
  processRespawnBudget: 3,
  processRespawnBackoff: { baseMs: 1_000, factor: 2, maxMs: 30_000 },
  processRespawnTimeoutMs: 30_000,
  nodeRespawnBudget: 4,
  nodeRespawnBackoff: { baseMs: 5_000, factor: 2, maxMs: 60_000 },
  dedupRetentionMs: 10 * 60_000,
  dedupMaxIds: 1_000_000,
  unknownEventsKept: 100,
  maxTimeStepMs: 60_000,
};

/** The rule-set versions this build can run. */
export const KNOWN_RULES_VERSIONS: readonly number[] = [1];
