// Hooks through which a replica's parts can be measured (metrics) without the
// api layer knowing who measures. Every hook is optional; a replica without
// instruments runs exactly as before.
import type { HalonServiceServer } from "../gen/halon/v1/client.js";
import type { Command } from "../gen/halon/v1/events.js";
import type { EntryTrace } from "../rc/index.js";
import type { Divergence } from "./divergence.js";
import type { LogStore, SnapshotStore, StateMachine } from "../raft/storage.js";

export interface ReplicaInstruments {
  /** Wraps the Raft log store (to time its synced writes). */
  logStore?(store: LogStore): LogStore;
  /** Wraps the snapshot store (to time saves and see their size). */
  snapshotStore?(store: SnapshotStore): SnapshotStore;
  /** Wraps the state machine as Raft sees it (to time snapshots and restores). */
  stateMachine?(machine: StateMachine): StateMachine;
  /** Wraps the client service (to count calls by method and status code). */
  service?(service: HalonServiceServer): HalonServiceServer;
  leaderChanged?(leader: string | null, term: number): void;
  /** What an applied entry did (the coordinator's events, rule steps, commands). */
  applied?(trace: EntryTrace): void;
  /** A node service answered a command the leader delivered. */
  commandAnswered?(command: Command, ok: boolean): void;
  /** This replica's state hash differs from another replica's at a checkpoint index (alarm DIVERGED). */
  stateDiverged?(d: Divergence): void;
}
