// The driver: runs one RaftCore against real (or simulated) stores, state
// machine, transport and clock. It persists before it acknowledges, gathers
// every proposal made during a write into the next write (group commit),
// applies committed entries, takes snapshots and compacts the log.
import { randomUUID } from "node:crypto";
import type { RaftObserver, Clock, TimerHandle, Transport } from "./interfaces.js";
import { systemClock } from "./interfaces.js";
import type { RaftNodeConfig } from "./node-config.js";
import { coreConfigOf, resolveNodeConfig } from "./node-config.js";
import {
  LeadershipLostError,
  NotLeaderError,
  ProposalDroppedError,
  RaftStoppedError,
} from "../core/errors.js";
import type { MembershipChange } from "../core/membership.js";
import { cloneMembership, encodeConfigEntry } from "../core/membership.js";
import type { Message } from "../core/messages.js";
import { EMPTY_BYTES, MessageType, makeMessage, validateMessage } from "../core/messages.js";
import { RaftCore } from "../core/raft.js";
import type { RandomSource } from "../core/random.js";
import { SeededRandom } from "../core/random.js";
import { contextKey } from "../core/read-only.js";
import type { Ready } from "../core/ready.js";
import { Role } from "../core/ready.js";
import type { LogStore, Snapshot, SnapshotStore, StateMachine } from "../storage.js";
import { StorageCorruptionError, isNoSpaceError } from "../storage.js";
import type { Applied, Entry, HardState, Membership, ReplicaId } from "../types.js";
import { EntryType } from "../types.js";

export interface RaftNodeOptions {
  id: ReplicaId;
  logStore: LogStore;
  snapshotStore: SnapshotStore;
  stateMachine: StateMachine;
  transport: Transport;
  clock?: Clock;
  /** Randomness for election timeouts; defaults to a generator seeded from the clock and id. */
  random?: RandomSource;
  /**
   * The founding membership. Used only when the stores are empty: every
   * founding replica writes the same first entry. A replica that joins later
   * starts without it and learns the membership from the leader.
   */
  bootstrap?: Membership;
  config?: Partial<RaftNodeConfig>;
  observer?: RaftObserver;
}

export interface RaftStatus {
  id: ReplicaId;
  role: Role;
  term: number;
  leader: ReplicaId | null;
  commitIndex: number;
  appliedIndex: number;
  lastIndex: number;
  snapshotIndex: number;
  membership: Membership;
  /** This replica's storage identity ("" when its log store keeps none). */
  storageId: string;
  /** Set while a write failed for lack of space: the node acknowledges, votes and applies nothing. */
  diskFull: DiskFullState | null;
}

export interface DiskFullState {
  /** When the first write failed (the node's clock). */
  since: number;
  error: string;
}

/** How often a node whose disk is full tries its failed write again. */
const DISK_PROBE_MS = 1_000;

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

export class RaftNode {
  readonly id: ReplicaId;
  readonly config: RaftNodeConfig;
  /** The core, for status, tests and tools. Do not call it directly while the node runs. */
  readonly core: RaftCore;
  private readonly opts: RaftNodeOptions;
  private readonly clock: Clock;
  private readonly observers: RaftObserver[] = [];
  private timer: TimerHandle | null = null;
  private stopped = false;
  private busy = false;
  private scheduled = false;
  private ticks = 0;
  private lastLeader: ReplicaId | null = null;
  private lastTerm = 0;
  private readonly proposals = new Map<number, PendingProposal>();
  /** Reads waiting for their ReadIndex answer, by context. */
  private readonly readsAsked = new Map<string, PendingRead>();
  /** Reads that have their index and wait for the state machine to reach it. */
  private readsWaiting: PendingRead[] = [];
  private catchUps: {
    id: ReplicaId;
    maxLag: number;
    deadline: number;
    resolve: () => void;
    reject: (e: Error) => void;
  }[] = [];
  private transfers: {
    deadline: number;
    resolve: (leader: ReplicaId) => void;
    reject: (e: Error) => void;
  }[] = [];
  private readCounter = 0;
  private snapshotIndex: number;
  private snapshotting = false;
  /** No background snapshot before this tick (one failed for lack of space). */
  private snapshotNotBefore = 0;
  private diskFull: DiskFullState | null = null;
  /** Resolves the wait of a write that failed for lack of space, at the next probe. */
  private diskProbe: { atTick: number; resolve: () => void } | null = null;

