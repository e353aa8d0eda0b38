// The coordinator leader's loop, as pure code: what the leader does besides
// replicating. It reads no clock but the one it is given, starts no timer and
// touches no network: it is driven by inputs (leadership, applied entries,
// outcomes of its proposals, answers of node services, signs of life, a wake-up)
// and answers each with effects (propose these bytes, deliver this command,
// wake me at T) that an adapter carries out: src/api/rc-leader-duties.ts with
// Raft, gRPC and timers, the coordinator simulator in memory on virtual time.
//
// Its duties, all leader-local (a new leader starts afresh from the log):
//   - declare the cluster config's topology once (idempotent event id);
//   - Tick entries when a rule timer is due or log time has stood still for
//     idleTickMs, so timers fire at the same index on every replica;
//   - NodeSilent for an online node not heard from for nodeSilentMs, after a
//     grace period following the election (failure-detector.ts);
//   - deliver each command when the entry that issued it is applied here (the
//     `commands` of the apply result), a broadcast to every node awaiting it,
//     and again after redeliverMs while it is pending; a target that does not
//     answer is backed off exponentially;
//   - turn the answers into CommandResult events, one report per node action:
//     an ok answer to RespawnProcess is not proposed, the node's own
//     ProcessStarted (with the instance) reports it (docs/rc.md, "One report").
// Before it acts in a term, the leader waits for a barrier: every entry
// committed before it is applied here, so it sees every earlier decision.
import type { Command, Event, RcApplyResult } from "../../gen/halon/v1/events.js";
import type { Graph } from "../../graph/index.js";
import { backoffDelay } from "../../util/backoff.js";
import { encodeEventBatch, encodeTick } from "../entry.js";
import { BROADCAST } from "../epochs.js";
import { FailureDetector } from "./failure-detector.js";
import { topologyPresent } from "./topology-check.js";

export interface LeaderLoopConfig {
  /** A Tick is proposed when log time lags the leader's clock by this much, even with no timer due. */
  idleTickMs: number;
  /** No sign of life from an online node for this long: NodeSilent. */
  nodeSilentMs: number;
  /** After an election, nobody is suspected for this long. */
  electionGraceMs: number;
  /** A delivered command still pending is delivered again after this long. */
  redeliverMs: number;
  /** At most this many events in one proposal of the leader's own events. */
  maxEventsPerProposal: number;
  /** First and largest delay before a target that did not answer is tried again. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** A failed proposal of the leader's own is tried again after this long. */
  retryMs: number;
}

export const DEFAULT_LEADER_LOOP: LeaderLoopConfig = {
  idleTickMs: 10_000,
  nodeSilentMs: 15_000,
  electionGraceMs: 5_000,
  redeliverMs: 1_000,
  maxEventsPerProposal: 500,
  backoffBaseMs: 200,
  backoffMaxMs: 10_000,
  retryMs: 100,
};

/** What the loop reads of the replica's state machine (RcStateMachine has it all). */
export interface MachineView {
  readonly graph: Graph;
  readonly timeMs: number;
  pendingCommands(): Command[];
  nodesAwaitingEpoch(): string[];
  /** The nodes online in the graph (any order), and a number that changes whenever they do. */
  onlineNodes(): Iterable<string>;
  onlineVersion(): number;
  nextTimerDue(): number | undefined;
}

