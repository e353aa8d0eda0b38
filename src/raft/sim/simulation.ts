// A deterministic cluster in one process: RaftNode drivers on simulated time,
// an in-memory disk per replica that loses unsynced writes on a crash, and a
// faulty network. Every event is followed by the safety checks of checker.ts.
// Scenario tests script it; random-run.ts drives it from a seed.
import { SeededRandom } from "../core/random.js";
import type { MembershipChange } from "../core/membership.js";
import { Role } from "../core/ready.js";
import type { Clock } from "../driver/interfaces.js";
import type { RaftNodeConfig } from "../driver/node-config.js";
import { RaftNode } from "../driver/raft-node.js";
import { MemoryLogStore } from "../memory/memory-log-store.js";
import { MemorySnapshotStore } from "../memory/memory-snapshot-store.js";
import type { Message } from "../core/messages.js";
import { makeMessage, MessageType } from "../core/messages.js";
import { StorageCorruptionError } from "../storage.js";
import { EntryType } from "../types.js";
import type { Membership, ReplicaId } from "../types.js";
import { SafetyChecker } from "./checker.js";
import { EventQueue } from "./event-queue.js";
import type { NetworkFaults } from "./sim-network.js";
import { SimNetwork } from "./sim-network.js";
import { SimMachine, resultIndex } from "./sim-machine.js";

export interface SimOptions {
  seed: number;
  /** The founding voters. */
  voters: ReplicaId[];
  /** Replicas that run but are not members yet (to be added later). */
  spares?: ReplicaId[];
  config?: Partial<RaftNodeConfig>;
  /** Each replica's clock runs at 1 ± up to this fraction. */
  maxClockDrift?: number;
  /** Disk sync latency range. */
  diskDelayMs?: [number, number];
  /** Bytes added to each state-machine snapshot (to make snapshots span chunks). */
  snapshotPadding?: number;
  /** Lines of trace kept for a failure report. */
  traceLines?: number;
  /** A run that processes more events than this is reported (a message storm). */
  maxEvents?: number;
  /** A run that takes longer than this in real time is stopped and reported (a runaway seed). */
  maxWallMs?: number;
  /** Probability that a replica crashes right after a message is delivered to it, before it answers. */
  crashOnDelivery?: number;
}

/** How often each kind of fault hit in a run (the test suite checks that every kind is exercised). */
export interface FaultCounts {
  crashes: number;
  /** Writes lost because a crash came before their sync. */
  unsyncedWritesLost: number;
  /** Crashes right after a delivery, before the answer (votes and appends in flight included). */
  crashesOnDelivery: number;
  wipes: number;
  corruptions: number;
  /** Starts refused by a corrupt store (the replica stays down until wiped). */
  refusedStarts: number;
  impossibleProgress: number;
  forcedChanges: number;
  /** A voter cut off from a settled cluster and back (checked: the leader keeps its office). */
  partitionReturns: number;
}

export class SimReplica {
  node: RaftNode | null = null;
  machine: SimMachine;
  incarnation = 0;
  alive = false;
  readonly logStore: MemoryLogStore;
  readonly snapshotStore: MemorySnapshotStore;
  receiver: ((m: Message) => void) | null = null;

  constructor(
    readonly id: ReplicaId,
    readonly drift: number,
    sim: Simulation,
    disk: () => number,
  ) {
    const scheduler = (done: () => void) => sim.schedule(sim.now + disk(), done);
    this.logStore = new MemoryLogStore(scheduler);
    this.snapshotStore = new MemorySnapshotStore(scheduler);
    this.logStore.onDurable = (written, store) =>
      sim.checker.observeDurable(id, written, (i) => store.termAt(i));
    this.machine = sim.newMachine(id);
  }
}

export interface Proposal {
  data: Uint8Array;
  node: ReplicaId;
  status: "pending" | "acked" | "failed";
  index: number;
  error?: string;
}

const enc = new TextEncoder();

export class Simulation {
  now = 0;
  readonly rng: SeededRandom;
  readonly checker = new SafetyChecker();
  readonly network: SimNetwork;
  readonly replicas = new Map<ReplicaId, SimReplica>();
  readonly proposals: Proposal[] = [];
  private readonly queue = new EventQueue();
  private readonly traceBuf: string[] = [];
  private traceAt = 0;
  private readonly traceLines: number;
  private readonly opts: SimOptions;
  private readonly founders: Membership;
  private fatalErrors: string[] = [];
  private readonly isolated = new Set<ReplicaId>();
  events = 0;
  readonly faults: FaultCounts = {
    crashes: 0,
    unsyncedWritesLost: 0,
    crashesOnDelivery: 0,
    wipes: 0,
    corruptions: 0,
    refusedStarts: 0,
    impossibleProgress: 0,
    forcedChanges: 0,
    partitionReturns: 0,
  };
  /** Replicas whose store was corrupted: they refuse to start until wiped. */
  readonly corrupted = new Set<ReplicaId>();
  /** Replicas restarted after a wipe whose new disk is not yet registered by the cluster. */
  readonly recovering = new Set<ReplicaId>();
  private readonly startedAt = Date.now();
  /** Probability of a crash right after each delivery (set to 0 to stop it, e.g. when healing). */
  crashOnDelivery: number;

