// Errors the library reports to its callers.
import type { ReplicaId } from "../types.js";

/** This replica is not the leader; `leader` is who is, when known. */
export class NotLeaderError extends Error {
  constructor(readonly leader: ReplicaId | null) {
    super(leader === null ? "not the leader; no leader known" : `not the leader; the leader is ${leader}`);
    this.name = "NotLeaderError";
  }
}

/** The proposal was not accepted (leadership transfer under way, a change already pending, ...). */
export class ProposalDroppedError extends Error {
  constructor(reason: string) {
    super(`proposal dropped: ${reason}`);
    this.name = "ProposalDroppedError";
  }
}

/** The leader lost its office before the entry was applied: it may or may not commit. */
export class LeadershipLostError extends Error {
  constructor(readonly index: number) {
    super(`leadership lost before entry ${index} was applied; its outcome is unknown`);
    this.name = "LeadershipLostError";
  }
}

/** The configuration is invalid. */
export class RaftConfigError extends Error {
  constructor(detail: string) {
    super(`invalid raft configuration: ${detail}`);
    this.name = "RaftConfigError";
  }
}

/** The node was stopped while the request was pending. */
export class RaftStoppedError extends Error {
  constructor() {
    super("raft node stopped");
    this.name = "RaftStoppedError";
  }
}
