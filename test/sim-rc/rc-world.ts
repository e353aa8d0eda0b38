// The whole coordinator in one deterministic process: 3-5 replicas, each a
// real RaftNode (the Raft simulator's in-memory disks and faulty network, on
// virtual time) applying the real RcStateMachine, with the real leader loop
// (src/rc/leader/leader-loop.ts) whose effects this world carries out; and N
// node services (sim-node.ts) reached over a second simulated network that
// loses, duplicates, delays and partitions too. Invariants are checked as the
// run goes (at every apply, at every command a node obeys) and at the end
// (rc-checks.ts).
import { EventOutcome, RcApplyResult, TopologyDeclared, type Event } from "../../src/gen/halon/v1/events.js";
import {
  DEFAULT_RC_CONFIG,
  encodeEventBatch,
  LeaderLoop,
  RcStateMachine,
  type LeaderLoopConfig,
  type LoopEffect,
  type RcConfig,
} from "../../src/rc/index.js";
import type { DeliveryState } from "../../src/rc/leader/leader-loop.js";
import type { RaftNode } from "../../src/raft/driver/raft-node.js";
import type { ApplyListener } from "../../src/raft/sim/sim-machine.js";
import { SimMachine } from "../../src/raft/sim/sim-machine.js";
import { Simulation } from "../../src/raft/sim/simulation.js";
import type { Entry } from "../../src/raft/types.js";
import { SimNodeService, type DeliveryAnswer } from "./sim-node.js";

/** Bugs planted on purpose, to show that the simulator catches them (tests only). */
export type PlantedBug = "node-ignores-term" | "no-redelivery";

export interface NodeNetFaults {
  loss: number;
  duplicate: number;
  minDelayMs: number;
  maxDelayMs: number;
}

export const RELIABLE_NODE_NET: NodeNetFaults = { loss: 0, duplicate: 0, minDelayMs: 1, maxDelayMs: 5 };

export interface RcWorldOptions {
  seed: number;
  replicas: number;
  nodes: number;
  processesPerNode: number;
  disksPerNode: number;
  /** Check the state hash at every index divisible by this (1: every index). */
  hashEvery?: number;
  traceLines?: number;
  planted?: PlantedBug;
  loop?: Partial<LeaderLoopConfig>;
  rc?: Partial<RcConfig>;
  /** How long a delivery waits for its answer. */
  callTimeoutMs?: number;
  heartbeatMs?: number;
}

export const SIM_LOOP: LeaderLoopConfig = {
  idleTickMs: 2_000,
  nodeSilentMs: 4_000,
  electionGraceMs: 3_000,
  redeliverMs: 1_000,
  maxEventsPerProposal: 100,
  backoffBaseMs: 100,
  backoffMaxMs: 2_000,
  retryMs: 100,
};

/** A leader loop that forgets to deliver again what it delivered once in a term (planted bug). */
class ForgetfulLoop extends LeaderLoop {
  protected override dueAt(st: DeliveryState): number {
    void st;
    return Number.MAX_SAFE_INTEGER;
  }
}

/** The replicated state: the Raft simulator's hash chain (its own checks) and the coordinator. */
export class RcSimMachine extends SimMachine {
  private machine: RcStateMachine | undefined;

  constructor(
    readonly replicaId: string,
    listener: ApplyListener,
    private readonly world: () => RcWorld,
  ) {
    super(replicaId, listener);
  }

  /** Made at first use: the first machines are made while the world is still being built. */
  get rc(): RcStateMachine {
    return (this.machine ??= new RcStateMachine({ config: this.world().rcConfig }));
  }

  override apply(entry: Entry): Uint8Array {
    super.apply(entry);
    const result = this.rc.applyEntry(entry);
    this.world().applied(this, entry, result);
    return RcApplyResult.encode(result).finish();
  }

  override snapshot(): Uint8Array {
    const chain = super.snapshot();
    const rc = this.rc.snapshot();
    const out = new Uint8Array(4 + chain.length + rc.length);
    new DataView(out.buffer).setUint32(0, chain.length);
    out.set(chain, 4);
    out.set(rc, 4 + chain.length);
    return out;
  }

  override restore(data: Uint8Array): void {
    const n = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
    super.restore(data.subarray(4, 4 + n));
    this.rc.restore(data.subarray(4 + n));
  }
}

class RcSimulation extends Simulation {
  world!: RcWorld;

