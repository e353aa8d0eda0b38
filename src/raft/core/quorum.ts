// Majorities: which index a configuration has committed and whether an
// election is won. A joint configuration needs a majority of both halves.
import type { ReplicaId } from "../types.js";

export enum VoteResult {
  Pending = "pending",
  Won = "won",
  Lost = "lost",
}

/** Scratch space: commit counting runs on every acknowledgement, so it must not allocate. */
const scratch: number[] = [];

/**
 * The largest index acknowledged by a majority of `voters`. An empty set
 * commits everything (it places no constraint in a joint configuration).
 */
export function majorityCommitted(voters: readonly ReplicaId[], matchOf: (id: ReplicaId) => number): number {
  const n = voters.length;
  if (n === 0) return Number.MAX_SAFE_INTEGER;
  scratch.length = n;
  for (let i = 0; i < n; i++) scratch[i] = matchOf(voters[i] as ReplicaId);
  // Insertion sort, descending: n is at most a handful.
  for (let i = 1; i < n; i++) {
    const v = scratch[i] as number;
    let j = i - 1;
    while (j >= 0 && (scratch[j] as number) < v) {
      scratch[j + 1] = scratch[j] as number;
      j--;
    }
    scratch[j + 1] = v;
  }
  return scratch[Math.floor(n / 2)] as number;
}

export function jointCommitted(
  incoming: readonly ReplicaId[],
  outgoing: readonly ReplicaId[],
  matchOf: (id: ReplicaId) => number,
): number {
  const a = majorityCommitted(incoming, matchOf);
  if (outgoing.length === 0) return a;
  return Math.min(a, majorityCommitted(outgoing, matchOf));
}

export function majorityVoteResult(
  voters: readonly ReplicaId[],
  votes: ReadonlyMap<ReplicaId, boolean>,
): VoteResult {
  if (voters.length === 0) return VoteResult.Won;
  let yes = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) yes++;
  }
  const q = Math.floor(voters.length / 2) + 1;
  if (yes >= q) return VoteResult.Won;
  if (yes + missing >= q) return VoteResult.Pending;
  return VoteResult.Lost;
}

export function jointVoteResult(
  incoming: readonly ReplicaId[],
  outgoing: readonly ReplicaId[],
  votes: ReadonlyMap<ReplicaId, boolean>,
): VoteResult {
  const a = majorityVoteResult(incoming, votes);
  const b = majorityVoteResult(outgoing, votes);
  if (a === b) return a;
  if (a === VoteResult.Lost || b === VoteResult.Lost) return VoteResult.Lost;
  return VoteResult.Pending;
}

/** Whether the replicas in `active` form a quorum (joint-aware). */
export function hasQuorum(
  incoming: readonly ReplicaId[],
  outgoing: readonly ReplicaId[],
  active: (id: ReplicaId) => boolean,
): boolean {
  const votes = new Map<ReplicaId, boolean>();
  for (const id of incoming) votes.set(id, active(id));
  for (const id of outgoing) votes.set(id, active(id));
  return jointVoteResult(incoming, outgoing, votes) === VoteResult.Won;
}
