// What the core hands to its driver after a batch of inputs.
import type { Snapshot } from "../storage.js";
import type { Entry, HardState, ReplicaId } from "../types.js";
import type { Message } from "./messages.js";
import type { ReadState } from "./read-only.js";

export enum Role {
  Follower = "follower",
  PreCandidate = "pre-candidate",
  Candidate = "candidate",
  Leader = "leader",
}

export interface SoftState {
  leader: ReplicaId | null;
  role: Role;
}

/**
 * The driver handles a Ready in this order, then calls advance(ready):
 * 1. send `messages` (they do not depend on this replica's persistence: the
 *    leader's appends, heartbeats, snapshots);
 * 2. save and restore `snapshot`, then persist `hardState` and `entries` in one synced write;
 * 3. send `messagesAfterPersist` (votes and acknowledgements promise durability);
 * 4. apply `committedEntries` in order;
 * 5. advance(ready).
 */
export interface Ready {
  /** Set when the leader or role changed. */
  softState: SoftState | null;
  /** Set when term, vote or commit changed. */
  hardState: HardState | null;
  entries: Entry[];
  snapshot: Snapshot | null;
  committedEntries: Entry[];
  messages: Message[];
  messagesAfterPersist: Message[];
  readStates: ReadState[];
  /** Peers the leader has not heard from for an election timeout (reported once per outage). */
  unreachable: ReplicaId[];
  /** Messages dropped and peers reset, with the reason: the driver logs them. */
  dropped: string[];
  /** A follower needs a snapshot and none covers what it lacks: take one now. */
  snapshotWanted: boolean;
}