export interface LoopLog {
  info(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
  debug(details: Record<string, unknown>, message: string): void;
}

export type LoopEffect =
  /** Propose `payload`; report the outcome with proposed(token, ...). */
  | { kind: "propose"; token: number; payload: Uint8Array }
  /**
   * Send `command` to `to` (a node service, or for RespawnNode the host's
   * infrastructure) as leader `leaderId` in `term`, unless this replica no
   * longer leads in `term` when it sends. Exactly one answered(id, ...) must
   * follow, a failure at the latest after the call's timeout.
   */
  | { kind: "deliver"; id: number; to: string; command: Command; term: number; leaderId: string }
  /** Call wake() at `at` (the loop's clock); replaces every earlier wake request. */
  | { kind: "wake"; at: number }
  /**
   * Report caughtUp(token, true) once every entry committed before now is
   * applied here (RaftNode.barrier), or caughtUp(token, false) if that fails.
   */
  | { kind: "barrier"; token: number };

export type ProposeOutcome = { ok: true; result: RcApplyResult } | { ok: false; error: string };

/** A node service's answer, or why there is none (unreachable, refused, no address). */
export type DeliveryOutcome =
  { ok: true; answer: { ok: boolean; detail: string } } | { ok: false; error: string };

export interface LeaderLoopOptions {
  selfId: string;
  view: MachineView;
  /** The loop's only clock: the stamps of its entries, and the time of everything it waits for. */
  clock: { now(): number };
  config: LeaderLoopConfig;
  /** The topology event to declare (the same object while the config is unchanged), or null. */
  topology?: () => Event | null;
  log?: LoopLog;
}

/** Where one command stands with one target, in this term. */
export interface DeliveryState {
  target: string;
  command: Command;
  /** When it was last sent (or its answer recorded): it is due again redeliverMs later. */
  sentAt: number;
  /** The deliver effect awaiting its answer. */
  inFlight: number | null;
  /** Its answer is being proposed as a CommandResult. */
  recording: boolean;
}

type Proposal =
  { kind: "events"; events: Event[]; term: number } | { kind: "tick" } | { kind: "topology"; id: string };

const SILENT_LOG: LoopLog = { info: () => undefined, warn: () => undefined, debug: () => undefined };

const keyOf = (commandId: string, to: string) => `${commandId}@${to}`;

export class LeaderLoop {
  private office: { term: number; barrier: number | null; barrierRetryAt: number } | null = null;
  /** The barrier of this term has passed: the loop acts. */
  private ready = false;
  private readonly detector: FailureDetector;
  private readonly log: LoopLog;
  private effects: LoopEffect[] = [];
  private seq = 0;
  // Leader events waiting for a proposal, and those proposed.
  private readonly queue: Event[] = [];
  private readonly queuedIds = new Set<string>();
  private readonly proposals = new Map<number, Proposal>();
  private batchInFlight = false;
  private tickInFlight = false;
  private topologyInFlight = false;
  private seededId: string | null = null;
  /** No proposal of the leader's own before this (one failed). */
  private retryAt = 0;
  // Deliveries of this term.
  private readonly deliveries = new Map<string, DeliveryState>();
  private readonly inFlight = new Map<number, string>();
  /** CommandResult event id -> the delivery whose answer it records. */
  private readonly recordingFor = new Map<string, string>();
  private readonly backoff = new Map<string, { attempt: number; until: number }>();
  /** The pending broadcast (at most one: its slot is "epoch:*"), to reach nodes that start awaiting it. */
  private broadcast: Command | null = null;
  /** When the pending commands must be looked at again (redelivery, backoff). */
  private scanAt: number | undefined;
  private detectorDirty = true;
  private wakeAt: number | undefined;

  constructor(private readonly opts: LeaderLoopOptions) {
    this.log = opts.log ?? SILENT_LOG;
    this.detector = new FailureDetector({
      silentAfterMs: opts.config.nodeSilentMs,
      graceAfterElectionMs: opts.config.electionGraceMs,
    });
  }

  get term(): number | null {
    return this.office?.term ?? null;
  }

  get leading(): boolean {
    return this.office !== null;
  }

  // ---------------------------------------------------------------- inputs

  /** What Raft says of this replica now: whether it leads, and in which term. */
  leadership(s: { leader: boolean; term: number }): LoopEffect[] {
    if (!s.leader) {
      if (this.office) this.stepDown();
    } else if (this.office?.term !== s.term) this.takeOffice(s.term);
    return this.finish();
  }

  /** The outcome of a barrier effect. */
  caughtUp(token: number, ok: boolean): LoopEffect[] {
    const office = this.office;
    if (office && office.barrier === token) {
      office.barrier = null;
      if (ok) {
        this.ready = true;
        this.scanAt = this.now(); // everything pending is delivered again in a new term
      } else office.barrierRetryAt = this.now() + this.opts.config.retryMs;
    }
    return this.finish();
  }

