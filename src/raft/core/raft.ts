// The Raft state machine of one replica, in the style of etcd-io/raft: pure
// and deterministic. Inputs are tick(), step(message) and the propose/read/
// transfer calls; outputs are collected into a Ready (see ready.ts).
//
// Safety-relevant choices:
// - the leader counts itself towards commit only for entries the driver has
//   persisted (advance() reports them), never before;
// - an entry is committed by counting only in the leader's own term (§5.4.2);
//   a no-op at the start of each term commits the earlier ones;
// - membership takes effect when its Config entry is applied (advance()), one
//   change at a time (pendingConfIndex) or through joint consensus.
import type { Snapshot } from "../storage.js";
import type { Entry, HardState, Membership, ReplicaId } from "../types.js";
import { EntryType } from "../types.js";
import type { CoreConfig } from "./config.js";
import { resolveCoreConfig } from "./config.js";
import { NotLeaderError, ProposalDroppedError } from "./errors.js";
import { RaftLog } from "./log.js";
import type { MembershipChange } from "./membership.js";
import {
  allMembers,
  applyConfigEntry,
  cloneMembership,
  decodeConfigEntry,
  encodeConfigEntry,
  isJoint,
  isVoter,
  validateChanges,
} from "./membership.js";
import type { Message } from "./messages.js";
import { EMPTY_BYTES, MessageType, entryBytes, makeMessage } from "./messages.js";
import { Progress, ProgressState } from "./progress.js";
import { VoteResult, hasQuorum, jointCommitted, jointVoteResult } from "./quorum.js";
import type { RandomSource } from "./random.js";
import type { ReadState } from "./read-only.js";
import { ReadOnlyQueue } from "./read-only.js";
import type { Ready, SoftState } from "./ready.js";
import { Role } from "./ready.js";

/** Marks a vote request that follows TimeoutNow, so that leases do not block it. */
const CAMPAIGN_TRANSFER = new TextEncoder().encode("transfer");
const MAX_APPLY_BATCH = 4096;

export interface CoreInit {
  config: Partial<CoreConfig> & { id: ReplicaId };
  random: RandomSource;
  hardState: HardState | null;
  entries: Entry[];
  compactedIndex: number;
  compactedTerm: number;
  snapshot: Snapshot | null;
}

export class RaftCore {
  readonly id: ReplicaId;
  readonly cfg: CoreConfig;
  private readonly random: RandomSource;

  term = 0;
  vote: ReplicaId | null = null;
  lead: ReplicaId | null = null;
  role = Role.Follower;
  readonly log: RaftLog;
  /** The membership as of the applied index. */
  membership: Membership;
  /** Leader only: one entry per member other than... every member, self included. */
  readonly progress = new Map<ReplicaId, Progress>();
  private readonly votes = new Map<ReplicaId, boolean>();

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  leadTransferee: ReplicaId | null = null;
  /** Leader: index of the latest Config entry it appended; no new change until it is applied. */
  private pendingConfIndex = 0;
  private readonly readOnly = new ReadOnlyQueue();
  /** Reads asked before the leader committed an entry of its term. */
  private pendingReads: { from: ReplicaId; context: Uint8Array }[] = [];
  /** New entries wait for ready() so that one Append carries a whole batch. */
  private pendingBroadcast = false;
  private unreachable = new Set<ReplicaId>();

  private msgs: Message[] = [];
  private msgsAfterPersist: Message[] = [];
  private readStates: ReadState[] = [];
  private newlyUnreachable: ReplicaId[] = [];
  private prevHard: HardState;
  private prevSoft: SoftState;

  constructor(init: CoreInit) {
    this.cfg = resolveCoreConfig(init.config);
    this.id = this.cfg.id;
    this.random = init.random;
    this.log = new RaftLog({
      compactedIndex: init.compactedIndex,
      compactedTerm: init.compactedTerm,
      entries: init.entries,
      commit: init.hardState?.commit ?? 0,
      snapshot: init.snapshot,
    });
    this.membership = init.snapshot
      ? cloneMembership(init.snapshot.meta.membership)
      : { voters: [], learners: [] };
    if (init.hardState !== null) {
      this.term = init.hardState.term;
      this.vote = init.hardState.vote;
    }
    this.prevHard = this.hardState();
    this.prevSoft = { leader: null, role: Role.Follower };
    this.becomeFollower(this.term, null);
  }