  private constructor(opts: RaftNodeOptions, core: RaftCore, config: RaftNodeConfig, snapshotIndex: number) {
    this.id = opts.id;
    this.opts = opts;
    this.core = core;
    this.config = config;
    this.clock = opts.clock ?? systemClock;
    this.snapshotIndex = snapshotIndex;
    if (opts.observer !== undefined) this.observers.push(opts.observer);
    this.lastTerm = core.term;
  }

  /** Loads the stores, restores the state machine and starts ticking. */
  static async start(opts: RaftNodeOptions): Promise<RaftNode> {
    const config = resolveNodeConfig(opts.config);
    let persisted = await opts.logStore.load();
    const snapshot = await opts.snapshotStore.latest();
    const empty = persisted.hardState === null && persisted.entries.length === 0 && snapshot === null;
    if (empty && opts.bootstrap !== undefined) {
      const m = opts.bootstrap;
      if (!Array.isArray(m.voters) || m.voters.length === 0)
        throw new ProposalDroppedError("bootstrap membership needs at least one voter");
      const first: Entry = {
        term: 1,
        index: 1,
        type: EntryType.Config,
        data: encodeConfigEntry({ kind: "bootstrap", membership: cloneMembership(m) }),
      };
      const hs: HardState = { term: 1, vote: null, commit: 1 };
      await opts.logStore.persist({ hardState: hs, entries: [first] });
      persisted = { hardState: hs, entries: [first], compactedIndex: 0, compactedTerm: 0 };
    }
    checkSnapshotCoversCompaction(opts.snapshotStore, snapshot, persisted.compactedIndex);
    if (snapshot !== null) opts.stateMachine.restore(snapshot.data);
    const clock = opts.clock ?? systemClock;
    const random =
      opts.random ?? new SeededRandom((clock.now() ^ hashId(opts.id) ^ (Math.random() * 0xffffffff)) >>> 0);
    const storageId = await loadStorageIdentity(opts.logStore, opts.random);
    const core = new RaftCore({
      config: { ...coreConfigOf(opts.id, config), storageId },
      random,
      hardState: persisted.hardState,
      entries: persisted.entries,
      compactedIndex: persisted.compactedIndex,
      compactedTerm: persisted.compactedTerm,
      snapshot,
    });
    if (snapshot !== null && snapshot.meta.index > persisted.compactedIndex) {
      // A crash after saving a snapshot but before the log store caught up:
      // bring the store in line with what the core kept, before any new write.
      const { index, term } = snapshot.meta;
      const continues = persisted.entries.some((e) => e.index === index && e.term === term);
      const store = opts.logStore;
      if (!continues && store.resetTo !== undefined) await store.resetTo(index, term);
      else await store.compact(index, term);
    }
    const node = new RaftNode(opts, core, config, snapshot?.meta.index ?? 0);
    opts.transport.listen((m) => node.receive(m));
    node.timer = clock.setInterval(() => node.tick(), config.heartbeatIntervalMs);
    node.schedule();
    return node;
  }

  // ---------------------------------------------------------------- public API

  observe(o: RaftObserver): () => void {
    this.observers.push(o);
    return () => {
      const i = this.observers.indexOf(o);
      if (i >= 0) this.observers.splice(i, 1);
    };
  }

  status(): RaftStatus {
    const log = this.core.log;
    return {
      id: this.id,
      role: this.core.role,
      term: this.core.term,
      leader: this.core.lead,
      commitIndex: log.committed,
      appliedIndex: log.applied,
      lastIndex: log.lastIndex(),
      snapshotIndex: this.snapshotIndex,
      membership: cloneMembership(this.core.membership),
      storageId: this.core.cfg.storageId,
      diskFull: this.diskFull && { ...this.diskFull },
    };
  }