  constructor(opts: SimOptions) {
    this.opts = opts;
    this.rng = new SeededRandom(opts.seed);
    this.traceLines = opts.traceLines ?? 60;
    this.crashOnDelivery = opts.crashOnDelivery ?? 0;
    this.founders = { voters: [...opts.voters], learners: [] };
    this.network = new SimNetwork(
      {
        now: () => this.now,
        schedule: (at, fn) => this.schedule(at, fn),
        receiver: (id) => {
          const r = this.replicas.get(id);
          return r !== undefined && r.alive ? r.receiver : null;
        },
        trace: (line) => this.trace(line),
        incarnation: (id) => this.replicas.get(id)?.incarnation ?? 0,
        delivered: (m) => {
          const p = this.crashOnDelivery;
          if (p > 0 && this.rng.chance(p)) {
            // Before the driver has persisted or answered: the answer is lost with its write.
            this.faults.crashesOnDelivery++;
            this.crash(m.to);
          }
        },
      },
      this.rng,
    );
    const drift = opts.maxClockDrift ?? 0;
    const [dlo, dhi] = opts.diskDelayMs ?? [0.2, 2];
    for (const id of [...opts.voters, ...(opts.spares ?? [])]) {
      const d = drift === 0 ? 0 : (this.rng.next() * 2 - 1) * drift;
      this.replicas.set(id, new SimReplica(id, d, this, () => dlo + this.rng.next() * (dhi - dlo)));
    }
  }

  newMachine(id: ReplicaId): SimMachine {
    return new SimMachine(id, this.checker, this.opts.snapshotPadding ?? 0);
  }

  schedule(at: number, fn: () => void): void {
    this.queue.push(at, fn);
  }

  trace(line: () => string): void {
    if (this.traceLines === 0) return;
    const s = `${this.now.toFixed(1)}ms ${line()}`;
    if (this.traceBuf.length < this.traceLines) this.traceBuf.push(s);
    else {
      this.traceBuf[this.traceAt] = s;
      this.traceAt = (this.traceAt + 1) % this.traceLines;
    }
  }

  lastEvents(): string[] {
    return [...this.traceBuf.slice(this.traceAt), ...this.traceBuf.slice(0, this.traceAt)];
  }

  get ids(): ReplicaId[] {
    return [...this.replicas.keys()];
  }

  replica(id: ReplicaId): SimReplica {
    const r = this.replicas.get(id);
    if (r === undefined) throw new Error(`no replica ${id}`);
    return r;
  }

  node(id: ReplicaId): RaftNode {
    const n = this.replica(id).node;
    if (n === null) throw new Error(`${id} is not running`);
    return n;
  }

  // ------------------------------------------------------------ lifecycle

  /** Starts every replica (founders with the bootstrap membership). */
  async start(): Promise<void> {
    for (const r of this.replicas.values()) this.boot(r);
    await this.drain();
  }

