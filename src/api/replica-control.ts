// What the client service needs from a running replica. The replica process
// (replica.ts) implements it over the Raft driver; tests may fake it.
import type { ReplicaStatus } from "../gen/halon/v1/client.js";

export interface ProposeResult {
  index: number;
  term: number;
  result: Uint8Array;
}

export interface MembershipResult {
  voters: string[];
  learners: string[];
  index: number;
}

export type MembershipOp = "addLearner" | "promote" | "remove";

export interface ReplicaControl {
  readonly id: string;
  /** Resolves once the payload is committed and applied here; throws NotLeaderError on a follower. */
  propose(payload: Uint8Array): Promise<ProposeResult>;
  status(): ReplicaStatus;
  /**
   * Resolves once this replica has applied everything committed before the
   * call (ReadIndex: the leader confirms with a majority that it still leads),
   * so that a read of local state is linearizable. Rejects with NotLeaderError
   * when no leader confirms in time (an old leader cut off from the majority).
   */
  readBarrier(): Promise<void>;
  /** `force` skips the checks that protect the quorum (promote and remove only). */
  changeMembership(op: MembershipOp, id: string, force?: boolean): Promise<MembershipResult>;
  /** Resolves once `target` (or a voter the leader picks) leads. */
  transferLeadership(target: string | null): Promise<{ leaderId: string; term: number }>;
  /** The client address of a replica, from the cluster config; null when unknown. */
  addressOf(id: string): string | null;
}