  override newMachine(id: string): SimMachine {
    // Called from the base constructor too: the world is looked up at first use.
    return new RcSimMachine(id, this.checker, () => this.world);
  }
}

/** One replica's running loop: bound to one RaftNode (one incarnation). */
interface Attachment {
  replicaId: string;
  node: RaftNode;
  machine: RcSimMachine;
  loop: LeaderLoop;
  live: boolean;
  wakeToken: number;
}

export interface WorldCounts {
  deliveries: number;
  answered: number;
  refusedStale: number;
  obeyed: number;
  proposalsByLoops: number;
  nodeEventsAcked: number;
  heldByPause: number;
}

export class RcWorld {
  readonly sim: RcSimulation;
  readonly nodes = new Map<string, SimNodeService>();
  readonly hosts = new Map<string, string>();
  readonly topology: Event;
  readonly poolDisks: string[] = [];
  readonly rcConfig: RcConfig;
  readonly loopConfig: LeaderLoopConfig;
  readonly counts: WorldCounts = {
    deliveries: 0,
    answered: 0,
    refusedStale: 0,
    obeyed: 0,
    proposalsByLoops: 0,
    nodeEventsAcked: 0,
    heldByPause: 0,
  };
  nodeFaults: NodeNetFaults = { ...RELIABLE_NODE_NET };
  /** Hosts whose infrastructure cannot respawn their node (it answers RespawnNode with ok=false). */
  readonly hostsDown = new Set<string>();
  private readonly attached = new Map<string, Attachment>();
  private readonly hashes = new Map<number, { hash: string; by: string }>();
  /** Event id -> the index it was applied at (applied, recorded or ignored: taken once). */
  readonly appliedAt = new Map<string, number>();
  /** Event ids acknowledged to the node that sent them. */
  readonly acked = new Set<string>();
  private readonly maxObeyed = new Map<string, number>();
  private readonly blocked = new Set<string>();
  /** Paused replicas: until when, and the sends they checked before the pause. */
  private readonly paused = new Map<string, { until: number; held: (() => void)[] }>();
  private readonly hashEvery: number;
  private lastNow = -1;
  private sameTime = 0;
  readonly callTimeoutMs: number;

  constructor(readonly opts: RcWorldOptions) {
    this.rcConfig = { ...DEFAULT_RC_CONFIG, ...opts.rc };
    this.loopConfig = { ...SIM_LOOP, ...opts.loop };
    this.hashEvery = opts.hashEvery ?? 1;
    this.callTimeoutMs = opts.callTimeoutMs ?? 2_000;
    const voters = Array.from({ length: opts.replicas }, (_, i) => `rc${i + 1}`);
    this.sim = new RcSimulation({
      seed: opts.seed,
      voters,
      traceLines: opts.traceLines ?? 80,
      config: { heartbeatIntervalMs: 100, electionTimeoutMs: 1_000 },
      maxEvents: 5_000_000,
      maxWallMs: 120_000,
    });
    this.sim.world = this;
    const hosts = [];
    for (let i = 0; i < opts.nodes; i++) {
      const nodeId = `node-${i}`;
      const hostId = `host-${i}`;
      const processes = Array.from({ length: opts.processesPerNode }, (_, j) => `proc-${i}-${j}`);
      const disks = Array.from({ length: opts.disksPerNode }, (_, j) => `disk-${i}-${j}`);
      this.poolDisks.push(...disks);
      this.hosts.set(hostId, nodeId);
      this.nodes.set(
        nodeId,
        new SimNodeService(nodeId, hostId, processes, this.nodeHost(), opts.heartbeatMs ?? 1_000),
      );
      hosts.push({
        id: hostId,
        rackId: "rack-0",
        enclosureId: `encl-${i % 2}`,
        address: "",
        infraEndpoint: `infra-${hostId}`,
        nodeId,
        disks: disks.map((id) => ({ id, serial: "" })),
        processes: processes.map((id) => ({ id, command: "sleep", serviceIds: [`svc-${id}`] })),
      });
    }
    const declared = TopologyDeclared.fromPartial({
      clusterName: "sim",
      hosts,
      pools: [{ id: "pool-0", diskIds: this.poolDisks }],
    });
    this.topology = { id: "topology-sim", source: "leader", topologyDeclared: declared };
    if (opts.planted === "node-ignores-term") for (const n of this.nodes.values()) n.ignoreTerm = true;
  }

  get now(): number {
    return this.sim.now;
  }