  /** The state machine applied an entry on this replica, with this result. */
  applied(result: RcApplyResult): LoopEffect[] {
    if (this.office && this.ready) {
      const now = this.now();
      for (const c of result.commands) {
        if (c.target === BROADCAST) this.broadcast = c;
        else this.deliverIfDue(c, c.target, now);
      }
      if (result.events.length > 0) this.detectorDirty = true;
      // A broadcast goes to every node awaiting it, also to one that started awaiting it just now.
      if (this.broadcast) {
        const awaiting = this.opts.view.nodesAwaitingEpoch();
        if (awaiting.length === 0) this.broadcast = null;
        else for (const to of awaiting) this.deliverIfDue(this.broadcast, to, now);
      }
    }
    return this.finish();
  }

  /** The outcome of a propose effect. */
  proposed(token: number, outcome: ProposeOutcome): LoopEffect[] {
    const p = this.proposals.get(token);
    if (p) {
      this.proposals.delete(token);
      this.settle(p, outcome);
    }
    return this.finish();
  }

  /** The outcome of a deliver effect. */
  answered(id: number, outcome: DeliveryOutcome): LoopEffect[] {
    const key = this.inFlight.get(id);
    this.inFlight.delete(id);
    const st = key === undefined ? undefined : this.deliveries.get(key);
    if (st && st.inFlight === id) this.onAnswer(st, outcome);
    return this.finish();
  }

  /** Events that reached this replica (heartbeats, joins, anything a node sent): signs of life. */
  heard(events: Event[]): LoopEffect[] {
    if (this.office) {
      const now = this.now();
      const g = this.opts.view.graph;
      for (const e of events) {
        const nodeId = e.nodeHeartbeat?.nodeId ?? e.nodeJoined?.nodeId;
        if (nodeId) this.detector.heard(nodeId, now);
        if (e.source !== "" && g.kindOf(e.source) === "Node") this.detector.heard(e.source, now);
      }
    }
    return this.finish();
  }

  /** A sign of life from a node that is not an event (a session, a probe). */
  heardFrom(nodeId: string): LoopEffect[] {
    if (this.office) this.detector.heard(nodeId, this.now());
    return this.finish();
  }

  /** The time asked for by the last wake effect has come (or any time: nothing is done early). */
  wake(): LoopEffect[] {
    this.wakeAt = undefined;
    return this.finish();
  }

  // ---------------------------------------------------------------- duties

  private now(): number {
    return this.opts.clock.now();
  }

  private takeOffice(term: number): void {
    if (this.office) this.stepDown();
    this.office = { term, barrier: null, barrierRetryAt: 0 };
    this.ready = false;
    this.seededId = null;
    this.retryAt = 0;
    this.detector.becameLeader(this.now());
    this.log.info({ term }, "coordinator leader duties start");
  }

  private stepDown(): void {
    this.log.info({ term: this.office?.term }, "coordinator leader duties stop");
    this.office = null;
    this.ready = false;
    this.detector.stoppedLeading();
    this.queue.length = 0;
    this.queuedIds.clear();
    this.proposals.clear();
    this.batchInFlight = this.tickInFlight = this.topologyInFlight = false;
    this.deliveries.clear();
    this.inFlight.clear();
    this.recordingFor.clear();
    this.backoff.clear();
    this.broadcast = null;
    this.scanAt = undefined;
  }

  /** Does what is due, and asks to be woken when the next thing falls due. */
  private finish(): LoopEffect[] {
    const office = this.office;
    let next: number | undefined;
    if (office && this.ready) {
      this.act(this.now());
      next = this.nextDue();
    } else if (office && office.barrier === null) {
      if (this.now() >= office.barrierRetryAt) {
        office.barrier = ++this.seq;
        this.effects.push({ kind: "barrier", token: office.barrier });
      } else next = office.barrierRetryAt;
    }
    if (next !== undefined && next !== this.wakeAt) {
      this.wakeAt = next;
      this.effects.push({ kind: "wake", at: next });
    }
    const out = this.effects;
    this.effects = [];
    return out;
  }

