// The driver: runs one RaftCore against real (or simulated) stores, state
// machine, transport and clock. This file is its public face and its clock;
// the parts with one job each are beside it: node-start (loading the stores),
// ready-loop (persist, send, apply), waiters (the callers owed an answer),
// snapshot-policy and disk-guard (what a full disk does to the node).
import type { RaftObserver, Clock, TimerHandle, Transport } from "./interfaces.js";
import { systemClock } from "./interfaces.js";
import type { RaftNodeConfig } from "./node-config.js";
import { resolveNodeConfig } from "./node-config.js";
import { ProposalDroppedError, RaftStoppedError } from "../core/errors.js";
import type { MembershipChange } from "../core/membership.js";
import { cloneMembership } from "../core/membership.js";
import type { Message } from "../core/messages.js";
import { MessageType, makeMessage, validateMessage } from "../core/messages.js";
import type { RaftCore } from "../core/raft.js";
import type { RandomSource } from "../core/random.js";
import { Role } from "../core/ready.js";
import type { LogStore, SnapshotStore, StateMachine } from "../storage.js";
import type { Applied, Membership, ReplicaId } from "../types.js";
import type { DiskFullState } from "./disk-guard.js";
import { DiskGuard } from "./disk-guard.js";
import { loadNode } from "./node-start.js";
import { ObserverList } from "./observer-list.js";
import { ReadyLoop } from "./ready-loop.js";
import { SnapshotPolicy } from "./snapshot-policy.js";
import type { LeaderState } from "./waiters.js";
import { Waiters } from "./waiters.js";

export type { DiskFullState } from "./disk-guard.js";

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

export class RaftNode {
  readonly id: ReplicaId;
  readonly config: RaftNodeConfig;
  /** The core, for status, tests and tools. Do not call it directly while the node runs. */
  readonly core: RaftCore;
  private readonly opts: RaftNodeOptions;
  private readonly clock: Clock;
  private readonly observers = new ObserverList();
  private readonly waiters = new Waiters();
  private readonly disk: DiskGuard;
  private readonly snapshots: SnapshotPolicy;
  private readonly loop: ReadyLoop;
  private timer: TimerHandle | null = null;
  private stopped = false;
  private ticks = 0;
  private readCounter = 0;

  private constructor(opts: RaftNodeOptions, core: RaftCore, config: RaftNodeConfig, snapshotIndex: number) {
    this.id = opts.id;
    this.opts = opts;
    this.core = core;
    this.config = config;
    this.clock = opts.clock ?? systemClock;
    if (opts.observer !== undefined) this.observers.add(opts.observer);
    const stopped = () => this.stopped;
    const ticks = () => this.ticks;
    this.disk = new DiskGuard({
      ticks,
      stopped,
      now: () => this.clock.now(),
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      reopen: async () => opts.logStore.reopen?.(),
      frozen: (e) => this.freeze(e),
      thawed: (ms) => this.observers.notify("diskSpaceBack", ms),
    });
    this.snapshots = new SnapshotPolicy(
      {
        core,
        stateMachine: opts.stateMachine,
        snapshotStore: opts.snapshotStore,
        logStore: opts.logStore,
        threshold: config.snapshotThreshold,
        trailingEntries: config.trailingEntries,
        ticks,
        stopped,
        retryTicks: () => this.disk.probeTicks,
        fail: (e) => this.fail(e),
        snapshotFailed: (e) => this.observers.notify("snapshotFailed", e),
      },
      snapshotIndex,
    );
    this.loop = new ReadyLoop({
      id: opts.id,
      core,
      logStore: opts.logStore,
      snapshotStore: opts.snapshotStore,
      stateMachine: opts.stateMachine,
      transport: opts.transport,
      waiters: this.waiters,
      observers: this.observers,
      disk: this.disk,
      snapshots: this.snapshots,
      stopped,
      fail: (e) => this.fail(e),
    });
  }

  /** Loads the stores, restores the state machine and starts ticking. */
  static async start(opts: RaftNodeOptions): Promise<RaftNode> {
    const config = resolveNodeConfig(opts.config);
    const clock = opts.clock ?? systemClock;
    const { core, snapshotIndex } = await loadNode({ ...opts, clock }, config);
    const node = new RaftNode(opts, core, config, snapshotIndex);
    opts.transport.listen((m) => node.receive(m));
    node.timer = clock.setInterval(() => node.tick(), config.heartbeatIntervalMs);
    node.loop.schedule();
    return node;
  }

  // ---------------------------------------------------------------- public API

  observe(o: RaftObserver): () => void {
    return this.observers.add(o);
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
      snapshotIndex: this.snapshots.index,
      membership: cloneMembership(this.core.membership),
      storageId: this.core.cfg.storageId,
      diskFull: this.disk.state,
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
    if (this.disk.isFull) return Promise.reject(this.diskFullError());
    if (!(data instanceof Uint8Array))
      return Promise.reject(new ProposalDroppedError("data must be a Uint8Array"));
    if (data.length > this.config.maxBytesPerMessage)
      return Promise.reject(
        new ProposalDroppedError(
          `${data.length} bytes exceed maxBytesPerMessage (${this.config.maxBytesPerMessage})`,
        ),
      );
    if (this.waiters.pendingProposals >= this.config.maxPendingProposals)
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
    this.loop.schedule();
    return this.waiters.proposal(index, term);
  }

