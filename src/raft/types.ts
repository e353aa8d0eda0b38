// The data the Raft library persists and exchanges. Plain data only, so that
// stores and transports can encode it however they like.

/** A replica's name, as in the cluster config ("rc1"). */
export type ReplicaId = string;

export enum EntryType {
  /** The state machine's payload. */
  Normal = 0,
  /** A membership change; data is the encoded change. */
  Config = 1,
  /** The empty entry a new leader appends at the start of its term. */
  Noop = 2,
}

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

/** What must survive a crash besides the log: etcd's HardState. */
export interface HardState {
  term: number;
  /** Whom this replica voted for in `term`, or null. */
  vote: ReplicaId | null;
  /** A hint only: commit is re-learnt from the leader, but this speeds restart. */
  commit: number;
}

/** Who takes part in consensus. `outgoing` is set during a joint-consensus change. */
export interface Membership {
  voters: ReplicaId[];
  learners: ReplicaId[];
  outgoing?: ReplicaId[];
  /**
   * The storage identity (the disk) registered for each member by the leader.
   * A voter's votes and acknowledgements count only from that disk; a replica
   * that comes back with another (a lost or rebuilt data directory) counts for
   * nothing until it holds the log again and the leader registers its new disk.
   * A value starting with "-" is a revoked disk ("-" + its identity): the member
   * counts for nothing. A member absent here is not registered yet and counts.
   */
  storage?: Record<ReplicaId, string>;
}

export interface SnapshotMeta {
  /** The last log index the snapshot covers. */
  index: number;
  term: number;
  membership: Membership;
}

/** Where a proposal landed and what the state machine answered when it applied it. */
export interface Applied {
  index: number;
  term: number;
  /** apply()'s result (empty for an entry the state machine does not see, such as a membership change). */
  result: Uint8Array;
}
