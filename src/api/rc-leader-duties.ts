// What the coordinator's leader does besides replicating: the state machine
// is pure, so everything that needs a clock or the network happens here, on
// the leader only, and enters the log as entries like any other:
//   - the topology of the cluster config, declared once (idempotent event id);
//   - Tick entries stamped with the leader's clock, when a rule timer is due
//     or when log time has not moved for a while, so timers fire at the same
//     index on every replica;
//   - NodeSilent events from the failure detector, after a grace period
//     following the election;
//   - delivery of the outbox's commands to node services, and their answers
//     proposed back as CommandResult events.
// Nothing here is replicated state: a new leader starts afresh from the log.
import type { ClusterConfig } from "../config/index.js";
import type { Command, Event } from "../gen/halon/v1/events.js";
import type { Logger } from "../log/logger.js";
import {
  decodeApplyResult,
  DispatchPlan,
  encodeEventBatch,
  encodeTick,
  FailureDetector,
  type Delivery,
  type RcStateMachine,
} from "../rc/index.js";
import type { TlsSource } from "../raft/transport/tls.js";
import type { Applied } from "../raft/types.js";
import { CommandDispatcher, DEFAULT_DISPATCHER_CONFIG, type DispatcherConfig } from "./command-dispatcher.js";
import { LeaderClock } from "./leader-clock.js";
import { expectNode } from "./peer-authz.js";
import { topologyEvent, topologyPresent } from "./topology-seed.js";

export interface RcDutiesConfig {
  /** How often the leader looks at what is due. */
  loopMs: number;
  /** A Tick is proposed when log time lags the leader's clock by this much, even with no timer due. */
  idleTickMs: number;
  /** No sign of life from an online node for this long: NodeSilent. */
  nodeSilentMs: number;
  /** After an election, nobody is suspected for this long. */
  electionGraceMs: number;
  /** An unacknowledged command is delivered again after this long. */
  redeliverMs: number;
  /** At most this many events in one proposal of the leader's own events. */
  maxEventsPerProposal: number;
  dispatcher: DispatcherConfig;
}

export const DEFAULT_RC_DUTIES: RcDutiesConfig = {
  loopMs: 100,
  idleTickMs: 10_000,
  nodeSilentMs: 15_000,
  electionGraceMs: 5_000,
  redeliverMs: 1_000,
  maxEventsPerProposal: 500,
  dispatcher: DEFAULT_DISPATCHER_CONFIG,
};

/** What the duties need from the Raft node. */
export interface LeaderView {
  readonly isLeader: boolean;
  status(): { term: number; lastIndex: number; appliedIndex: number };
  propose(payload: Uint8Array): Promise<Applied>;
}

export interface RcLeaderDutiesOptions {
  selfId: string;
  /** The cluster config as the replica knows it now (it re-reads the file when members change). */
  config: () => ClusterConfig;
  machine: RcStateMachine;
  duties: RcDutiesConfig;
  tls?: TlsSource;
  logger: Logger;
  /** What entries are stamped with (default: a LeaderClock from now). */
  clock?: { now(): number };
  /** A node service answered a delivered command (for metrics). */
  onAnswered?: (command: Command, ok: boolean) => void;
}

export class RcLeaderDuties {
  private node: LeaderView | null = null;
  private timer: NodeJS.Timeout | null = null;
  private term = 0;
  private leading = false;
  /** The leader's log end when it won: applied before it acts, so it sees every earlier decision. */
  private caughtUpAt = 0;
  /** The config whose topology this term's leader has found in the graph (or declared). */
  private seededFor: ClusterConfig | null = null;
  private readonly queue: Event[] = [];
  private readonly queuedIds = new Set<string>();
  /** Callers waiting for a queued event to be applied (command answers). */
  private readonly waiters = new Map<string, { resolve: () => void; reject: (e: unknown) => void }>();
  private batchInFlight = false;
  private tickInFlight = false;
  private seedInFlight = false;
  private readonly detector: FailureDetector;
  private readonly plan: DispatchPlan;
  private readonly dispatcher: CommandDispatcher;
  private readonly log: Logger;
  private readonly clock: { now(): number };