  private boot(r: SimReplica, join = false): void {
    r.incarnation++;
    r.alive = true;
    r.receiver = null;
    const incarnation = r.incarnation;
    const period = (this.opts.config?.heartbeatIntervalMs ?? 50) * (1 + r.drift);
    const clock: Clock = {
      now: () => this.now,
      setInterval: (fn) => {
        const handle = { cancelled: false };
        const loop = () => {
          if (handle.cancelled) return;
          fn();
          this.schedule(this.now + period, loop);
        };
        // Replicas start at different phases of their tick.
        this.schedule(this.now + this.rng.next() * period, loop);
        return handle;
      },
      clearInterval: (h) => {
        (h as { cancelled: boolean }).cancelled = true;
      },
    };
    // A founder with an empty disk writes the founding membership again (a plain
    // start); with `join` it waits for the leader, as `--join` does.
    const founder = this.founders.voters.includes(r.id) && !join;
    void RaftNode.start({
      id: r.id,
      logStore: r.logStore,
      snapshotStore: r.snapshotStore,
      stateMachine: r.machine,
      transport: this.network.transport(r.id, (recv) => {
        if (r.incarnation === incarnation) r.receiver = recv;
      }),
      clock,
      random: new SeededRandom(this.rng.nextInt(0x7fffffff) + 1),
      bootstrap: founder ? this.founders : undefined,
      config: { heartbeatIntervalMs: 50, electionTimeoutMs: 500, ...this.opts.config },
      observer: {
        fatal: (e) => {
          this.fatalErrors.push(`${r.id}: ${e.message}`);
          this.checker.violations.push({ property: "node failure", detail: `${r.id}: ${e.message}` });
        },
      },
    }).then(
      (node) => {
        if (r.incarnation !== incarnation || !r.alive) {
          node.stop();
          return;
        }
        r.node = node;
        this.trace(() => `${r.id} started (incarnation ${incarnation})`);
      },
      (e: unknown) => {
        if (e instanceof StorageCorruptionError && this.corrupted.has(r.id)) {
          // What the LevelDB store does: refuse to start. It stays down until an operator wipes it.
          this.faults.refusedStarts++;
          this.trace(() => `${r.id} refused to start: ${e.message}`);
          if (r.incarnation === incarnation) {
            r.alive = false;
            r.incarnation++;
          }
          return;
        }
        this.checker.violations.push({
          property: "node failure",
          detail: `${r.id} failed to start: ${String(e)}`,
        });
      },
    );
  }

  /** Kills a replica: its process state and every unsynced write are lost. */
  crash(id: ReplicaId): void {
    const r = this.replica(id);
    if (!r.alive) return;
    this.trace(() => `CRASH ${id}`);
    r.alive = false;
    r.node?.stop();
    r.node = null;
    r.receiver = null;
    this.faults.crashes++;
    this.faults.unsyncedWritesLost += r.logStore.crash();
    r.snapshotStore.crash();
    r.incarnation++;
  }

  /**
   * The disk of `id` is lost (or its data directory rebuilt): it crashes and
   * restarts empty, with a new storage identity, by a plain start or `--join`.
   */
  wipe(id: ReplicaId, join: boolean): void {
    const r = this.replica(id);
    this.crash(id);
    this.trace(() => `WIPE ${id} (restarts with ${join ? "--join" : "a plain start"})`);
    this.faults.wipes++;
    r.logStore.wipe();
    r.snapshotStore.wipe();
    this.corrupted.delete(id);
    this.recovering.add(id);
    r.machine = this.newMachine(id);
    this.checker.forgetNode(id);
    this.boot(r, join);
  }

  /** A record of `id`'s log goes bad while it is down: its store refuses to load. */
  corrupt(id: ReplicaId): void {
    const r = this.replica(id);
    this.crash(id);
    this.trace(() => `CORRUPT ${id}'s log`);
    this.faults.corruptions++;
    r.logStore.corrupt("a record failed its checksum (simulated)");
    this.corrupted.add(id);
  }

  /**
   * Whether losing one more disk keeps every acknowledged entry: every voter
   * (outgoing ones too) is registered, in the committed membership, with the
   * disk it has now, and no replica is still recovering from a lost disk. And
   * whether the cluster can then recover by itself: re-registering a disk is
   * a change that a majority of the other voters must commit, so each voter
   * set needs at least three (two voters do not survive one lost disk).
   */
  diskLossIsSurvivable(): boolean {
    this.refreshRecovering();
    if (this.recovering.size > 0 || this.corrupted.size > 0) return false;
    const m = this.membership();
    if (m.voters.length < 3 || (m.outgoing !== undefined && m.outgoing.length < 3)) return false;
    if (this.membershipChangeInFlight()) return false;
    const voters = [...new Set([...m.voters, ...(m.outgoing ?? [])])];
    // Every voter must know every registration (have applied it): one that does
    // not cannot tell a founder restarted empty without --join from a new one.
    for (const id of voters) {
      const r = this.replicas.get(id);
      const known = r?.alive === true ? r.node?.status().membership.storage : undefined;
      if (r === undefined || known === undefined) return false;
      for (const v of voters) {
        const disk = this.replicas.get(v)?.logStore.durableIdentity;
        if (disk === null || disk === undefined || known[v] !== disk) return false;
      }
    }
    return true;
  }

  /**
   * Whether some replica holds a membership change not yet applied anywhere: it
   * may still commit (a removal leaving two voters, say) after a disk is lost.
   */
  private membershipChangeInFlight(): boolean {
    let applied = this.checker.maxAppliedIndex;
    for (const r of this.live()) applied = Math.max(applied, (r.node as RaftNode).status().appliedIndex);
    for (const r of this.replicas.values()) {
      const log = r.alive && r.node !== null ? r.node.core.log.allEntries() : r.logStore.durableEntries();
      for (let i = log.length - 1; i >= 0; i--) {
        const e = log[i] as (typeof log)[number];
        if (e.index <= applied) break;
        if (e.type === EntryType.Config) return true;
      }
    }
    return false;
  }

