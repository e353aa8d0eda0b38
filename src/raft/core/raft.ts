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
//
// This file holds the entry points (tick, step, propose, ready/advance); the
// rest is layered below it, each part calling only the parts below:
// election.ts → leadership.ts (proposals, membership, transfers, disks) →
// replication.ts (appends, snapshots, commit, ReadIndex) → state.ts.
import { Election } from "./election.js";
import { CAMPAIGN_TRANSFER, MAX_TERM_JUMP, TERM_CEILING } from "./messages.js";
import type { Snapshot } from "../storage.js";
import type { Entry, HardState } from "../types.js";
import { EntryType } from "../types.js";
import { encodeConfigEntry, isJoint } from "./membership.js";
import type { Message } from "./messages.js";
import { makeMessage, MessageType } from "./messages.js";
import { VoteResult } from "./quorum.js";
import type { Ready, SoftState } from "./ready.js";
import { Role } from "./ready.js";
import { assert } from "../../util/assert.js";

export type { CoreInit } from "./state.js";

const MAX_APPLY_BATCH = 4096;

/** One replica's Raft state machine. */
export class RaftCore extends Election {
  tick(): void {
    this.ticks++;
    if (this.role === Role.Leader) {
      this.tickLeader();
      this.maintainStorage();
    } else this.tickElection();
  }

  /** Feeds one message from a peer. Unknown or stale messages are ignored. */
  step(m: Message): void {
    if (m.term > TERM_CEILING && m.term > this.term + MAX_TERM_JUMP) {
      // Adopting it could leave no room for the next term: ignore it, keep electing.
      this.dropped.push(
        `dropped a ${MessageType[m.type]} from ${m.from} with term ${m.term}: a jump past the term ceiling from ${this.term}`,
      );
      return;
    }
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

  protected stepLeader(m: Message): void {
    if (m.type === MessageType.ReadIndex) {
      this.leaderReadIndex(m.from, m.context);
      return;
    }
    const pr = this.progress.get(m.from);
    if (pr === undefined) {
      if (m.type !== MessageType.VoteResponse && m.type !== MessageType.PreVoteResponse)
        this.dropped.push(`${m.from} is not a member: dropped its ${MessageType[m.type]}`);
      return;
    }
    if (!this.checkStorage(m, pr)) return;
    pr.lastHeard = this.ticks;
    switch (m.type) {
      case MessageType.AppendResponse:
        pr.recentActive = true;
        this.unreachable.delete(m.from);
        this.handleAppendResponse(m, pr);
        break;
      case MessageType.HeartbeatResponse:
        this.handleHeartbeatResponse(m, pr);
        break;
      case MessageType.VoteResponse:
      case MessageType.PreVoteResponse:
        break; // late answers to our campaign
      default:
        this.dropped.push(`dropped a ${MessageType[m.type]} from ${m.from}: unexpected at the leader`);
        break;
    }
  }

  protected stepCandidate(m: Message): void {
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
    // A vote counts only from the disk registered for the voter (not from one that lost its state).
    const result = this.poll(m.from, !m.reject && this.counts(m.from, m.storage));
    if (result === VoteResult.Won) {
      if (this.role === Role.PreCandidate) this.campaign(false, false);
      else this.becomeLeader();
    } else if (result === VoteResult.Lost) {
      this.becomeFollower(this.term, null);
    }
  }

  protected stepFollower(m: Message): void {
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

  /** Appends a Normal entry; returns its index. Throws NotLeaderError or ProposalDroppedError. */
  propose(data: Uint8Array): number {
    this.checkCanPropose();
    return this.appendEntry(EntryType.Normal, data);
  }

  /**
   * The driver saved a snapshot of the state machine at snapshot.meta.index
   * (applied); entries through `compactIndex` may now be dropped from memory.
   */
  compact(snapshot: Snapshot, compactIndex: number): void {
    assert(
      snapshot.meta.index <= this.log.applied,
      () => `snapshot at ${snapshot.meta.index} is beyond the applied index ${this.log.applied}`,
    );
    if (this.log.snapshot === null || snapshot.meta.index > this.log.snapshot.meta.index)
      this.log.snapshot = snapshot;
    this.log.compact(Math.min(compactIndex, snapshot.meta.index));
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
      this.dropped.length > 0 ||
      this.snapshotWanted ||
      this.hardStateChanged() ||
      this.lead !== this.prevSoft.leader ||
      this.role !== this.prevSoft.role
    );
  }

  protected hardStateChanged(): boolean {
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
    for (const m of this.msgs) m.storage = this.cfg.storageId;
    for (const m of this.msgsAfterPersist) m.storage = this.cfg.storageId;
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
      dropped: this.dropped,
      snapshotWanted: this.snapshotWanted,
    };
    this.dropped = [];
    this.snapshotWanted = false;
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
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