  constructor(private readonly opts: RcLeaderDutiesOptions) {
    this.log = opts.logger;
    this.clock = opts.clock ?? new LeaderClock();
    const d = opts.duties;
    this.detector = new FailureDetector({
      silentAfterMs: d.nodeSilentMs,
      graceAfterElectionMs: d.electionGraceMs,
    });
    this.plan = new DispatchPlan(d.redeliverMs);
    this.dispatcher = new CommandDispatcher({
      config: d.dispatcher,
      tls: opts.tls,
      logger: opts.logger,
      resolve: (delivery) => this.addressFor(delivery),
      leader: () => ({ id: opts.selfId, term: this.term }),
      stillLeading: (term) =>
        this.leading && this.node !== null && this.node.isLeader && this.node.status().term === term,
      verifyNode: opts.tls ? (nodeId) => expectNode(opts.config().cluster.name, nodeId) : undefined,
      onAnswer: (delivery, answer) => {
        opts.onAnswered?.(delivery.command, answer.ok);
        return this.enqueueAndWait({
          id: `result-${delivery.command.id}-${delivery.to}`,
          source: delivery.to,
          commandResult: {
            commandId: delivery.command.id,
            ok: answer.ok,
            detail: answer.detail,
            nodeId: delivery.command.respawnNode ? "" : delivery.to,
          },
        });
      },
      onReached: (target) => this.detector.heard(target, Date.now()),
    });
  }

