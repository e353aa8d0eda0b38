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
}

export class RcSnapshotError extends Error {
  override readonly name = "RcSnapshotError";
}