  private refreshRecovering(): void {
    const m = this.membership();
    for (const id of [...this.recovering]) {
      const r = this.replica(id);
      const isMember = m.voters.includes(id) || m.learners.includes(id) || (m.outgoing ?? []).includes(id);
      if (
        !isMember ||
        (r.logStore.durableIdentity !== null && m.storage?.[id] === r.logStore.durableIdentity)
      )
        this.recovering.delete(id);
    }
  }

  /**
   * A member tells the leader it holds (or rejects) an index beyond the
   * leader's log: a bug or a lie that must not stop the leader.
   */
  forgeImpossibleProgress(reject: boolean): void {
    const leader = this.leader();
    if (leader === null) return;
    const core = this.node(leader).core;
    const others = [...core.progress.keys()].filter((id) => id !== leader);
    if (others.length === 0) return;
    const from = this.rng.pick(others);
    const index = core.log.lastIndex() + 1 + this.rng.nextInt(1000);
    const storage = this.replicas.get(from)?.logStore.durableIdentity ?? "";
    this.trace(() => `FORGE ${reject ? "rejection" : "ack"} ${from}->${leader} at ${index}`);
    this.faults.impossibleProgress++;
    this.node(leader).receive(
      makeMessage(MessageType.AppendResponse, from, leader, {
        term: core.term,
        index,
        reject,
        rejectHint: reject ? index - 1 : 0,
        storage,
      }),
    );
  }

  /** Restarts a crashed replica from what its disk kept. */
  restart(id: ReplicaId): void {
    const r = this.replica(id);
    if (r.alive) return;
    this.trace(() => `RESTART ${id}`);
    r.machine = this.newMachine(id);
    this.checker.forgetNode(id);
    this.boot(r);
  }

  // ------------------------------------------------------------ network

  setFaults(f: Partial<NetworkFaults>): void {
    this.network.faults = { ...this.network.faults, ...f };
    this.trace(() => `faults ${JSON.stringify(this.network.faults)}`);
  }

  partition(groups: ReplicaId[][]): void {
    this.trace(() => `PARTITION ${groups.map((g) => g.join("+")).join(" | ")}`);
    this.network.partition(groups);
    this.isolated.clear();
  }

  /** Cuts one replica off in both directions. */
  isolate(id: ReplicaId): void {
    this.trace(() => `ISOLATE ${id}`);
    this.isolated.add(id);
    for (const o of this.ids) {
      if (o === id) continue;
      this.network.block(id, o);
      this.network.block(o, id);
    }
  }

  /** Reconnects one replica to everyone. */
  connect(id: ReplicaId): void {
    this.trace(() => `CONNECT ${id}`);
    this.isolated.delete(id);
    for (const o of this.ids) {
      this.network.unblock(id, o);
      this.network.unblock(o, id);
    }
  }

  /** Alive and not cut off with isolate(). */
  isConnected(id: ReplicaId): boolean {
    const r = this.replicas.get(id);
    return r !== undefined && r.alive && r.node !== null && !this.isolated.has(id);
  }

  heal(): void {
    this.trace(() => "HEAL");
    this.isolated.clear();
    this.network.heal();
  }

  // ------------------------------------------------------------ clients

  /** Proposes through `id`; the returned record fills in as the outcome is known. */
  /**
   * Proposes `payload` through whoever leads, again after each failure, until
   * one proposal is acknowledged: it, or null when none was within `timeoutMs`.
   */
  async commitOneMore(payload: string, timeoutMs = 30_000): Promise<Proposal | null> {
    let last: Proposal | null = null;
    const ok = await this.runUntil(() => {
      if (last?.status === "acked") return true;
      const l = this.leader();
      if ((last === null || last.status === "failed") && l !== null) last = this.propose(l, payload);
      return false;
    }, timeoutMs);
    return ok ? last : null;
  }

  propose(id: ReplicaId, payload?: string): Proposal {
    const data = enc.encode(payload ?? `p${this.proposals.length}`);
    const p: Proposal = { data, node: id, status: "pending", index: 0 };
    this.proposals.push(p);
    const r = this.replica(id);
    if (!r.alive || r.node === null) {
      p.status = "failed";
      p.error = "down";
      return p;
    }
    r.node.propose(data).then(
      (res) => {
        p.status = "acked";
        p.index = res.index;
        this.checker.checkAcknowledged(res.index, data, res.term);
        this.checker.checkAnswer(res.index, resultIndex(res.result));
        this.trace(() => `ack ${payload ?? ""} at ${p.index} by ${id}`);
      },
      (e: unknown) => {
        p.status = "failed";
        p.error = e instanceof Error ? e.name : String(e);
      },
    );
    return p;
  }