  start(node: LeaderView): void {
    this.node = node;
    this.timer = setInterval(() => this.turn(), this.opts.duties.loopMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.dispatcher.close();
  }

  /** Events seen by this leader: heartbeats, joins and anything a node sent are signs of life. */
  heard(events: Event[]): void {
    if (!this.leading) return;
    const now = Date.now();
    const g = this.opts.machine.graph;
    for (const e of events) {
      const nodeId = e.nodeHeartbeat?.nodeId ?? e.nodeJoined?.nodeId;
      if (nodeId) this.detector.heard(nodeId, now);
      if (e.source !== "" && g.kindOf(e.source) === "Node") this.detector.heard(e.source, now);
    }
  }

  /** One look at what is due; a failed proposal is tried again on a later turn. */
  private turn(): void {
    try {
      this.look();
    } catch (err) {
      // A bug here must not take the replica down with it: log, and look again next turn.
      this.log.error({ err: String(err), stack: (err as Error).stack }, "coordinator leader duties failed");
    }
  }

  private look(): void {
    const node = this.node;
    if (!node) return;
    const now = Date.now();
    if (!node.isLeader) {
      if (this.leading) this.stepDown();
      return;
    }
    const s = node.status();
    if (!this.leading || s.term !== this.term) this.takeOffice(s.term, s.lastIndex, now);
    if (s.appliedIndex < this.caughtUpAt) return;
    const sm = this.opts.machine;
    if (this.seededFor !== this.opts.config()) this.seed();
    for (const nodeId of this.detector.silentNodes(now, sm.onlineNodes())) {
      this.log.info({ node: nodeId }, "node silent: proposing NodeSilent");
      this.enqueue(this.detector.silentEvent(nodeId));
    }
    this.flush();
    // Log time follows the leader's clock (stamps), not the wall clock: see leader-clock.ts.
    const stamp = this.clock.now();
    if (!this.tickInFlight && (sm.tickDue(stamp) || stamp - sm.timeMs >= this.opts.duties.idleTickMs))
      this.tick(stamp);
    const pending = sm.pendingCommands();
    this.dispatcher.prune(pending);
    if (pending.length > 0) this.dispatcher.deliver(this.plan.due(sm, now), now);
  }

  private takeOffice(term: number, lastIndex: number, now: number): void {
    this.leading = true;
    this.term = term;
    this.caughtUpAt = lastIndex;
    this.seededFor = null;
    this.detector.becameLeader(now);
    this.plan.becameLeader();
    this.dispatcher.reset();
    this.log.info({ term, catchUpTo: lastIndex }, "coordinator leader duties start");
  }

  private stepDown(): void {
    this.leading = false;
    this.detector.stoppedLeading();
    this.dispatcher.reset();
    this.queue.length = 0;
    this.queuedIds.clear();
    for (const w of this.waiters.values()) w.reject(new Error("no longer the leader"));
    this.waiters.clear();
    this.log.info({ term: this.term }, "coordinator leader duties stop");
  }

  private seed(): void {
    if (this.seedInFlight) return;
    const config = this.opts.config();
    const event = topologyEvent(config);
    if (topologyPresent(this.opts.machine.graph, event.topologyDeclared!)) {
      this.seededFor = config;
      return;
    }
    this.seedInFlight = true;
    this.propose([event])
      .then(
        (ok) => {
          if (ok) {
            this.seededFor = config;
            this.log.info({ event: event.id }, "declared the cluster config's topology");
          }
        },
        (err: unknown) =>
          this.log.debug({ err: String(err) }, "topology declaration not applied; will retry"),
      )
      .finally(() => (this.seedInFlight = false));
  }

  private tick(now: number): void {
    this.tickInFlight = true;
    this.node!.propose(encodeTick(now))
      .catch((err: unknown) => this.log.debug({ err: String(err) }, "tick not applied; will retry"))
      .finally(() => (this.tickInFlight = false));
  }

  private enqueue(event: Event): void {
    if (this.queuedIds.has(event.id)) return;
    this.queuedIds.add(event.id);
    this.queue.push(event);
  }

  /** Queues a leader event and resolves once the batch that carries it is applied. */
  private enqueueAndWait(event: Event): Promise<void> {
    return new Promise((resolve, reject) => {
      this.enqueue(event);
      this.waiters.set(event.id, { resolve, reject });
    });
  }

  /** Proposes the queued events as one batch (one batch in flight at a time). */
  private flush(): void {
    if (this.batchInFlight || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.opts.duties.maxEventsPerProposal);
    this.batchInFlight = true;
    const term = this.term;
    const settle = (ok: boolean, err?: unknown) => {
      const retry: Event[] = [];
      for (const e of batch) {
        this.queuedIds.delete(e.id);
        const w = this.waiters.get(e.id);
        this.waiters.delete(e.id);
        if (w && ok) w.resolve();
        else if (w)
          w.reject(err); // its owner (the dispatcher) delivers again
        else if (!ok) retry.push(e); // the leader's own (NodeSilent): proposed again in this term
      }
      if (this.leading && this.term === term) for (const e of retry) this.enqueue(e);
    };
    this.propose(batch)
      .then(
        () => settle(true),
        (err: unknown) => {
          this.log.debug({ err: String(err), events: batch.length }, "leader events not applied; will retry");
          settle(false, err);
        },
      )
      .finally(() => {
        this.batchInFlight = false;
      });
  }

  /** Proposes events; true when applied (whatever each event's outcome). */
  private async propose(events: Event[]): Promise<boolean> {
    const res = decodeApplyResult(
      (await this.node!.propose(encodeEventBatch(this.clock.now(), events))).result,
    );
    if (res.error !== "") {
      this.log.error({ error: res.error }, "the coordinator refused the leader's entry");
      return false;
    }
    for (const r of res.events)
      if (r.reason !== "" && r.code !== "")
        this.log.warn(
          { event: r.eventId, code: r.code, reason: r.reason },
          "the coordinator rejected a leader event",
        );
    return true;
  }

  /** A node's address from the cluster config, else the one it joined with; a host's infrastructure endpoint. */
  private addressFor(d: Delivery): string | null {
    if (d.command.respawnNode) return d.command.respawnNode.infraEndpoint || null;
    const configured = this.opts.config().nodes.find((n) => n.id === d.to)?.grpcAddress;
    if (configured) return configured;
    const joined = this.opts.machine.graph.attr(d.to, "address");
    return typeof joined === "string" && joined !== "" ? joined : null;
  }
}
