// The callers a node owes an answer: proposals waiting for their entry to be
// applied, reads waiting for their ReadIndex and then for the state machine to
// reach it, learners being caught up before promotion, and leadership
// transfers. Deadlines are in the node's ticks.
import { LeadershipLostError, NotLeaderError, ProposalDroppedError } from "../core/errors.js";
import type { ReadState } from "../core/read-only.js";
import { contextKey } from "../core/read-only.js";
import type { Applied, Entry, ReplicaId } from "../types.js";

interface PendingProposal {
  term: number;
  resolve: (applied: Applied) => void;
  reject: (e: Error) => void;
}

interface PendingRead {
  deadline: number;
  index: number;
  resolve: (index: number) => void;
  reject: (e: Error) => void;
}

interface CatchUp {
  id: ReplicaId;
  maxLag: number;
  deadline: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

interface Transfer {
  deadline: number;
  resolve: (leader: ReplicaId) => void;
  reject: (e: Error) => void;
}

/** What catch-up checks need to know of the leader. */
export interface LeaderState {
  isLeader: boolean;
  leader: ReplicaId | null;
  lastIndex: number;
  /** How far `id`'s log is known to match the leader's (undefined: not a member). */
  matchOf(id: ReplicaId): number | undefined;
}

export class Waiters {
  private readonly proposals = new Map<number, PendingProposal>();
  /** Reads waiting for their ReadIndex answer, by context. */
  private readonly readsAsked = new Map<string, PendingRead>();
  /** Reads that have their index and wait for the state machine to reach it. */
  private readsWaiting: PendingRead[] = [];
  private catchUps: CatchUp[] = [];
  private transfers: Transfer[] = [];

  get pendingProposals(): number {
    return this.proposals.size;
  }

  // ---------------------------------------------------------------- proposals

  /** Resolves once the entry at `index` is applied, if it is still the one proposed in `term`. */
  proposal(index: number, term: number): Promise<Applied> {
    return new Promise((resolve, reject) => this.proposals.set(index, { term, resolve, reject }));
  }

  /** `entry` was applied with `result`: answers its proposer, if it has one here. */
  applied(entry: Entry, result: Uint8Array): void {
    const p = this.proposals.get(entry.index);
    if (p === undefined) return;
    this.proposals.delete(entry.index);
    if (p.term === entry.term) p.resolve({ index: entry.index, term: entry.term, result });
    else p.reject(new LeadershipLostError(entry.index));
  }

  /** No longer the leader: whatever was proposed may or may not commit, so tell the callers now. */
  leadershipLost(): void {
    for (const [index, p] of this.proposals) p.reject(new LeadershipLostError(index));
    this.proposals.clear();
  }

  // ---------------------------------------------------------------- reads

  /** A ReadIndex request with context `ctx` was made; resolves with its index once applied. */
  readAsked(ctx: Uint8Array, deadline: number): Promise<number> {
    return new Promise((resolve, reject) =>
      this.readsAsked.set(contextKey(ctx), { deadline, index: 0, resolve, reject }),
    );
  }

  /** The core released a read at an index: it now waits for the state machine. */
  readAnswered(rs: ReadState): void {
    const key = contextKey(rs.context);
    const r = this.readsAsked.get(key);
    if (r === undefined) return;
    this.readsAsked.delete(key);
    r.index = rs.index;
    this.readsWaiting.push(r);
  }

  /** Resolves once `index` is applied (see releaseReads). */
  appliedIndex(index: number, deadline: number, applied: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.readsWaiting.push({ deadline, index, resolve, reject });
      this.releaseReads(applied);
    });
  }

  /** The state machine reached `applied`: answers the reads waiting for it. */
  releaseReads(applied: number): void {
    if (this.readsWaiting.length === 0) return;
    const still: PendingRead[] = [];
    for (const r of this.readsWaiting) {
      if (r.index <= applied) r.resolve(r.index);
      else still.push(r);
    }
    this.readsWaiting = still;
  }

  // ---------------------------------------------------------------- catch-ups

  /** Resolves once `id` is within `maxLag` entries of the leader's log (checked by checkCatchUps). */
  catchUp(id: ReplicaId, maxLag: number, deadline: number, leader: LeaderState, now: number): Promise<void> {
    const p = new Promise<void>((resolve, reject) =>
      this.catchUps.push({ id, maxLag, deadline, resolve, reject }),
    );
    this.checkCatchUps(leader, now);
    return p;
  }

  checkCatchUps(leader: LeaderState, now: number): void {
    if (this.catchUps.length === 0) return;
    const keep = [];
    for (const c of this.catchUps) {
      const match = leader.matchOf(c.id);
      if (!leader.isLeader) c.reject(new NotLeaderError(leader.leader));
      else if (match !== undefined && match + c.maxLag >= leader.lastIndex) c.resolve();
      else if (c.deadline <= now) c.reject(new ProposalDroppedError(`${c.id} did not catch up in time`));
      else keep.push(c);
    }
    this.catchUps = keep;
  }

  // ---------------------------------------------------------------- transfers

  transfer(deadline: number): Promise<ReplicaId> {
    return new Promise((resolve, reject) => this.transfers.push({ deadline, resolve, reject }));
  }

  /** Another replica leads now: the transfers under way are done. */
  leaderElsewhere(leader: ReplicaId): void {
    const ts = this.transfers;
    this.transfers = [];
    for (const t of ts) t.resolve(leader);
  }

  // ---------------------------------------------------------------- all of them

  /** Fails the reads and transfers whose deadline passed. */
  expire(now: number, leader: ReplicaId | null): void {
    for (const [key, r] of this.readsAsked) {
      if (r.deadline <= now) {
        this.readsAsked.delete(key);
        r.reject(new NotLeaderError(leader));
      }
    }
    if (this.transfers.length > 0 && this.transfers.some((t) => t.deadline <= now)) {
      const keep = [];
      for (const t of this.transfers) {
        if (t.deadline <= now)
          t.reject(new ProposalDroppedError("leadership transfer did not finish in time"));
        else keep.push(t);
      }
      this.transfers = keep;
    }
  }

  rejectAll(err: () => Error): void {
    for (const p of this.proposals.values()) p.reject(err());
    this.proposals.clear();
    for (const r of this.readsAsked.values()) r.reject(err());
    this.readsAsked.clear();
    for (const r of this.readsWaiting) r.reject(err());
    this.readsWaiting = [];
    for (const t of this.transfers) t.reject(err());
    this.transfers = [];
    for (const c of this.catchUps) c.reject(err());
    this.catchUps = [];
  }
}