  get isLeader(): boolean {
    return this.core.role === Role.Leader;
  }

  get leader(): ReplicaId | null {
    return this.core.lead;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /**
   * Replicates `data`; resolves with the entry's index and term and the state
   * machine's result once the entry is applied here. Rejects with NotLeaderError (carrying the leader),
   * ProposalDroppedError, LeadershipLostError (outcome unknown) or RaftStoppedError.
   */
  propose(data: Uint8Array): Promise<Applied> {
    if (this.stopped) return Promise.reject(new RaftStoppedError());
    if (this.diskFull) return Promise.reject(this.diskFullError());
    if (!(data instanceof Uint8Array))
      return Promise.reject(new ProposalDroppedError("data must be a Uint8Array"));
    if (data.length > this.config.maxBytesPerMessage)
      return Promise.reject(
        new ProposalDroppedError(
          `${data.length} bytes exceed maxBytesPerMessage (${this.config.maxBytesPerMessage})`,
        ),
      );
    if (this.proposals.size >= this.config.maxPendingProposals)
      return Promise.reject(new ProposalDroppedError("too many proposals pending; retry later"));
    let index: number;
    try {
      index = this.core.propose(data);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return this.waitForEntry(index);
  }

  private waitForEntry(index: number): Promise<Applied> {
    const term = this.core.term;
    this.schedule();
    return new Promise((resolve, reject) => this.proposals.set(index, { term, resolve, reject }));
  }

  /**
   * Changes the membership; resolves with the membership once the change is
   * applied here. One change at a time: a second one is refused until the first
   * is applied. Several voter changes at once go through joint consensus (the
   * leader leaves the joint state by itself).
   */
  async changeMembership(changes: MembershipChange[], opts: { force?: boolean } = {}): Promise<Membership> {
    if (this.stopped) throw new RaftStoppedError();
    if (this.diskFull) throw this.diskFullError();
    // The leader's own disk registrations go through the log like any change:
    // wait for them rather than refuse the caller.
    for (let i = 0; i < 3; i++) {
      const pending = this.core.pendingStorageRegistration();
      if (pending === null) break;
      await this.waitForApplied(pending);
    }
    const index = this.core.proposeMembershipChange(changes, opts.force === true);
    await this.waitForEntry(index);
    return cloneMembership(this.core.membership);
  }

  /** Resolves once `index` is applied here (rejects after the request timeout or on stop). */
  private waitForApplied(index: number): Promise<number> {
    this.schedule();
    return new Promise((resolve, reject) => {
      this.readsWaiting.push({ deadline: this.deadline(), index, resolve, reject });
      this.releaseReads();
    });
  }

  /** Promotes a learner that has caught up (`force`: even one that has not, or without a live quorum). */
  addVoter(id: ReplicaId, opts: { force?: boolean } = {}): Promise<Membership> {
    return this.changeMembership([{ op: "addVoter", id }], opts);
  }

  addLearner(id: ReplicaId): Promise<Membership> {
    return this.changeMembership([{ op: "addLearner", id }]);
  }

  /** Removes a member; refused when the voters left would have no live quorum, unless `force`. */
  removeServer(id: ReplicaId, opts: { force?: boolean } = {}): Promise<Membership> {
    return this.changeMembership([{ op: "remove", id }], opts);
  }

  /**
   * Adds `id` the safe way: as a learner first, then, once its log is within
   * `maxLag` entries of the leader's, as a voter (so that a new, empty replica
   * never weakens the quorum while it catches up). Resolves with the membership.
   */
  async addServer(id: ReplicaId, maxLag = 64): Promise<Membership> {
    if (!this.core.membership.learners.includes(id)) await this.addLearner(id);
    await new Promise<void>((resolve, reject) => {
      const deadline = this.ticks + this.core.cfg.electionTick * this.config.requestTimeoutElections * 10;
      this.catchUps.push({ id, maxLag, deadline, resolve, reject });
      this.checkCatchUps();
    });
    return this.addVoter(id);
  }

  private checkCatchUps(): void {
    if (this.catchUps.length === 0) return;
    const keep = [];
    for (const c of this.catchUps) {
      const pr = this.core.progress.get(c.id);
      if (!this.isLeader) c.reject(new NotLeaderError(this.core.lead));
      else if (pr !== undefined && pr.match + c.maxLag >= this.core.log.lastIndex()) c.resolve();
      else if (c.deadline <= this.ticks)
        c.reject(new ProposalDroppedError(`${c.id} did not catch up in time`));
      else keep.push(c);
    }
    this.catchUps = keep;
  }

  /**
   * A linearizable read point: resolves with an index once the state machine
   * here has applied it, so that a read of local state is up to date (ReadIndex).
   */
  readIndex(): Promise<number> {
    if (this.stopped) return Promise.reject(new RaftStoppedError());
    if (this.diskFull) return Promise.reject(this.diskFullError());
    const ctx = new Uint8Array(8);
    const n = ++this.readCounter;
    new DataView(ctx.buffer).setFloat64(0, n);
    try {
      this.core.readIndex(ctx);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    this.schedule();
    return new Promise((resolve, reject) => {
      this.readsAsked.set(contextKey(ctx), { deadline: this.deadline(), index: 0, resolve, reject });
    });
  }

  /** Resolves once every entry committed before the call is applied here. */
  async barrier(): Promise<void> {
    await this.readIndex();
  }

  /** Hands leadership to `to` (or the most up-to-date voter); resolves with the new leader. */
  transferLeadership(to?: ReplicaId): Promise<ReplicaId> {
    if (this.stopped) return Promise.reject(new RaftStoppedError());
    if (this.diskFull) return Promise.reject(this.diskFullError());
    try {
      this.core.transferLeadership(to);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    this.schedule();
    return new Promise((resolve, reject) =>
      this.transfers.push({ deadline: this.deadline(), resolve, reject }),
    );
  }

  /** Feeds a message from the transport. Malformed messages are dropped and reported. */
  receive(m: Message): void {
    // A node whose disk is full is as good as paused: it must answer nothing it could not persist.
    if (this.stopped || this.diskFull) return;
    const why = validateMessage(m);
    if (why !== null || m.to !== this.id) {
      const reason = why ?? `message for ${String(m.to)} delivered to ${this.id}`;
      for (const o of this.observers) o.badMessage?.(reason);
      return;
    }
    try {
      this.core.step(m);
    } catch (e) {
      this.fail(e as Error);
      return;
    }
    this.schedule();
  }

  /**
   * For the transport: `peer` could not be reached (a broken stream, a full
   * queue). The leader stops pipelining to it and probes again.
   */
  reportUnreachable(peer: ReplicaId, reason = "reported by the transport"): void {
    if (this.stopped || this.diskFull) return;
    this.core.reportUnreachable(peer);
    for (const o of this.observers) o.peerUnreachable?.(peer, reason);
    this.schedule();
  }

  /** Stops ticking and processing; pending requests reject. Stores and transport stay open (the caller owns them). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== null) this.clock.clearInterval(this.timer);
    this.timer = null;
    this.rejectAll(() => new RaftStoppedError());
    this.diskProbe?.resolve();
    this.diskProbe = null;
  }

  // ---------------------------------------------------------------- the loop

  private deadline(): number {
    return this.ticks + this.core.cfg.electionTick * this.config.requestTimeoutElections;
  }

  private tick(): void {
    if (this.stopped) return;
    this.ticks++;
    if (this.diskFull) {
      // Frozen: no election timeout runs out, no heartbeat goes out; only the probe.
      if (this.diskProbe !== null && this.ticks >= this.diskProbe.atTick) {
        const probe = this.diskProbe;
        this.diskProbe = null;
        probe.resolve();
      }
      return;
    }
    this.core.tick();
    this.expireRequests();
    this.checkCatchUps();
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (!this.stopped && this.core.hasReady()) {
        await this.handleReady(this.core.ready());
      }
    } catch (e) {
      this.fail(e as Error);
    } finally {
      this.busy = false;
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.softState !== null) this.onSoftState();
    if (rd.hardState !== null && rd.hardState.term !== this.lastTerm) {
      this.lastTerm = rd.hardState.term;
      for (const o of this.observers) o.termChange?.(this.lastTerm);
    }
    for (const peer of rd.unreachable)
      for (const o of this.observers) o.peerUnreachable?.(peer, "no answer for an election timeout");
    for (const reason of rd.dropped) for (const o of this.observers) o.badMessage?.(reason);
    this.sendAll(rd.messages);

    if (rd.snapshot !== null) {
      const s = rd.snapshot;
      await this.durably(() => this.opts.snapshotStore.save(s));
      if (this.stopped) return;
      this.opts.stateMachine.restore(s.data);
      this.snapshotIndex = s.meta.index;
      const store = this.opts.logStore;
      await this.durably(() =>
        store.resetTo !== undefined
          ? store.resetTo(s.meta.index, s.meta.term)
          : store.compact(s.meta.index, s.meta.term),
      );
      if (this.stopped) return;
    }
    // Committed entries that were already on disk before this Ready need not
    // wait for its write: applying them first answers their proposers while
    // the next batch syncs. Those at or after the first new entry wait for it,
    // and so does a membership change and all after it, whose callers expect the
    // new membership in force (advance) once they are answered.
    const firstNew = rd.entries.length > 0 ? rd.entries[0]!.index : Infinity;
    let split = 0;
    for (const e of rd.committedEntries) {
      if (e.index >= firstNew || e.type === EntryType.Config) break;
      split++;
    }
    if (split > 0)
      this.apply(
        split === rd.committedEntries.length ? rd.committedEntries : rd.committedEntries.slice(0, split),
      );
    if (rd.hardState !== null || rd.entries.length > 0) {
      const update: { hardState?: HardState; entries?: Entry[] } = {};
      if (rd.hardState !== null) update.hardState = rd.hardState;
      if (rd.entries.length > 0) update.entries = rd.entries;
      await this.durably(() => this.opts.logStore.persist(update));
      if (this.stopped) return;
    }
    this.sendAll(rd.messagesAfterPersist);
    if (split < rd.committedEntries.length)
      this.apply(split === 0 ? rd.committedEntries : rd.committedEntries.slice(split));
    for (const rs of rd.readStates) {
      const key = contextKey(rs.context);
      const r = this.readsAsked.get(key);
      if (r === undefined) continue;
      this.readsAsked.delete(key);
      r.index = rs.index;
      this.readsWaiting.push(r);
    }
    this.core.advance(rd);
    this.releaseReads();
    this.maybeSnapshot(rd.snapshotWanted);
  }

  private apply(entries: Entry[]): void {
    const sm = this.opts.stateMachine;
    for (const e of entries) {
      let result: Uint8Array = EMPTY_BYTES;
      if (e.type === EntryType.Normal) result = sm.apply(e);
      const p = this.proposals.get(e.index);
      if (p === undefined) continue;
      this.proposals.delete(e.index);
      if (p.term === e.term) p.resolve({ index: e.index, term: e.term, result });
      else p.reject(new LeadershipLostError(e.index));
    }
  }

  private onSoftState(): void {
    const leader = this.core.lead;
    if (this.core.role !== Role.Leader) {
      // Whatever we proposed may or may not commit: tell the callers now.
      if (this.proposals.size > 0) {
        for (const [index, p] of this.proposals) p.reject(new LeadershipLostError(index));
        this.proposals.clear();
      }
    }
    if (leader !== this.lastLeader) {
      this.lastLeader = leader;
      for (const o of this.observers) o.leaderChange?.(leader, this.core.term);
      if (leader !== null && leader !== this.id) {
        const ts = this.transfers;
        this.transfers = [];
        for (const t of ts) t.resolve(leader);
      }
    }
  }

  private releaseReads(): void {
    if (this.readsWaiting.length === 0) return;
    const applied = this.core.log.applied;
    const still: PendingRead[] = [];
    for (const r of this.readsWaiting) {
      if (r.index <= applied) r.resolve(r.index);
      else still.push(r);
    }
    this.readsWaiting = still;
  }

  private expireRequests(): void {
    const now = this.ticks;
    for (const [key, r] of this.readsAsked) {
      if (r.deadline <= now) {
        this.readsAsked.delete(key);
        r.reject(new NotLeaderError(this.core.lead));
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

  private sendAll(msgs: Message[]): void {
    if (msgs.length === 0) return;
    let plain = msgs;
    if (msgs.some((m) => m.type === MessageType.Snapshot)) {
      plain = [];
      for (const m of msgs) {
        if (m.type === MessageType.Snapshot) this.sendSnapshot(m);
        else plain.push(m);
      }
    }
    if (plain.length > 0) this.opts.transport.send(plain);
  }

  private sendSnapshot(m: Message): void {
    this.opts.transport.sendSnapshot(m).then(
      () => {
        if (this.stopped) return;
        this.core.reportSnapshot(m.to, true);
        this.schedule();
      },
      (e: unknown) => {
        if (this.stopped) return;
        this.core.reportSnapshot(m.to, false);
        for (const o of this.observers) o.peerUnreachable?.(m.to, `snapshot failed: ${String(e)}`);
        this.schedule();
      },
    );
  }

  /**
   * Takes a snapshot in the background when enough entries were applied since
   * the last one, or when the core needs one for a follower (`wanted`).
   */
  private maybeSnapshot(wanted = false): void {
    const threshold = this.config.snapshotThreshold;
    const applied = this.core.log.applied;
    if (this.snapshotting || applied <= this.snapshotIndex) return;
    if (!wanted && (threshold === 0 || applied - this.snapshotIndex < threshold)) return;
    if (this.ticks < this.snapshotNotBefore) return;
    const term = this.core.log.term(applied);
    if (term === undefined) return;
    const snapshot: Snapshot = {
      meta: { index: applied, term, membership: cloneMembership(this.core.membership) },
      data: this.opts.stateMachine.snapshot(),
    };
    this.snapshotting = true;
    void this.saveSnapshot(snapshot);
  }

  private async saveSnapshot(snapshot: Snapshot): Promise<void> {
    try {
      await this.opts.snapshotStore.save(snapshot);
      if (this.stopped) return;
      // Never past the previous snapshot (the snapshot store keeps it): if the new file is
      // later found torn, the replica falls back to the previous one and needs the log after it.
      const previous = this.snapshotIndex;
      const compactTo = Math.max(0, Math.min(snapshot.meta.index - this.config.trailingEntries, previous));
      const compactTerm = this.core.log.term(compactTo);
      this.core.compact(snapshot, compactTo);
      this.snapshotIndex = Math.max(this.snapshotIndex, snapshot.meta.index);
      if (compactTerm !== undefined && compactTo > 0)
        await this.opts.logStore.compact(compactTo, compactTerm);
    } catch (e) {
      if (!isNoSpaceError(e)) {
        this.fail(e as Error);
        return;
      }
      // The log keeps growing until there is room for a snapshot; try again after a probe interval.
      this.snapshotNotBefore = this.ticks + this.probeTicks();
      for (const o of this.observers) o.snapshotFailed?.(e as Error);
    } finally {
      this.snapshotting = false;
    }
  }

  // ---------------------------------------------------------------- a full disk

  /**
   * Runs a write the node must not go on without. If it fails for lack of
   * space, the node freezes (see enterDiskFull) and repeats the write at every
   * probe, reopening the log store first, until it succeeds or the node stops.
   * Writes are idempotent, so a repeat after a half-finished one is harmless.
   */
  private async durably(write: () => Promise<void>): Promise<void> {
    for (;;) {
      try {
        await write();
        if (this.diskFull !== null) this.leaveDiskFull();
        return;
      } catch (e) {
        if (!isNoSpaceError(e) || this.stopped) throw e;
        if (this.diskFull === null) this.enterDiskFull(e as Error);
      }
      await new Promise<void>((resolve) => {
        this.diskProbe = { atTick: this.ticks + this.probeTicks(), resolve };
      });
      if (this.stopped) return;
      try {
        await this.opts.logStore.reopen?.();
      } catch (e) {
        if (!isNoSpaceError(e)) throw e;
      }
    }
  }

  private probeTicks(): number {
    return Math.max(1, Math.ceil(DISK_PROBE_MS / this.config.heartbeatIntervalMs));
  }

  /**
   * Stops acknowledging, voting and applying: incoming messages are dropped and
   * the core no longer ticks, so the node looks paused to its peers. A leader
   * first asks the most up-to-date voter to campaign at once (TimeoutNow), so
   * the cluster does not wait an election timeout. Its own unsynced entries do
   * not matter: the others count it only for what it persisted.
   */
  private enterDiskFull(e: Error): void {
    this.diskFull = { since: this.clock.now(), error: e.message };
    let successor: ReplicaId | null = null;
    if (this.core.role === Role.Leader) {
      let best = -1;
      for (const id of this.core.membership.voters) {
        const pr = this.core.progress.get(id);
        if (id === this.id || pr === undefined || pr.match <= best) continue;
        best = pr.match;
        successor = id;
      }
      if (successor !== null)
        this.opts.transport.send([
          makeMessage(MessageType.TimeoutNow, this.id, successor, { term: this.core.term }),
        ]);
    }
    for (const [index, p] of this.proposals) p.reject(new LeadershipLostError(index));
    this.proposals.clear();
    this.rejectAll(() => this.diskFullError());
    for (const o of this.observers) o.diskFull?.(e, successor);
  }

  private leaveDiskFull(): void {
    const since = this.diskFull?.since ?? this.clock.now();
    this.diskFull = null;
    for (const o of this.observers) o.diskSpaceBack?.(this.clock.now() - since);
  }

  private diskFullError(): Error {
    return new ProposalDroppedError(
      `the disk of ${this.id} is full (alarm NOSPACE); it acknowledges nothing until space is freed`,
    );
  }

  private rejectAll(err: () => Error): void {
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

  private fail(e: Error): void {
    if (this.stopped) return;
    this.stop();
    for (const o of this.observers) o.fatal?.(e);
  }
}

/**
 * This disk's identity: read from the log store, or made and written (synced)
 * when the store has none, i.e. when it is new or was rebuilt. "" for a store
 * that keeps none. Random from `random` when given (the simulator's runs are
 * reproducible), else from the system's generator.
 */
async function loadStorageIdentity(store: LogStore, random: RandomSource | undefined): Promise<string> {
  if (store.readIdentity === undefined || store.writeIdentity === undefined) return "";
  const known = await store.readIdentity();
  if (known !== null && known !== "") return known;
  let id: string;
  if (random !== undefined) {
    id = "";
    for (let i = 0; i < 4; i++) id += random.nextInt(0x10000).toString(16).padStart(4, "0");
  } else id = randomUUID();
  await store.writeIdentity(id);
  return id;
}

/**
 * The log was compacted to `compactedIndex`; the state up to there must come
 * from a snapshot. If no snapshot that verifies reaches it (the newer ones are
 * torn or gone), the replica cannot rebuild its state: corrupt storage.
 */
function checkSnapshotCoversCompaction(
  store: SnapshotStore,
  snapshot: Snapshot | null,
  compactedIndex: number,
): void {
  const covered = snapshot?.meta.index ?? 0;
  if (compactedIndex <= covered) return;
  const where = (store as { directory?: string }).directory ?? "the snapshot store";
  throw new StorageCorruptionError(
    where,
    null,
    `the log is compacted to index ${compactedIndex} but the newest snapshot that verifies ` +
      (snapshot === null ? "does not exist" : `covers only index ${covered}`) +
      "; refusing to start (see docs/operations.md: move the data directory aside and start with --join)",
  );
}

function hashId(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