  /**
   * Proposes a small write to the leader every `ms` until the returned
   * function is called: a leader can commit earlier entries only through one
   * of its own term, so convergence checks keep a trickle of writes going.
   */
  nudgeEvery(ms: number): () => void {
    let on = true;
    const loop = () => {
      if (!on) return;
      const l = this.leader();
      if (l !== null) this.propose(l, "nudge");
      this.schedule(this.now + ms, loop);
    };
    this.schedule(this.now + ms, loop);
    return () => {
      on = false;
    };
  }

  /** Asks the current leader for a membership change; resolves to an error message or null. */
  async changeMembership(changes: MembershipChange[], force = false): Promise<string | null> {
    const leader = this.leader();
    if (leader === null) return "no leader";
    this.trace(() => `MEMBERSHIP ${JSON.stringify(changes)} via ${leader}${force ? " (forced)" : ""}`);
    if (force) this.faults.forcedChanges++;
    try {
      await this.node(leader).changeMembership(changes, { force });
      return null;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }

  // ------------------------------------------------------------ observation

  /** The live leader with the highest term, if any. */
  leader(): ReplicaId | null {
    let best: ReplicaId | null = null;
    let bestTerm = -1;
    for (const r of this.replicas.values()) {
      const n = r.node;
      if (r.alive && n !== null && n.core.role === Role.Leader && n.core.term > bestTerm) {
        best = r.id;
        bestTerm = n.core.term;
      }
    }
    return best;
  }

  leaders(): ReplicaId[] {
    return [...this.replicas.values()].filter((r) => r.alive && r.node?.isLeader === true).map((r) => r.id);
  }

  live(): SimReplica[] {
    return [...this.replicas.values()].filter((r) => r.alive && r.node !== null);
  }

  /** The membership as the current (or any live) replica with the highest applied index sees it. */
  membership(): Membership {
    let best: Membership = this.founders;
    let applied = -1;
    for (const r of this.live()) {
      const s = (r.node as RaftNode).status();
      if (s.appliedIndex > applied) {
        applied = s.appliedIndex;
        best = s.membership;
      }
    }
    return best;
  }

  get violations() {
    return this.checker.violations;
  }

  // ------------------------------------------------------------ running

  private async drain(): Promise<void> {
    // Every microtask (the drivers' promise chains) runs before the next macrotask.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  private checkAfterEvent(): void {
    for (const r of this.replicas.values()) {
      const n = r.node;
      if (!r.alive || n === null || n.core.role !== Role.Leader) continue;
      const core = n.core;
      if (this.checker.observeLeader(r.id, core.term)) {
        this.trace(() => `${r.id} leads term ${core.term}`);
        this.checker.checkLeaderCompleteness(
          r.id,
          core.term,
          core.log.firstIndex(),
          core.log.lastIndex(),
          (i) => core.log.term(i),
        );
      }
    }
  }

  /** Runs events until `until` holds or simulated time passes `deadline`; true if `until` held. */
  async runUntil(until: () => boolean, maxMs: number): Promise<boolean> {
    const deadline = this.now + maxMs;
    for (;;) {
      if (until()) return true;
      if (this.violations.length > 0) return false;
      if (this.events > (this.opts.maxEvents ?? 3_000_000)) {
        this.checker.liveness(`message storm: more than ${this.opts.maxEvents ?? 3_000_000} events`);
        return false;
      }
      if ((this.events & 1023) === 0 && Date.now() - this.startedAt > (this.opts.maxWallMs ?? 60_000)) {
        this.checker.liveness(
          `runaway: still running after ${this.opts.maxWallMs ?? 60_000} ms of real time`,
        );
        return false;
      }
      const t = this.queue.peekTime();
      if (t === undefined || t > deadline) {
        this.now = Math.max(this.now, deadline);
        return until();
      }
      const ev = this.queue.pop();
      if (ev === undefined) return until();
      this.now = ev.time;
      this.events++;
      ev.fn();
      await this.drain();
      this.checkAfterEvent();
    }
  }

  async runFor(ms: number): Promise<void> {
    await this.runUntil(() => false, ms);
  }

  /** Stops every node (the end of a run). */
  stopAll(): void {
    for (const r of this.replicas.values()) r.node?.stop();
  }
}