  private act(now: number): void {
    const view = this.opts.view;
    this.seed(now);
    if (
      this.detectorDirty ||
      now >= (this.detector.nextDeadline(view.onlineNodes(), view.onlineVersion()) ?? Infinity)
    ) {
      this.detectorDirty = false;
      for (const nodeId of this.detector.silentNodes(now, view.onlineNodes())) {
        this.log.info({ node: nodeId }, "node silent: proposing NodeSilent");
        this.enqueue(this.detector.silentEvent(nodeId));
      }
    }
    this.flush(now);
    if (!this.tickInFlight && now >= Math.max(this.tickAt(), this.retryAt)) {
      this.tickInFlight = true;
      this.propose({ kind: "tick" }, encodeTick(now));
    }
    if (this.scanAt !== undefined && now >= this.scanAt) this.scan(now);
  }

  private tickAt(): number {
    const v = this.opts.view;
    return Math.min(v.nextTimerDue() ?? Infinity, v.timeMs + this.opts.config.idleTickMs);
  }

  private nextDue(): number | undefined {
    const times = [
      this.detector.nextDeadline(this.opts.view.onlineNodes(), this.opts.view.onlineVersion()) ?? Infinity,
      this.tickInFlight ? Infinity : Math.max(this.tickAt(), this.retryAt),
      this.scanAt ?? Infinity,
      this.queue.length > 0 && !this.batchInFlight ? this.retryAt : Infinity,
    ];
    const next = Math.min(...times);
    return Number.isFinite(next) ? next : undefined;
  }

  private seed(now: number): void {
    const event = this.opts.topology?.() ?? null;
    if (event === null || event.id === this.seededId || this.topologyInFlight || now < this.retryAt) return;
    if (topologyPresent(this.opts.view.graph, event.topologyDeclared!)) {
      this.seededId = event.id;
      return;
    }
    this.topologyInFlight = true;
    this.propose({ kind: "topology", id: event.id }, encodeEventBatch(now, [event]));
  }

  private enqueue(event: Event): void {
    if (this.queuedIds.has(event.id)) return;
    this.queuedIds.add(event.id);
    this.queue.push(event);
  }

  /** Proposes the queued events as one batch (one batch in flight at a time). */
  private flush(now: number): void {
    if (this.batchInFlight || this.queue.length === 0 || now < this.retryAt) return;
    const events = this.queue.splice(0, this.opts.config.maxEventsPerProposal);
    this.batchInFlight = true;
    this.propose({ kind: "events", events, term: this.office!.term }, encodeEventBatch(now, events));
  }

  private propose(p: Proposal, payload: Uint8Array): void {
    const token = ++this.seq;
    this.proposals.set(token, p);
    this.effects.push({ kind: "propose", token, payload });
  }

  private settle(p: Proposal, outcome: ProposeOutcome): void {
    const refused = outcome.ok && outcome.result.error !== "";
    if (!outcome.ok || refused) {
      const error = outcome.ok ? outcome.result.error : outcome.error;
      if (refused) this.log.warn({ error }, "the coordinator refused the leader's entry");
      else this.log.debug({ err: error }, "leader entry not applied; will retry");
      this.retryAt = this.now() + this.opts.config.retryMs;
    } else
      for (const r of outcome.result.events)
        if (r.reason !== "" && r.code !== "")
          this.log.warn(
            { event: r.eventId, code: r.code, reason: r.reason },
            "the coordinator rejected a leader event",
          );
    const ok = outcome.ok && !refused;
    if (p.kind === "tick") this.tickInFlight = false;
    else if (p.kind === "topology") {
      this.topologyInFlight = false;
      if (ok) {
        this.seededId = p.id;
        this.log.info({ event: p.id }, "declared the cluster config's topology");
      }
    } else {
      this.batchInFlight = false;
      const now = this.now();
      for (const e of p.events) {
        this.queuedIds.delete(e.id);
        const key = this.recordingFor.get(e.id);
        if (key !== undefined) {
          // An answer recorded (or not): the delivery is due again if the command is still pending.
          this.recordingFor.delete(e.id);
          const st = this.deliveries.get(key);
          if (st) {
            st.recording = false;
            if (ok) st.sentAt = now;
            this.scanAt = Math.min(this.scanAt ?? Infinity, this.dueAt(st));
          }
        } else if (!ok && this.office?.term === p.term) this.enqueue(e); // NodeSilent: again, this term
      }
    }
  }