  get rng() {
    return this.sim.rng;
  }

  trace(line: () => string): void {
    this.sim.trace(line);
  }

  violation(property: string, detail: string): void {
    if (this.sim.violations.length < 20) this.sim.violations.push({ property, detail });
  }

  async start(): Promise<void> {
    await this.sim.start();
    for (const n of this.nodes.values()) n.start();
  }

  /** Runs until `until` holds (checked between events) or `ms` of virtual time pass. */
  runUntil(until: () => boolean, ms: number): Promise<boolean> {
    return this.sim.runUntil(() => {
      // A loop that keeps itself busy without time passing is a livelock: report it at once.
      if (this.sim.now !== this.lastNow) [this.lastNow, this.sameTime] = [this.sim.now, 0];
      else if (++this.sameTime === 100_000)
        this.violation("liveness", `100000 events at ${this.sim.now.toFixed(1)}ms without time passing`);
      this.attach();
      return until();
    }, ms);
  }

  runFor(ms: number): Promise<boolean> {
    return this.runUntil(() => false, ms);
  }

  // ------------------------------------------------------------ replicas and their loops

  /** Binds a loop to every replica that runs a node not yet bound (a start, a restart). */
  private attach(): void {
    for (const r of this.sim.replicas.values()) {
      const att = this.attached.get(r.id);
      const node = r.alive ? r.node : null;
      if (att && att.node === node) continue;
      if (att) att.live = false;
      if (node === null) {
        this.attached.delete(r.id);
        continue;
      }
      const machine = r.machine as RcSimMachine;
      const options = {
        selfId: r.id,
        view: machine.rc,
        clock: { now: () => Math.floor(this.sim.now) },
        config: this.loopConfig,
        topology: () => this.topology,
      };
      const loop =
        this.opts.planted === "no-redelivery" ? new ForgetfulLoop(options) : new LeaderLoop(options);
      const fresh: Attachment = { replicaId: r.id, node, machine, loop, live: true, wakeToken: 0 };
      this.attached.set(r.id, fresh);
      node.observe({ leaderChange: () => this.sync(fresh), termChange: () => this.sync(fresh) });
      this.sync(fresh);
    }
  }

  private sync(att: Attachment): void {
    if (!att.live) return;
    this.run(att, att.loop.leadership({ leader: att.node.isLeader, term: att.node.status().term }));
  }

  /** Called by every replica's machine after each apply. */
  applied(machine: RcSimMachine, entry: Entry, result: RcApplyResult): void {
    if (entry.index % this.hashEvery === 0) {
      const hash = machine.rc.stateHash();
      const known = this.hashes.get(entry.index);
      if (known === undefined) this.hashes.set(entry.index, { hash, by: machine.replicaId });
      else if (known.hash !== hash)
        this.violation(
          "same state hash at each index",
          `index ${entry.index}: ${known.by} has ${known.hash.slice(0, 12)}, ${machine.replicaId} has ${hash.slice(0, 12)}`,
        );
    }
    for (const r of result.events) {
      if (
        r.outcome === EventOutcome.EVENT_OUTCOME_REJECTED ||
        r.outcome === EventOutcome.EVENT_OUTCOME_DUPLICATE
      )
        continue;
      const before = this.appliedAt.get(r.eventId);
      if (before === undefined) this.appliedAt.set(r.eventId, entry.index);
      else if (before !== entry.index)
        this.violation(
          "no event applied twice",
          `event ${r.eventId} taken at index ${before} and again at ${entry.index} (on ${machine.replicaId})`,
        );
    }
    const att = this.attached.get(machine.replicaId);
    if (att?.live && att.machine === machine) {
      // Leader-side: an entry applied here; the check that it is still current runs with the loop.
      const s = att.node.status();
      if (att.node.isLeader !== att.loop.leading || (att.node.isLeader && s.term !== att.loop.term))
        this.sync(att);
      this.run(att, att.loop.applied(result));
    }
  }

  /** Carries out a loop's effects, as the next event (never inside Raft's apply). */
  private run(att: Attachment, effects: LoopEffect[]): void {
    if (effects.length === 0) return;
    this.sim.schedule(this.sim.now, () => {
      if (!att.live) return;
      for (const e of effects) this.execute(att, e);
    });
  }

