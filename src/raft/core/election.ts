// Elections: randomised timeouts, PreVote (ask before raising the term),
// CheckQuorum (a leader that hears from no majority steps down), votes with
// the up-to-date restriction, and what a new leader does first.
import { Leadership } from "./leadership.js";
import { CAMPAIGN_TRANSFER } from "./messages.js";
import type { ReplicaId } from "../types.js";
import { EntryType } from "../types.js";
import type { Message } from "./messages.js";
import { EMPTY_BYTES, makeMessage, MessageType } from "./messages.js";
import { hasQuorum, jointVoteResult, VoteResult } from "./quorum.js";
import { Role } from "./ready.js";

export abstract class Election extends Leadership {
  protected becomePreCandidate(): void {
    // Term and vote stay as they are: a pre-vote changes nothing durable.
    this.votes.clear();
    this.lead = null;
    this.role = Role.PreCandidate;
  }

  protected becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = Role.Candidate;
  }

  protected becomeLeader(): void {
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
    if (this.unsafe.skipNoop !== true) this.appendEntry(EntryType.Noop, EMPTY_BYTES);
    this.bcastAppend(true);
  }

  protected tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  protected tickLeader(): void {
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

  protected noteUnreachable(): void {
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
  protected quorumActive(): boolean {
    const active = hasQuorum(
      this.membership.voters,
      this.membership.outgoing ?? [],
      (id) => (id === this.id || this.progress.get(id)?.recentActive === true) && this.progressCounts(id),
    );
    for (const [id, pr] of this.progress) if (id !== this.id) pr.recentActive = false;
    return active;
  }

  /** Starts an election now (a test hook and the TimeoutNow path). */
  campaignNow(): void {
    this.hup(false);
  }

  protected hup(transfer: boolean): void {
    if (this.role === Role.Leader || !this.promotable()) return;
    if (this.term >= Number.MAX_SAFE_INTEGER - 1) {
      this.dropped.push(`cannot campaign: term ${this.term} has no representable successor`);
      return;
    }
    if (this.hasUnappliedConfig()) return; // its outcome may change who votes
    if (this.cfg.preVote && !transfer) this.campaign(true, false);
    else this.campaign(false, transfer);
  }

  protected campaign(pre: boolean, transfer: boolean): void {
    let term: number;
    if (pre) {
      this.becomePreCandidate();
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      term = this.term;
    }
    if (this.poll(this.id, this.counts(this.id, this.cfg.storageId)) === VoteResult.Won) {
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

  protected poll(id: ReplicaId, granted: boolean): VoteResult {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    return jointVoteResult(this.membership.voters, this.membership.outgoing ?? [], this.votes);
  }

  /** Whether this replica's vote is worth anything: it is a member, on its registered disk. */
  private mayVote(): boolean {
    if (this.unsafe.ignoreStorageIdentity === true) return true;
    return this.membership.voters.length > 0 && this.counts(this.id, this.cfg.storageId);
  }

  protected handleVoteRequest(m: Message): void {
    const pre = m.type === MessageType.PreVote;
    const respType = pre ? MessageType.PreVoteResponse : MessageType.VoteResponse;
    const canVote =
      this.vote === m.from || (this.vote === null && this.lead === null) || (pre && m.term > this.term);
    // A candidate on another disk than the one registered for it lost its state,
    // its own vote in this term included: it could be voting for itself twice.
    // And we vote only as a member on our registered disk: not after a --join
    // (no membership yet) nor on a disk that replaced the registered one.
    if (
      canVote &&
      this.log.isUpToDate(m.index, m.logTerm) &&
      this.counts(m.from, m.storage) &&
      this.mayVote()
    ) {
      this.send(makeMessage(respType, this.id, m.from, { term: m.term }));
      if (!pre) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send(makeMessage(respType, this.id, m.from, { term: this.term, reject: true }));
    }
  }
}
