// The state every part of the core shares: terms and votes, the log, the
// membership, the leader's view of its followers, and the outbox. The core is
// split by concern into a chain of classes (state → replication → leadership
// → election → raft), each in its own file; each calls only what is above it.
import type { Snapshot } from "../storage.js";
import type { Entry, HardState, Membership, ReplicaId } from "../types.js";
import { EntryType } from "../types.js";
import type { CoreConfig, UnsafeOptions } from "./config.js";
import { resolveCoreConfig } from "./config.js";
import { RaftLog } from "./log.js";
import { allMembers, cloneMembership, isVoter, storageCounts } from "./membership.js";
import type { Message } from "./messages.js";
import { makeMessage, MessageType } from "./messages.js";
import { Progress } from "./progress.js";
import type { RandomSource } from "./random.js";
import type { ReadState } from "./read-only.js";
import { ReadOnlyQueue } from "./read-only.js";
import type { SoftState } from "./ready.js";
import { Role } from "./ready.js";
import { assert } from "../../util/assert.js";

export interface CoreInit {
  config: Partial<CoreConfig> & { id: ReplicaId };
  random: RandomSource;
  /** Planted bugs, for the simulator's own tests only. */
  unsafe?: UnsafeOptions;
  hardState: HardState | null;
  entries: Entry[];
  compactedIndex: number;
  compactedTerm: number;
  snapshot: Snapshot | null;
}

export abstract class RaftState {
  readonly id: ReplicaId;
  readonly cfg: CoreConfig;
  protected readonly random: RandomSource;
  protected readonly unsafe: UnsafeOptions;

  term = 0;
  vote: ReplicaId | null = null;
  lead: ReplicaId | null = null;
  role = Role.Follower;
  readonly log: RaftLog;
  /** The membership as of the applied index. */
  membership: Membership;
  /** Leader only: its view of every member, itself included. */
  readonly progress = new Map<ReplicaId, Progress>();
  protected readonly votes = new Map<ReplicaId, boolean>();

  /** Ticks since this core started: when members were last heard from. */
  protected ticks = 0;
  protected electionElapsed = 0;
  protected heartbeatElapsed = 0;
  protected randomizedElectionTimeout = 0;
  leadTransferee: ReplicaId | null = null;
  /** Leader: index of the latest Config entry it appended; no new change until it is applied. */
  protected pendingConfIndex = 0;
  protected readonly readOnly = new ReadOnlyQueue();
  /** Reads asked before the leader committed an entry of its term. */
  protected pendingReads: { from: ReplicaId; context: Uint8Array }[] = [];
  /** New entries wait for ready() so that one Append carries a whole batch. */
  protected pendingBroadcast = false;
  protected unreachable = new Set<ReplicaId>();

  protected msgs: Message[] = [];
  protected msgsAfterPersist: Message[] = [];
  protected readStates: ReadState[] = [];
  protected newlyUnreachable: ReplicaId[] = [];
  /** Why messages were dropped or peers reset, for the driver to log (Ready.dropped). */
  protected dropped: string[] = [];
  /** A follower needs a snapshot newer than ours: the driver should take one (Ready.snapshotWanted). */
  protected snapshotWanted = false;
  protected prevHard: HardState;
  protected prevSoft: SoftState;

  constructor(init: CoreInit) {
    this.cfg = resolveCoreConfig(init.config);
    this.id = this.cfg.id;
    this.random = init.random;
    this.unsafe = init.unsafe ?? {};
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

  protected reset(term: number): void {
    assert(term >= this.term, () => `${this.id}: term ${term} after term ${this.term}`);
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

  /** Leader: one Progress per member, new ones probing from the end of the log. */
  protected syncProgress(): void {
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
        p.lastHeard = this.ticks;
        if (id === this.id) {
          p.match = this.log.stabled;
          p.storage = this.cfg.storageId;
        }
        this.progress.set(id, p);
      } else {
        pr.isLearner = learner;
      }
    }
  }

  /**
   * Whether `id`'s vote or acknowledgement, sent from the disk `seen`, counts:
   * a voter that lost its disk counts for nothing until its new disk is
   * registered (it then holds the log again). Quorum sizes do not change.
   */
  protected counts(id: ReplicaId, seen: string | undefined): boolean {
    if (this.unsafe.ignoreStorageIdentity === true) return true;
    return storageCounts(this.membership, id, id === this.id ? this.cfg.storageId : seen);
  }

  /** The leader's view: does `id`'s progress count towards commit and quorum? */
  protected progressCounts(id: ReplicaId): boolean {
    return this.counts(id, this.progress.get(id)?.storage);
  }

  protected voters(): ReplicaId[] {
    const out = new Set(this.membership.voters);
    for (const id of this.membership.outgoing ?? []) out.add(id);
    return [...out].sort();
  }

  protected hasUnappliedConfig(): boolean {
    for (let i = this.log.applied + 1; i <= this.log.committed; i++) {
      if (this.log.entryAt(i)?.type === EntryType.Config) return true;
    }
    return false;
  }

  protected appendEntry(type: EntryType, data: Uint8Array): number {
    const index = this.log.lastIndex() + 1;
    this.log.appendOne({ term: this.term, index, type, data });
    this.pendingBroadcast = true;
    return index;
  }

  /** Asks `to` to campaign at once (a leadership transfer). */
  protected sendTimeoutNow(to: ReplicaId): void {
    this.send(makeMessage(MessageType.TimeoutNow, this.id, to));
  }

  protected send(m: Message): void {
    if (m.term === 0 && m.type !== MessageType.ReadIndex) m.term = this.term;
    // The leader's appends do not depend on its own disk (it counts itself only after persisting).
    if (
      this.unsafe.acknowledgeBeforePersist === true ||
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
}