  /**
   * Changes the membership; resolves with the membership once the change is
   * applied here. One change at a time: a second one is refused until the first
   * is applied. Several voter changes at once go through joint consensus (the
   * leader leaves the joint state by itself).
   */
  async changeMembership(changes: MembershipChange[], opts: { force?: boolean } = {}): Promise<Membership> {
    if (this.stopped) throw new RaftStoppedError();
    if (this.disk.isFull) throw this.diskFullError();
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
    this.loop.schedule();
    return this.waiters.appliedIndex(index, this.deadline(), this.core.log.applied);
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
    const deadline = this.ticks + this.core.cfg.electionTick * this.config.requestTimeoutElections * 10;
    await this.waiters.catchUp(id, maxLag, deadline, this.leaderState(), this.ticks);
    return this.addVoter(id);
  }

  /**
   * A linearizable read point: resolves with an index once the state machine
   * here has applied it, so that a read of local state is up to date (ReadIndex).
   */
  readIndex(): Promise<number> {
    if (this.stopped) return Promise.reject(new RaftStoppedError());
    if (this.disk.isFull) return Promise.reject(this.diskFullError());
    const ctx = new Uint8Array(8);
    const n = ++this.readCounter;
    new DataView(ctx.buffer).setFloat64(0, n);
    try {
      this.core.readIndex(ctx);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    this.loop.schedule();
    return this.waiters.readAsked(ctx, this.deadline());
  }

  /** Resolves once every entry committed before the call is applied here. */
  async barrier(): Promise<void> {
    await this.readIndex();
  }

  /** Hands leadership to `to` (or the most up-to-date voter); resolves with the new leader. */
  transferLeadership(to?: ReplicaId): Promise<ReplicaId> {
    if (this.stopped) return Promise.reject(new RaftStoppedError());
    if (this.disk.isFull) return Promise.reject(this.diskFullError());
    try {
      this.core.transferLeadership(to);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    this.loop.schedule();
    return this.waiters.transfer(this.deadline());
  }

  /** Feeds a message from the transport. Malformed messages are dropped and reported. */
  receive(m: Message): void {
    // A node whose disk is full is as good as paused: it must answer nothing it could not persist.
    if (this.stopped || this.disk.isFull) return;
    const why = validateMessage(m);
    if (why !== null || m.to !== this.id) {
      this.observers.notify("badMessage", why ?? `message for ${String(m.to)} delivered to ${this.id}`);
      return;
    }
    try {
      this.core.step(m);
    } catch (e) {
      this.fail(e as Error);
      return;
    }
    this.loop.schedule();
  }

  /**
   * For the transport: `peer` could not be reached (a broken stream, a full
   * queue). The leader stops pipelining to it and probes again.
   */
  reportUnreachable(peer: ReplicaId, reason = "reported by the transport"): void {
    if (this.stopped || this.disk.isFull) return;
    this.core.reportUnreachable(peer);
    this.observers.notify("peerUnreachable", peer, reason);
    this.loop.schedule();
  }

  /** Stops ticking and processing; pending requests reject. Stores and transport stay open (the caller owns them). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== null) this.clock.clearInterval(this.timer);
    this.timer = null;
    this.waiters.rejectAll(() => new RaftStoppedError());
    this.disk.release();
  }

  // ---------------------------------------------------------------- the clock

  private deadline(): number {
    return this.ticks + this.core.cfg.electionTick * this.config.requestTimeoutElections;
  }

  private tick(): void {
    if (this.stopped) return;
    this.ticks++;
    if (this.disk.isFull) {
      // Frozen: no election timeout runs out, no heartbeat goes out; only the probe.
      this.disk.tick();
      return;
    }
    this.core.tick();
    this.waiters.expire(this.ticks, this.core.lead);
    this.waiters.checkCatchUps(this.leaderState(), this.ticks);
    this.loop.schedule();
  }

  private leaderState(): LeaderState {
    const core = this.core;
    return {
      isLeader: this.isLeader,
      leader: core.lead,
      lastIndex: core.log.lastIndex(),
      matchOf: (id) => core.progress.get(id)?.match,
    };
  }

  // ---------------------------------------------------------------- a full disk

  /**
   * Stops acknowledging, voting and applying: incoming messages are dropped and
   * the core no longer ticks, so the node looks paused to its peers. A leader
   * first asks the most up-to-date voter to campaign at once (TimeoutNow), so
   * the cluster does not wait an election timeout. Its own unsynced entries do
   * not matter: the others count it only for what it persisted.
   */
  private freeze(e: Error): void {
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
    this.waiters.leadershipLost();
    this.waiters.rejectAll(() => this.diskFullError());
    this.observers.notify("diskFull", e, successor);
  }

  private diskFullError(): Error {
    return new ProposalDroppedError(
      `the disk of ${this.id} is full (alarm NOSPACE); it acknowledges nothing until space is freed`,
    );
  }

  private fail(e: Error): void {
    if (this.stopped) return;
    this.stop();
    this.observers.notify("fatal", e);
  }
}