  private execute(att: Attachment, e: LoopEffect): void {
    if (e.kind === "wake") {
      const token = ++att.wakeToken;
      this.sim.schedule(Math.max(e.at, this.sim.now), () => {
        if (att.live && att.wakeToken === token) this.run(att, att.loop.wake());
      });
    } else if (e.kind === "propose") {
      this.counts.proposalsByLoops++;
      att.node.propose(e.payload).then(
        (a) => {
          if (att.live)
            this.run(att, att.loop.proposed(e.token, { ok: true, result: RcApplyResult.decode(a.result) }));
        },
        (err: unknown) => {
          if (att.live) this.run(att, att.loop.proposed(e.token, { ok: false, error: String(err) }));
        },
      );
    } else if (e.kind === "barrier") {
      att.node.barrier().then(
        () => att.live && this.run(att, att.loop.caughtUp(e.token, true)),
        () => att.live && this.run(att, att.loop.caughtUp(e.token, false)),
      );
    } else this.deliver(att, e);
  }

  /** What the dispatcher does: check the term, send, and one outcome (the answer, or a timeout). */
  private deliver(att: Attachment, e: Extract<LoopEffect, { kind: "deliver" }>): void {
    let done = false;
    const answer = (a: DeliveryAnswer) => {
      if (done || !att.live) return;
      done = true;
      if (a.ok) this.counts.answered++;
      else if (a.error.includes("deposed")) this.counts.refusedStale++;
      this.run(
        att,
        att.loop.answered(
          e.id,
          a.ok
            ? { ok: true, answer: { ok: a.response.ok, detail: a.response.detail } }
            : { ok: false, error: a.error },
        ),
      );
    };
    if (!(att.node.isLeader && att.node.status().term === e.term)) {
      this.sim.schedule(this.sim.now + 1, () =>
        answer({ ok: false, error: `no longer the leader in term ${e.term}` }),
      );
      return;
    }
    this.counts.deliveries++;
    this.sim.schedule(this.sim.now + this.callTimeoutMs, () =>
      answer({ ok: false, error: "deadline exceeded" }),
    );
    const send = () => {
      this.trace(() => `${att.replicaId} -> ${e.to}: ${e.command.id} (term ${e.term})`);
      this.nodeNet(att.replicaId, e.to, () => {
        const reply = (a: DeliveryAnswer) => this.nodeNet(e.to, att.replicaId, () => answer(a));
        if (e.command.respawnNode) this.infra(e.to, reply);
        else this.nodes.get(e.to)?.execute(e.command, e.to, e.leaderId, e.term, reply);
      });
    };
    // A paused process sends, when it wakes, what it checked before it froze.
    const pause = this.paused.get(att.replicaId);
    if (pause) {
      this.counts.heldByPause++;
      pause.held.push(send);
    } else send();
  }

  /** A host's infrastructure endpoint: RespawnNode starts the node again if it is dead. */
  private infra(hostId: string, reply: (a: DeliveryAnswer) => void): void {
    const node = this.nodes.get(this.hosts.get(hostId) ?? "");
    if (!node) return reply({ ok: false, error: `no host ${hostId}` });
    if (this.hostsDown.has(hostId))
      return reply({ ok: true, response: { ok: false, detail: `host ${hostId} does not power on` } });
    if (!node.alive) {
      this.trace(() => `infra ${hostId}: respawn ${node.id}`);
      node.start();
    }
    reply({ ok: true, response: { ok: true, detail: `${node.id} runs` } });
  }

  // ------------------------------------------------------------ the node network

  private nodeHost() {
    return {
      now: () => this.sim.now,
      schedule: (at: number, fn: () => void) => this.sim.schedule(at, fn),
      replicas: () => this.sim.ids,
      submit: (
        from: string,
        to: string,
        events: Event[],
        answer: (a: { ok: true; term: number } | { ok: false; leader: string | null }) => void,
      ) =>
        this.nodeNet(from, to, () =>
          this.submitted(from, to, events, (a) => this.nodeNet(to, from, () => answer(a))),
        ),
      obeyed: (nodeId: string, term: number) => {
        this.counts.obeyed++;
        const before = this.maxObeyed.get(nodeId) ?? 0;
        if (term < before)
          this.violation(
            "no command from an older term",
            `${nodeId} obeyed a command of term ${term} after one of term ${before}`,
          );
        else this.maxObeyed.set(nodeId, term);
      },
    };
  }

