// The coordinator's whole replicated state as plain data: what a snapshot
// holds and what the state hash covers.
import type { GraphData } from "../graph/index.js";
import type { UnknownRecord } from "./coordinator.js";
import type { DedupData } from "./dedup.js";
import type { OutboxData } from "./outbox.js";
import type { EngineIncident } from "./rules/runner.js";

export const RC_SNAPSHOT_FORMAT = "halon-rc-state";
export const RC_SNAPSHOT_VERSION = 1;

export interface IncidentRecord {
  count: number;
  /** Most recent first-in-first-out, at most 100. */
  recent: EngineIncident[];
}

/**
 * A transaction that failed inside the coordinator (a rule that threw, or a
 * bug): undone, and recorded here for operators. Keys in sorted order.
 */
export interface FaultRecord {
  /** A stable code: "rule-failed", "internal". Never an error's text. */
  code: string;
  /** The event that was rejected, or "" for a timer. */
  eventId: string;
  index: number;
  /** The rule instance key (a timer's), or "". */
  key: string;
  /** The rule at fault, or "" when no rule was running. */
  rule: string;
  time: number;
}

export interface FaultLog {
  count: number;
  /** Per rule name ("" for none): how many faults. */
  byRule: Record<string, number>;
  /** The most recent, oldest first, at most 100. */
  recent: FaultRecord[];
}

export interface RcStateData {
  format: typeof RC_SNAPSHOT_FORMAT;
  version: typeof RC_SNAPSHOT_VERSION;
  appliedIndex: number;
  timeMs: number;
  rulesVersion: number;
  graph: GraphData;
  /** The CEP engine's own snapshot (rule phases, local state, timers). */
  rules: unknown;
  outbox: OutboxData;
  dedup: DedupData;
  unknown: UnknownRecord;
  incidents: IncidentRecord;
  /** Absent in snapshots of builds before fault records: read as none. */
  faults?: FaultLog;
  /** Rules switched off by a rules-version entry, sorted; absent means none. */
  disabledRules?: string[];
}

export class RcSnapshotError extends Error {
  override readonly name = "RcSnapshotError";
}
