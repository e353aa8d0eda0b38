// Log replication: the follower's side (append, heartbeat, snapshot) and the
// leader's (pipelined appends within the inflight window, snapshots for
// followers behind the compaction point, fast backtracking on rejections,
// and the commit rule: a majority, and only in the leader's own term); and
// linearizable reads without log writes (ReadIndex), which ride on the
// heartbeats: the leader confirms with a heartbeat round that it still leads,
// then releases the read at the commit index it had when the read arrived;
// followers forward reads to the leader.
import { RaftState } from "./state.js";
import type { ReplicaId } from "../types.js";
import { NotLeaderError } from "./errors.js";
import { cloneMembership, isVoter, REVOKED_PREFIX } from "./membership.js";
import type { Message } from "./messages.js";
import { EMPTY_BYTES, entryBytes, makeMessage, MessageType } from "./messages.js";
import type { Progress } from "./progress.js";
import { ProgressState } from "./progress.js";
import { hasQuorum, jointCommitted } from "./quorum.js";
import { Role } from "./ready.js";

export abstract class Replication extends RaftState {
  protected handleAppend(m: Message): void {
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

  protected handleHeartbeat(m: Message): void {
    // The leader sends min(match, commit), so this never commits an entry we lack.
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    // Our last index lets the leader notice that we lost entries it believes we hold.
    this.send(
      makeMessage(MessageType.HeartbeatResponse, this.id, m.from, {
        context: m.context,
        index: this.log.lastIndex(),
      }),
    );
  }

  protected handleSnapshot(m: Message): void {
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

  /** Sends the next Append to `to` if its window allows; false when nothing was sent. */
  protected sendAppend(to: ReplicaId, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    if (pr === undefined || to === this.id || pr.isPaused()) return false;
    if (pr.next > this.log.lastIndex() + 1 || pr.match > this.log.lastIndex()) {
      // Progress past our own log cannot be: start over from a probe at our end.
      this.resetProgress(to, pr, `its progress (next ${pr.next}) is beyond our last index`);
      if (pr.isPaused()) return false;
    }
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

  protected sendSnapshot(to: ReplicaId, pr: Progress): boolean {
    // Snapshots are expensive: only to a follower that answers.
    if (!pr.recentActive) return false;
    const snap = this.log.snapshot;
    if (snap === null || snap.meta.index < pr.next - 1) {
      // None that covers what the follower lacks: ask the driver to take one now
      // (it can, everything compacted is applied) and probe again meanwhile.
      this.snapshotWanted = true;
      return false;
    }
    this.send(makeMessage(MessageType.Snapshot, this.id, to, { snapshot: snap }));
    pr.becomeSnapshot(snap.meta.index);
    return true;
  }

  protected bcastAppend(sendIfEmpty: boolean): void {
    for (const id of this.progress.keys()) if (id !== this.id) this.sendAppend(id, sendIfEmpty);
  }

  protected bcastHeartbeat(context: Uint8Array | null): void {
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

  /**
   * Forgets what we believed `to` holds and probes it again from the end of
   * our log (its answers lead the leader back to where it matches). Used when
   * its answers are impossible or show that it lost entries (a wiped disk).
   */
  protected resetProgress(to: ReplicaId, pr: Progress, why: string): void {
    this.dropped.push(`${to}: ${why}; probing it again`);
    pr.reset(this.log.lastIndex() + 1);
  }

  /**
   * The leader tracks each member's disk. A message from another disk than the
   * last one means the member lost its state and came back: forget its progress
   * (it counts for nothing until its new disk is registered, see counts()). A
   * message from a disk already revoked is a leftover of the lost one: dropped.
   */
  protected checkStorage(m: Message, pr: Progress): boolean {
    const registered = this.membership.storage?.[m.from];
    if (registered !== undefined && registered === REVOKED_PREFIX + m.storage) {
      this.dropped.push(`dropped a ${MessageType[m.type]} from ${m.from}'s lost disk ${m.storage}`);
      return false;
    }
    if (pr.storage !== undefined && pr.storage !== m.storage)
      this.resetProgress(
        m.from,
        pr,
        `its disk changed (storage ${pr.storage || "none"} → ${m.storage || "none"})`,
      );
    pr.storage = m.storage;
    return true;
  }

  protected handleAppendResponse(m: Message, pr: Progress): void {
    if (m.index > this.log.lastIndex()) {
      // A follower cannot hold or reject what we never had: a bug or a lie.
      this.resetProgress(
        m.from,
        pr,
        `dropped an append ${m.reject ? "rejection" : "acknowledgement"} at ${m.index}, beyond our last index ${this.log.lastIndex()}`,
      );
      this.sendAppend(m.from, true);
      return;
    }
    if (m.reject) {
      if (m.index <= pr.match && pr.state !== ProgressState.Snapshot) {
        // It no longer has an entry it acknowledged: it lost its disk or its
        // tail (or this is an old rejection, overtaken). Either way, probe it
        // again below its old match, from where it says its log may match.
        const hint = Math.min(m.rejectHint, m.index);
        this.resetProgress(m.from, pr, `it rejected index ${m.index}, at or below its match ${pr.match}`);
        pr.next = Math.max(1, Math.min(pr.next, hint + 1));
        this.sendAppend(m.from, true);
        return;
      }
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

  protected handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    this.unreachable.delete(m.from);
    if (m.index < pr.match && pr.state !== ProgressState.Snapshot) {
      // Its log ends before what it acknowledged: it lost entries (or the answer is old).
      this.resetProgress(m.from, pr, `its log ends at ${m.index}, below its match ${pr.match}`);
      pr.next = Math.max(1, m.index + 1);
    }
    pr.probeSent = false;
    // Appends may have been lost: let one more through so that the follower can reject and we re-probe.
    if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, true);
    if (m.context.length === 0) return;
    const acks = this.readOnly.ack(m.from, m.context);
    if (acks === null) return;
    if (
      !hasQuorum(
        this.membership.voters,
        this.membership.outgoing ?? [],
        (id) => acks.has(id) && this.progressCounts(id),
      )
    )
      return;
    for (const r of this.readOnly.release(m.context)) this.answerRead(r.from, r.index, r.context);
  }

  /** Counts replicas; true when the commit index moved. */
  protected maybeCommit(): boolean {
    const mci = jointCommitted(this.membership.voters, this.membership.outgoing ?? [], (id) =>
      this.progressCounts(id) ? (this.progress.get(id)?.match ?? 0) : 0,
    );
    if (mci <= this.log.committed || mci > this.log.lastIndex()) return false;
    if (this.log.term(mci) !== this.term && this.unsafe.commitPreviousTermByCounting !== true) return false;
    this.log.commitTo(mci);
    if (this.log.term(mci) === this.term) this.releasePendingReads();
    return true;
  }

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

  protected leaderReadIndex(from: ReplicaId, context: Uint8Array): void {
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

  protected releasePendingReads(): void {
    const reads = this.pendingReads;
    this.pendingReads = [];
    for (const r of reads) this.leaderReadIndex(r.from, r.context);
  }

  protected answerRead(from: ReplicaId, index: number, context: Uint8Array): void {
    if (from === this.id) this.readStates.push({ index, context });
    else this.send(makeMessage(MessageType.ReadIndexResponse, this.id, from, { index, context }));
  }
}