  /** SubmitEvents on a replica: the leader proposes the batch; the node learns the term from the answer. */
  private submitted(
    from: string,
    replicaId: string,
    events: Event[],
    answer: (a: { ok: true; term: number } | { ok: false; leader: string | null }) => void,
  ): void {
    const att = this.attached.get(replicaId);
    if (!att?.live || !att.node.isLeader) return answer({ ok: false, leader: att?.node.leader ?? null });
    this.run(att, att.loop.heard(events));
    this.proposeEvents(att.node, events).then(
      (term) => {
        if (term === null) return answer({ ok: false, leader: null });
        this.counts.nodeEventsAcked += events.length;
        answer({ ok: true, term });
      },
      () => answer({ ok: false, leader: null }),
    );
    void from;
  }

  /** Proposes a batch of outside events; resolves with the term once applied (acknowledged), or null. */
  async proposeEvents(node: RaftNode, events: Event[]): Promise<number | null> {
    const a = await node.propose(encodeEventBatch(Math.floor(this.sim.now), events));
    const result = RcApplyResult.decode(a.result);
    if (result.error !== "") return null;
    for (const r of result.events)
      if (r.outcome !== EventOutcome.EVENT_OUTCOME_REJECTED) this.acked.add(r.eventId);
    return a.term;
  }

  private nodeNet(from: string, to: string, deliver: () => void): void {
    const f = this.nodeFaults;
    if (this.blocked.has(`${from}|${to}`) || this.rng.chance(f.loss)) return;
    const copies = this.rng.chance(f.duplicate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delay = f.minDelayMs + this.rng.next() * (f.maxDelayMs - f.minDelayMs);
      this.sim.schedule(this.sim.now + delay, () => {
        if (!this.blocked.has(`${from}|${to}`)) deliver();
      });
    }
  }

  /** Cuts (or restores) the link between a replica and a node, both ways. */
  cutNodeLink(replicaId: string, nodeId: string, cut: boolean): void {
    this.trace(() => `${cut ? "CUT" : "MEND"} ${replicaId} <-> ${nodeId}`);
    for (const k of [`${replicaId}|${nodeId}`, `${nodeId}|${replicaId}`])
      if (cut) this.blocked.add(k);
      else this.blocked.delete(k);
  }

  // ------------------------------------------------------------ faults of the coordinator's side

  /** The replica's process freezes for `ms`: cut off from its peers, its checked sends held until it wakes. */
  pause(replicaId: string, ms: number): void {
    if (this.paused.has(replicaId)) return;
    this.trace(() => `PAUSE ${replicaId} for ${ms.toFixed(0)}ms`);
    const p = { until: this.sim.now + ms, held: [] as (() => void)[] };
    this.paused.set(replicaId, p);
    this.sim.isolate(replicaId);
    this.sim.schedule(p.until, () => this.wake(replicaId));
  }

  wake(replicaId: string): void {
    const p = this.paused.get(replicaId);
    if (!p) return;
    this.paused.delete(replicaId);
    this.trace(() => `WAKE ${replicaId}: ${p.held.length} sends go out late`);
    this.sim.connect(replicaId);
    for (const send of p.held) send();
  }

  /** Everything mended: networks reliable, replicas and nodes running, nobody paused. */
  heal(): void {
    for (const id of [...this.paused.keys()]) this.wake(id);
    this.sim.heal();
    this.sim.setFaults({ loss: 0, duplicate: 0, reorder: 0, minDelayMs: 1, maxDelayMs: 5 });
    this.sim.crashOnDelivery = 0;
    this.blocked.clear();
    this.hostsDown.clear();
    this.nodeFaults = { ...RELIABLE_NODE_NET };
    for (const r of this.sim.replicas.values())
      if (!r.alive && !this.sim.corrupted.has(r.id)) this.sim.restart(r.id);
    for (const n of this.nodes.values()) if (!n.alive) n.start();
  }

  // ------------------------------------------------------------ observation

  /** The attached loop of the live leader with the highest term, if it is ready to act. */
  leader(): { replicaId: string; machine: RcStateMachine; node: RaftNode } | null {
    const id = this.sim.leader();
    const att = id === null ? undefined : this.attached.get(id);
    return att?.live ? { replicaId: att.replicaId, machine: att.machine.rc, node: att.node } : null;
  }

  machines(): { replicaId: string; machine: RcStateMachine }[] {
    return [...this.sim.replicas.values()]
      .filter((r) => r.alive && r.node !== null)
      .map((r) => ({ replicaId: r.id, machine: (r.machine as RcSimMachine).rc }));
  }
}