  // ---------------------------------------------------------------- delivery

  /** When a delivery not in flight may be sent again: redeliverMs after the last, and not while backed off. */
  protected dueAt(st: DeliveryState): number {
    return Math.max(st.sentAt + this.opts.config.redeliverMs, this.backoff.get(st.target)?.until ?? 0);
  }

  private deliverIfDue(command: Command, to: string, now: number): void {
    const key = keyOf(command.id, to);
    let st = this.deliveries.get(key);
    if (st && (st.inFlight !== null || st.recording)) return;
    const due = st ? this.dueAt(st) : (this.backoff.get(to)?.until ?? 0);
    if (now < due) {
      this.scanAt = Math.min(this.scanAt ?? Infinity, due);
      return;
    }
    if (!st) {
      st = { target: to, command, sentAt: now, inFlight: null, recording: false };
      this.deliveries.set(key, st);
    }
    const id = ++this.seq;
    st.sentAt = now;
    st.inFlight = id;
    this.inFlight.set(id, key);
    this.effects.push({
      kind: "deliver",
      id,
      to,
      command,
      term: this.office!.term,
      leaderId: this.opts.selfId,
    });
  }

  /** Every pending command: deliver what is due, forget what is no longer pending. */
  private scan(now: number): void {
    this.scanAt = undefined;
    const view = this.opts.view;
    const live = new Set<string>();
    let awaiting: string[] | undefined;
    this.broadcast = null;
    for (const command of view.pendingCommands()) {
      const broadcast = command.target === BROADCAST;
      if (broadcast) this.broadcast = command;
      for (const to of broadcast ? (awaiting ??= view.nodesAwaitingEpoch()) : [command.target]) {
        live.add(keyOf(command.id, to));
        this.deliverIfDue(command, to, now);
      }
    }
    for (const [key, st] of this.deliveries) {
      if (!live.has(key)) this.deliveries.delete(key);
      else if (st.inFlight === null && !st.recording)
        this.scanAt = Math.min(this.scanAt ?? Infinity, this.dueAt(st));
    }
  }

  private onAnswer(st: DeliveryState, outcome: DeliveryOutcome): void {
    const now = this.now();
    st.inFlight = null;
    if (!outcome.ok) {
      const delayMs = this.slowDown(st.target, now);
      this.log.debug(
        { target: st.target, command: st.command.id, retryInMs: delayMs, err: outcome.error },
        "command not delivered; will retry",
      );
      this.scanAt = Math.min(this.scanAt ?? Infinity, this.dueAt(st));
      return;
    }
    this.detector.heard(st.target, now);
    const answer = outcome.answer;
    if (answer.ok) this.backoff.delete(st.target);
    else this.slowDown(st.target, now);
    st.sentAt = now;
    if (st.command.respawnProcess && answer.ok) {
      // One report per node action: the node's ProcessStarted for the new instance reports this one.
      this.scanAt = Math.min(this.scanAt ?? Infinity, this.dueAt(st));
      return;
    }
    const c = st.command;
    const event: Event = {
      id: `result-${c.id}-${st.target}`,
      source: st.target,
      commandResult: {
        commandId: c.id,
        ok: answer.ok,
        detail: answer.detail,
        nodeId: c.respawnNode ? "" : st.target,
      },
    };
    st.recording = true;
    this.recordingFor.set(event.id, keyOf(c.id, st.target));
    this.enqueue(event);
  }

  /** Doubles the target's delay (from the base, up to the maximum); returns it. */
  private slowDown(target: string, now: number): number {
    const before = this.backoff.get(target);
    const { backoffBaseMs, backoffMaxMs } = this.opts.config;
    const attempt = (before?.attempt ?? 0) + 1;
    const delayMs = backoffDelay({ baseMs: backoffBaseMs, factor: 2, maxMs: backoffMaxMs }, attempt);
    this.backoff.set(target, { attempt, until: now + delayMs });
    return delayMs;
  }
}