  // ---------------------------------------------------------------- status

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  isLeader(): boolean {
    return this.role === Role.Leader;
  }

  /** Can this replica stand for election? */
  promotable(): boolean {
    return isVoter(this.membership, this.id);
  }

  // ---------------------------------------------------------------- roles

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = null;
    }
    this.lead = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.cfg.electionTick + this.random.nextInt(this.cfg.electionTick);
    this.leadTransferee = null;
    this.votes.clear();
    this.progress.clear();
    this.readOnly.clear();
    this.pendingReads = [];
    this.pendingBroadcast = false;
    this.pendingConfIndex = 0;
    this.unreachable.clear();
  }

  becomeFollower(term: number, lead: ReplicaId | null): void {
    this.reset(term);
    this.lead = lead;
    this.role = Role.Follower;
  }

  private becomePreCandidate(): void {
    // Term and vote stay as they are: a pre-vote changes nothing durable.
    this.votes.clear();
    this.lead = null;
    this.role = Role.PreCandidate;
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = Role.Candidate;
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.lead = this.id;
    this.role = Role.Leader;
    this.syncProgress();
    const self = this.progress.get(this.id);
    if (self !== undefined) {
      self.match = this.log.stabled;
      self.becomeReplicate();
    }
    // Conservative: a change may be pending in the unapplied tail.
    this.pendingConfIndex = this.log.lastIndex();
    if (this.cfg.unsafe?.skipNoop !== true) this.appendEntry(EntryType.Noop, EMPTY_BYTES);
    this.bcastAppend(true);
  }

  /** Leader: one Progress per member, new ones probing from the end of the log. */
  private syncProgress(): void {
    const members = allMembers(this.membership);
    const keep = new Set(members);
    for (const id of [...this.progress.keys()]) if (!keep.has(id)) this.progress.delete(id);
    for (const id of members) {
      const learner = !isVoter(this.membership, id);
      const pr = this.progress.get(id);
      if (pr === undefined) {
        const p = new Progress(
          this.log.lastIndex() + 1,
          learner,
          this.cfg.maxInflightMessages,
          this.cfg.maxInflightBytes,
        );
        p.recentActive = true;
        if (id === this.id) p.match = this.log.stabled;
        this.progress.set(id, p);
      } else {
        pr.isLearner = learner;
      }
    }
  }

  // ---------------------------------------------------------------- ticks

  tick(): void {
    if (this.role === Role.Leader) this.tickLeader();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTick) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) {
        this.noteUnreachable();
        if (!this.quorumActive()) {
          this.becomeFollower(this.term, null);
          return;
        }
      }
      // A transfer that did not finish within an election timeout is abandoned.
      this.leadTransferee = null;
      if (!this.promotable()) this.handOver();
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat(this.readOnly.lastContext());
    }
  }

  private noteUnreachable(): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      if (!pr.recentActive && !this.unreachable.has(id)) {
        this.unreachable.add(id);
        this.newlyUnreachable.push(id);
      } else if (pr.recentActive) {
        this.unreachable.delete(id);
      }
    }
  }

  /** CheckQuorum: did a majority talk to us since the last round? Resets the marks. */
  private quorumActive(): boolean {
    const active = hasQuorum(
      this.membership.voters,
      this.membership.outgoing ?? [],
      (id) => id === this.id || this.progress.get(id)?.recentActive === true,
    );
    for (const [id, pr] of this.progress) if (id !== this.id) pr.recentActive = false;
    return active;
  }

  // ---------------------------------------------------------------- elections

  /** Starts an election now (a test hook and the TimeoutNow path). */
  campaignNow(): void {
    this.hup(false);
  }

  private hup(transfer: boolean): void {
    if (this.role === Role.Leader || !this.promotable()) return;
    if (this.hasUnappliedConfig()) return; // its outcome may change who votes
    if (this.cfg.preVote && !transfer) this.campaign(true, false);
    else this.campaign(false, transfer);
  }

  private hasUnappliedConfig(): boolean {
    for (let i = this.log.applied + 1; i <= this.log.committed; i++) {
      if (this.log.entryAt(i)?.type === EntryType.Config) return true;
    }
    return false;
  }

  private voters(): ReplicaId[] {
    const out = new Set(this.membership.voters);
    for (const id of this.membership.outgoing ?? []) out.add(id);
    return [...out].sort();
  }

  private campaign(pre: boolean, transfer: boolean): void {
    let term: number;
    if (pre) {
      this.becomePreCandidate();
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      term = this.term;
    }
    if (this.poll(this.id, true) === VoteResult.Won) {
      if (pre) this.campaign(false, false);
      else this.becomeLeader();
      return;
    }
    const type = pre ? MessageType.PreVote : MessageType.Vote;
    for (const id of this.voters()) {
      if (id === this.id) continue;
      this.send(
        makeMessage(type, this.id, id, {
          term,
          index: this.log.lastIndex(),
          logTerm: this.log.lastTerm(),
          commit: this.log.committed,
          context: transfer ? CAMPAIGN_TRANSFER : EMPTY_BYTES,
        }),
      );
    }
  }

  private poll(id: ReplicaId, granted: boolean): VoteResult {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    return jointVoteResult(this.membership.voters, this.membership.outgoing ?? [], this.votes);
  }

  private handleVoteRequest(m: Message): void {
    const pre = m.type === MessageType.PreVote;
    const respType = pre ? MessageType.PreVoteResponse : MessageType.VoteResponse;
    const canVote =
      this.vote === m.from || (this.vote === null && this.lead === null) || (pre && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      this.send(makeMessage(respType, this.id, m.from, { term: m.term }));
      if (!pre) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send(makeMessage(respType, this.id, m.from, { term: this.term, reject: true }));
    }
  }

  // ---------------------------------------------------------------- step

  /** Feeds one message from a peer. Unknown or stale messages are ignored. */
  step(m: Message): void {
    if (m.term === 0) {
      // Term-less messages: a follower's forwarded read.
    } else if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = bytesEqual(m.context, CAMPAIGN_TRANSFER);
        const inLease =
          this.cfg.checkQuorum && this.lead !== null && this.electionElapsed < this.cfg.electionTick;
        // A replica that hears from a live leader ignores would-be disrupters.
        if (!force && inLease) return;
      }
      if (m.type === MessageType.PreVote) {
        // Never change term on a pre-vote.
      } else if (m.type === MessageType.PreVoteResponse && !m.reject) {
        // The future term of a granted pre-vote; we raise it ourselves if we win.
      } else if (
        m.type === MessageType.Append ||
        m.type === MessageType.Heartbeat ||
        m.type === MessageType.Snapshot
      ) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, null);
      }
    } else if (m.term < this.term) {
      if (
        (this.cfg.checkQuorum || this.cfg.preVote) &&
        (m.type === MessageType.Heartbeat || m.type === MessageType.Append)
      ) {
        // Tell a stale leader about the new term so that it steps down.
        this.send(makeMessage(MessageType.AppendResponse, this.id, m.from, { term: this.term }));
      } else if (m.type === MessageType.PreVote) {
        this.send(
          makeMessage(MessageType.PreVoteResponse, this.id, m.from, { term: this.term, reject: true }),
        );
      }
      return;
    }

    if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case Role.Leader:
        this.stepLeader(m);
        break;
      case Role.Candidate:
      case Role.PreCandidate:
        this.stepCandidate(m);
        break;
      default:
        this.stepFollower(m);
    }
  }

  private stepLeader(m: Message): void {
    if (m.type === MessageType.ReadIndex) {
      this.leaderReadIndex(m.from, m.context);
      return;
    }
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    switch (m.type) {
      case MessageType.AppendResponse:
        pr.recentActive = true;
        this.unreachable.delete(m.from);
        this.handleAppendResponse(m, pr);
        break;
      case MessageType.HeartbeatResponse:
        this.handleHeartbeatResponse(m, pr);
        break;
      default:
        break;
    }
  }

  private stepCandidate(m: Message): void {
    const myResp = this.role === Role.PreCandidate ? MessageType.PreVoteResponse : MessageType.VoteResponse;
    switch (m.type) {
      case MessageType.Append:
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.Snapshot:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      default:
        break;
    }
    if (m.type !== myResp) return;
    const result = this.poll(m.from, !m.reject);
    if (result === VoteResult.Won) {
      if (this.role === Role.PreCandidate) this.campaign(false, false);
      else this.becomeLeader();
    } else if (result === VoteResult.Lost) {
      this.becomeFollower(this.term, null);
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.Append:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        break;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        break;
      case MessageType.Snapshot:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        break;
      case MessageType.TimeoutNow:
        // Leadership transfer: campaign at once, past the leases of the others.
        if (this.promotable()) this.hup(true);
        break;
      case MessageType.ReadIndexResponse:
        this.readStates.push({ index: m.index, context: m.context });
        break;
      default:
        break;
    }
  }

  // ---------------------------------------------------------------- replication (follower side)

  private handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      this.send(makeMessage(MessageType.AppendResponse, this.id, m.from, { index: this.log.committed }));
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== null) {
      this.send(makeMessage(MessageType.AppendResponse, this.id, m.from, { index: lastNew }));
      return;
    }
    // Fast backtracking: point the leader at the last index whose term could match.
    const [hintIndex, hintTerm] = this.log.findConflictByTerm(
      Math.min(m.index, this.log.lastIndex()),
      m.logTerm,
    );
    this.send(
      makeMessage(MessageType.AppendResponse, this.id, m.from, {
        index: m.index,
        reject: true,
        rejectHint: hintIndex,
        hintTerm,
      }),
    );
  }

  private handleHeartbeat(m: Message): void {
    // The leader sends min(match, commit), so this never commits an entry we lack.
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send(makeMessage(MessageType.HeartbeatResponse, this.id, m.from, { context: m.context }));
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot;
    if (s === undefined) return;
    const { index, term } = s.meta;
    if (index <= this.log.committed) {
      this.send(makeMessage(MessageType.AppendResponse, this.id, m.from, { index: this.log.committed }));
      return;
    }
    if (this.log.matchTerm(index, term)) {
      // We already have the entries: just learn that they are committed.
      this.log.commitTo(index);
    } else {
      this.log.restore(s);
      this.membership = cloneMembership(s.meta.membership);
    }
    this.send(makeMessage(MessageType.AppendResponse, this.id, m.from, { index: this.log.lastIndex() }));
  }

  // ---------------------------------------------------------------- replication (leader side)

  private appendEntry(type: EntryType, data: Uint8Array): number {
    const index = this.log.lastIndex() + 1;
    this.log.appendOne({ term: this.term, index, type, data });
    this.pendingBroadcast = true;
    return index;
  }

  /** Sends the next Append to `to` if its window allows; false when nothing was sent. */
  private sendAppend(to: ReplicaId, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    if (pr === undefined || to === this.id || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const ents =
      prevTerm === undefined
        ? null
        : this.log.slice(
            pr.next,
            this.log.lastIndex() + 1,
            this.cfg.maxBytesPerMessage,
            this.cfg.maxEntriesPerMessage,
          );
    if (prevTerm === undefined || ents === null) return this.sendSnapshot(to, pr);
    if (ents.length === 0 && !sendIfEmpty) return false;
    let bytes = 0;
    for (const e of ents) bytes += entryBytes(e);
    this.send(
      makeMessage(MessageType.Append, this.id, to, {
        index: prevIndex,
        logTerm: prevTerm,
        entries: ents,
        commit: this.log.committed,
      }),
    );
    pr.sentEntries(ents.length, bytes, prevIndex + ents.length);
    return true;
  }

  private sendSnapshot(to: ReplicaId, pr: Progress): boolean {
    // Snapshots are expensive: only to a follower that answers.
    if (!pr.recentActive) return false;
    const snap = this.log.snapshot;
    if (snap === null) throw new Error(`no snapshot to send to ${to}: the log was compacted without one`);
    this.send(makeMessage(MessageType.Snapshot, this.id, to, { snapshot: snap }));
    pr.becomeSnapshot(snap.meta.index);
    return true;
  }

  private bcastAppend(sendIfEmpty: boolean): void {
    for (const id of this.progress.keys()) if (id !== this.id) this.sendAppend(id, sendIfEmpty);
  }

  private bcastHeartbeat(context: Uint8Array | null): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      this.send(
        makeMessage(MessageType.Heartbeat, this.id, id, {
          commit: Math.min(pr.match, this.log.committed),
          context: context ?? EMPTY_BYTES,
        }),
      );
    }
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    if (m.reject) {
      let hint = m.rejectHint;
      if (m.hintTerm > 0) hint = this.log.findConflictByTerm(m.rejectHint, m.hintTerm)[0];
      if (pr.maybeDecrTo(m.index, hint)) {
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        this.sendAppend(m.from, true);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === ProgressState.Probe) pr.becomeReplicate();
    else if (pr.state === ProgressState.Snapshot && pr.match + 1 >= this.log.firstIndex()) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === ProgressState.Replicate) pr.inflights.freeLE(m.index);

    if (this.maybeCommit()) this.pendingBroadcast = true;
    else if (wasPaused) this.sendAppend(m.from, true);
    while (this.sendAppend(m.from, false)) {
      /* fill the window */
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    this.unreachable.delete(m.from);
    pr.probeSent = false;
    // Appends may have been lost: let one more through so that the follower can reject and we re-probe.
    if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, true);
    if (m.context.length === 0) return;
    const acks = this.readOnly.ack(m.from, m.context);
    if (acks === null) return;
    if (!hasQuorum(this.membership.voters, this.membership.outgoing ?? [], (id) => acks.has(id))) return;
    for (const r of this.readOnly.release(m.context)) this.answerRead(r.from, r.index, r.context);
  }

  /** Counts replicas; true when the commit index moved. */
  private maybeCommit(): boolean {
    const mci = jointCommitted(
      this.membership.voters,
      this.membership.outgoing ?? [],
      (id) => this.progress.get(id)?.match ?? 0,
    );
    if (mci <= this.log.committed || mci > this.log.lastIndex()) return false;
    if (this.log.term(mci) !== this.term && this.cfg.unsafe?.commitPreviousTermByCounting !== true)
      return false;
    this.log.commitTo(mci);
    if (this.log.term(mci) === this.term) this.releasePendingReads();
    return true;
  }

  // ---------------------------------------------------------------- proposals

  /** Appends a Normal entry; returns its index. Throws NotLeaderError or ProposalDroppedError. */
  propose(data: Uint8Array): number {
    this.checkCanPropose();
    return this.appendEntry(EntryType.Normal, data);
  }

  private checkCanPropose(): void {
    if (this.role !== Role.Leader) throw new NotLeaderError(this.lead);
    if (this.leadTransferee !== null)
      throw new ProposalDroppedError(`leadership is moving to ${this.leadTransferee}`);
    if (!this.promotable()) throw new ProposalDroppedError("this replica is no longer a voter");
  }

  /** Proposes a membership change; returns the index of its Config entry. */
  proposeMembershipChange(changes: MembershipChange[]): number {
    this.checkCanPropose();
    if (this.pendingConfIndex > this.log.applied)
      throw new ProposalDroppedError("another membership change is not yet applied");
    const why = validateChanges(this.membership, changes);
    if (why !== null) throw new ProposalDroppedError(why);
    const index = this.appendEntry(EntryType.Config, encodeConfigEntry({ kind: "change", changes }));
    this.pendingConfIndex = index;
    return index;
  }

  /** Hands leadership to `to`, or to the most up-to-date voter. */
  transferLeadership(to?: ReplicaId): ReplicaId {
    if (this.role !== Role.Leader) throw new NotLeaderError(this.lead);
    let target = to ?? null;
    if (target === null) {
      let best = -1;
      for (const id of this.voters()) {
        const pr = this.progress.get(id);
        if (id === this.id || pr === undefined) continue;
        if (pr.match > best) {
          best = pr.match;
          target = id;
        }
      }
    }
    if (target === null) throw new ProposalDroppedError("no other voter to transfer leadership to");
    if (target === this.id) throw new ProposalDroppedError("already the leader");
    if (!isVoter(this.membership, target)) throw new ProposalDroppedError(`${target} is not a voter`);
    const pr = this.progress.get(target) as Progress;
    this.leadTransferee = target;
    this.electionElapsed = 0;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(target);
    else this.sendAppend(target, true);
    return target;
  }

  /** A leader that is no longer a voter passes the office on. */
  private handOver(): void {
    try {
      this.transferLeadership();
    } catch {
      // No voter to hand over to (yet): try again at the next election timeout.
    }
  }

  private sendTimeoutNow(to: ReplicaId): void {
    this.send(makeMessage(MessageType.TimeoutNow, this.id, to));
  }

  // ---------------------------------------------------------------- reads

  /** Asks for a linearizable read point; answered in a Ready's readStates with this context. */
  readIndex(context: Uint8Array): void {
    if (this.role === Role.Leader) {
      this.leaderReadIndex(this.id, context);
      return;
    }
    if (this.lead === null) throw new NotLeaderError(null);
    this.msgsAfterPersist.push(makeMessage(MessageType.ReadIndex, this.id, this.lead, { context }));
  }

  private leaderReadIndex(from: ReplicaId, context: Uint8Array): void {
    if (this.log.term(this.log.committed) !== this.term) {
      // Until an entry of this term commits, our commit index may be behind.
      this.pendingReads.push({ from, context });
      return;
    }
    const index = this.log.committed;
    if (this.voters().length === 1 && isVoter(this.membership, this.id)) {
      this.answerRead(from, index, context);
      return;
    }
    this.readOnly.add(index, from, context, this.id);
    this.bcastHeartbeat(context);
  }

  private releasePendingReads(): void {
    const reads = this.pendingReads;
    this.pendingReads = [];
    for (const r of reads) this.leaderReadIndex(r.from, r.context);
  }

  private answerRead(from: ReplicaId, index: number, context: Uint8Array): void {
    if (from === this.id) this.readStates.push({ index, context });
    else this.send(makeMessage(MessageType.ReadIndexResponse, this.id, from, { index, context }));
  }

  // ---------------------------------------------------------------- driver feedback

  /** The transport could not deliver to `to`: stop pipelining to it. */
  reportUnreachable(to: ReplicaId): void {
    const pr = this.progress.get(to);
    if (this.role === Role.Leader && pr !== undefined && pr.state === ProgressState.Replicate)
      pr.becomeProbe();
  }

  /** The outcome of sending a snapshot to `to`. */
  reportSnapshot(to: ReplicaId, ok: boolean): void {
    const pr = this.progress.get(to);
    if (this.role !== Role.Leader || pr === undefined || pr.state !== ProgressState.Snapshot) return;
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for the follower's answer (or a heartbeat) before the next append.
    pr.probeSent = true;
  }

  /**
   * The driver saved a snapshot of the state machine at snapshot.meta.index
   * (applied); entries through `compactIndex` may now be dropped from memory.
   */
  compact(snapshot: Snapshot, compactIndex: number): void {
    if (snapshot.meta.index > this.log.applied)
      throw new Error(`snapshot at ${snapshot.meta.index} is beyond the applied index ${this.log.applied}`);
    if (this.log.snapshot === null || snapshot.meta.index > this.log.snapshot.meta.index)
      this.log.snapshot = snapshot;
    this.log.compact(Math.min(compactIndex, snapshot.meta.index));
  }

  // ---------------------------------------------------------------- ready / advance

  private send(m: Message): void {
    if (m.term === 0 && m.type !== MessageType.ReadIndex) m.term = this.term;
    // The leader's appends do not depend on its own disk (it counts itself only after persisting).
    if (
      this.cfg.unsafe?.acknowledgeBeforePersist === true ||
      (this.role === Role.Leader &&
        (m.type === MessageType.Append ||
          m.type === MessageType.Heartbeat ||
          m.type === MessageType.Snapshot ||
          m.type === MessageType.TimeoutNow ||
          m.type === MessageType.ReadIndexResponse))
    )
      this.msgs.push(m);
    else this.msgsAfterPersist.push(m);
  }

  hasReady(): boolean {
    return (
      this.msgs.length > 0 ||
      this.msgsAfterPersist.length > 0 ||
      this.pendingBroadcast ||
      this.log.stabled < this.log.lastIndex() ||
      this.log.pendingSnapshot !== null ||
      this.log.hasNextCommittedEntries() ||
      this.readStates.length > 0 ||
      this.newlyUnreachable.length > 0 ||
      this.hardStateChanged() ||
      this.lead !== this.prevSoft.leader ||
      this.role !== this.prevSoft.role
    );
  }

  private hardStateChanged(): boolean {
    const h = this.prevHard;
    return h.term !== this.term || h.vote !== this.vote || h.commit !== this.log.committed;
  }

  ready(): Ready {
    if (this.pendingBroadcast && this.role === Role.Leader) this.bcastAppend(true);
    this.pendingBroadcast = false;
    let softState: SoftState | null = null;
    if (this.lead !== this.prevSoft.leader || this.role !== this.prevSoft.role) {
      softState = { leader: this.lead, role: this.role };
      this.prevSoft = softState;
    }
    let hardState: HardState | null = null;
    if (this.hardStateChanged()) {
      hardState = this.hardState();
      this.prevHard = hardState;
    }
    const rd: Ready = {
      softState,
      hardState,
      entries: this.log.unstableEntries(),
      snapshot: this.log.pendingSnapshot,
      committedEntries: this.log.nextCommittedEntries(MAX_APPLY_BATCH),
      messages: this.msgs,
      messagesAfterPersist: this.msgsAfterPersist,
      readStates: this.readStates,
      unreachable: this.newlyUnreachable,
    };
    this.msgs = [];
    this.msgsAfterPersist = [];
    this.readStates = [];
    this.newlyUnreachable = [];
    return rd;
  }

  /** The driver finished a Ready: its entries are durable and its committed entries applied. */
  advance(rd: Ready): void {
    if (rd.snapshot !== null) {
      if (this.log.pendingSnapshot === rd.snapshot) this.log.pendingSnapshot = null;
      this.log.appliedTo(rd.snapshot.meta.index);
    }
    const n = rd.entries.length;
    if (n > 0) {
      const last = rd.entries[n - 1] as Entry;
      this.log.stableTo(last.index, last.term);
    }
    if (this.role === Role.Leader) {
      const self = this.progress.get(this.id);
      if (self !== undefined && self.maybeUpdate(this.log.stabled) && this.maybeCommit())
        this.pendingBroadcast = true;
    }
    const c = rd.committedEntries.length;
    if (c > 0) {
      for (const e of rd.committedEntries) {
        if (e.index <= this.log.applied) continue;
        this.log.appliedTo(e.index);
        if (e.type === EntryType.Config) this.applyConfig(e);
      }
    }
    if (
      this.role === Role.Leader &&
      isJoint(this.membership) &&
      this.pendingConfIndex <= this.log.applied &&
      this.leadTransferee === null
    ) {
      this.pendingConfIndex = this.appendEntry(EntryType.Config, encodeConfigEntry({ kind: "leaveJoint" }));
    }
  }

  private applyConfig(e: Entry): void {
    let payload;
    try {
      payload = decodeConfigEntry(e.data);
    } catch {
      return; // a malformed entry changes nothing, identically on every replica
    }
    this.membership = applyConfigEntry(this.membership, payload);
    if (this.role !== Role.Leader) return;
    this.syncProgress();
    if (!isVoter(this.membership, this.id)) {
      // Removed or demoted. Stepping down at once could leave the others
      // unable to elect anyone: they may not know yet that the change is
      // committed and still need this replica's vote under the old (joint)
      // membership. So keep leading, without counting ourselves and without
      // accepting proposals, spread the commit index, and hand over to the
      // most up-to-date voter (TimeoutNow), retried every election timeout.
      this.pendingBroadcast = true;
      this.bcastAppend(true);
      this.handOver();
      return;
    }
    if (this.leadTransferee !== null && !isVoter(this.membership, this.leadTransferee))
      this.leadTransferee = null;
    if (this.maybeCommit()) this.pendingBroadcast = true;
    this.bcastAppend(false);
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
