// The leader loop (src/rc/leader/leader-loop.ts) wired to the real world: this
// adapter feeds it Raft's leadership changes, every entry the replica applies,
// the outcomes of proposals and deliveries and the events nodes send, and
// carries out its effects with the Raft node (propose), gRPC (deliver, see
// command-dispatcher.ts) and one timer (wake). What to do and when is the
// loop's; nothing here decides. The coordinator simulator (src/rc/sim) runs
// the same loop with in-memory effects.
import type { ClusterConfig } from "../config/index.js";
import type { Command, Event, RcApplyResult } from "../gen/halon/v1/events.js";
import type { Logger } from "../log/logger.js";
import {
  decodeApplyResult,
  DEFAULT_LEADER_LOOP,
  LeaderLoop,
  type LeaderLoopConfig,
  type LoopEffect,
  type RcStateMachine,
} from "../rc/index.js";
import type { TlsSource } from "../raft/transport/tls.js";
import type { Applied } from "../raft/types.js";
import {
  CommandDispatcher,
  DEFAULT_DISPATCHER_CONFIG,
  type Delivery,
  type DispatcherConfig,
} from "./command-dispatcher.js";
import { createInfraProvider, type InfraProvider } from "./infra/index.js";
import { LeaderClock } from "./leader-clock.js";
import { expectNode } from "./peer-authz.js";
import { topologyEvent } from "./topology-seed.js";

export interface RcDutiesConfig extends LeaderLoopConfig {
  dispatcher: DispatcherConfig;
}

export const DEFAULT_RC_DUTIES: RcDutiesConfig = {
  ...DEFAULT_LEADER_LOOP,
  dispatcher: DEFAULT_DISPATCHER_CONFIG,
};

/** What the duties need from the Raft node. */
export interface LeaderView {
  readonly isLeader: boolean;
  status(): { term: number };
  /** Resolves once every entry committed before the call is applied here. */
  barrier(): Promise<void>;
  /** Resolves once the entry is applied here, with where it landed and what apply() returned. */
  propose(payload: Uint8Array): Promise<Applied>;
  /** Leadership changes (RaftNode.observe). */
  observe(o: {
    leaderChange?(leader: string | null, term: number): void;
    termChange?(term: number): void;
  }): () => void;
}

export interface RcLeaderDutiesOptions {
  selfId: string;
  /** The cluster config as the replica knows it now (it re-reads the file when members change). */
  config: () => ClusterConfig;
  machine: RcStateMachine;
  duties: RcDutiesConfig;
  tls?: TlsSource;
  logger: Logger;
  /** What entries are stamped with and the loop waits by (default: a LeaderClock from now). */
  clock?: { now(): number };
  /** A node service answered a delivered command (for metrics). */
  onAnswered?: (command: Command, ok: boolean) => void;
}

export class RcLeaderDuties {
  private node: LeaderView | null = null;
  private unobserve: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly loop: LeaderLoop;
  private readonly dispatcher: CommandDispatcher;
  private readonly log: Logger;
  private readonly clock: { now(): number };
  private topology: { config: ClusterConfig; event: Event } | null = null;
  /** Each host's infrastructure provider, made again when the config changes. */
  private readonly infra = new Map<string, { config: ClusterConfig; provider: InfraProvider }>();
  private stopped = false;

  constructor(private readonly opts: RcLeaderDutiesOptions) {
    this.log = opts.logger;
    this.clock = opts.clock ?? new LeaderClock();
    this.loop = new LeaderLoop({
      selfId: opts.selfId,
      view: opts.machine,
      clock: this.clock,
      config: opts.duties,
      topology: () => this.topologyEvent(),
      log: opts.logger,
    });
    this.dispatcher = new CommandDispatcher({
      config: opts.duties.dispatcher,
      tls: opts.tls,
      logger: opts.logger,
      resolve: (delivery) => this.addressFor(delivery),
      stillLeading: (term) =>
        !this.stopped && this.node !== null && this.node.isLeader && this.node.status().term === term,
      verifyNode: opts.tls ? (nodeId) => expectNode(opts.config().cluster.name, nodeId) : undefined,
      respawnNode: (d) => this.respawnNode(d),
    });
  }

  start(node: LeaderView): void {
    this.node = node;
    const sync = () => this.input(() => this.leadership());
    this.unobserve = node.observe({ leaderChange: sync, termChange: sync });
    sync();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.unobserve?.();
    this.dispatcher.close();
    for (const { provider } of this.infra.values()) provider.close();
    this.infra.clear();
  }

  /** Every entry this replica applied, with its result (called by the state machine's wrapper). */
  applied(result: RcApplyResult): void {
    this.input(() => {
      // A new term noticed before the observer's call: the loop must know it before it delivers.
      const n = this.node!;
      const changed = n.isLeader !== this.loop.leading || (n.isLeader && n.status().term !== this.loop.term);
      return [...(changed ? this.leadership() : []), ...this.loop.applied(result)];
    });
  }

  /** Events seen by this replica: heartbeats, joins and anything a node sent are signs of life. */
  heard(events: Event[]): void {
    this.input(() => this.loop.heard(events));
  }

  /** A sign of life from a node that is not an event (a node session: the node lifecycle's input). */
  heardFrom(nodeId: string): void {
    this.input(() => this.loop.heardFrom(nodeId));
  }

  private leadership(): LoopEffect[] {
    const n = this.node!;
    return this.loop.leadership({ leader: n.isLeader, term: n.status().term });
  }

  /** One input to the loop; its effects run after the caller returns (never inside Raft's apply). */
  private input(step: () => LoopEffect[]): void {
    if (this.stopped || !this.node) return;
    let effects: LoopEffect[];
    try {
      effects = step();
    } catch (err) {
      // A bug here must not take the replica down with it: log; the next input or wake-up looks again.
      this.log.error({ err: String(err), stack: (err as Error).stack }, "coordinator leader duties failed");
      return;
    }
    if (effects.length > 0) queueMicrotask(() => this.execute(effects));
  }

  private execute(effects: LoopEffect[]): void {
    if (this.stopped) return;
    for (const e of effects) {
      if (e.kind === "wake") this.wakeAt(e.at);
      else if (e.kind === "propose") this.propose(e.token, e.payload);
      else if (e.kind === "barrier")
        this.node!.barrier().then(
          () => this.input(() => this.loop.caughtUp(e.token, true)),
          () => this.input(() => this.loop.caughtUp(e.token, false)),
        );
      else this.deliver(e);
    }
  }

  private wakeAt(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.input(() => this.loop.wake());
      },
      // setTimeout takes at most 2^31 - 1 ms; waking early is harmless (the loop does nothing early).
      Math.min(Math.max(0, at - this.clock.now()), 2 ** 31 - 1),
    );
    this.timer.unref();
  }

  private propose(token: number, payload: Uint8Array): void {
    this.node!.propose(payload).then(
      (r) => this.input(() => this.loop.proposed(token, { ok: true, result: decodeApplyResult(r.result) })),
      (err: unknown) => this.input(() => this.loop.proposed(token, { ok: false, error: String(err) })),
    );
  }

  private deliver(d: Delivery & { id: number }): void {
    this.dispatcher.send(d, (outcome) => {
      if (outcome.ok) this.opts.onAnswered?.(d.command, outcome.answer.ok);
      this.input(() => this.loop.answered(d.id, outcome));
    });
  }

  /** The config's topology event, built again only when the config changes. */
  private topologyEvent(): Event {
    const config = this.opts.config();
    if (this.topology?.config !== config) this.topology = { config, event: topologyEvent(config) };
    return this.topology.event;
  }

  /** A RespawnNode through its host's provider (fenced by this leader's term, idempotent by command). */
  private respawnNode(d: Delivery): Promise<{ ok: boolean; detail: string }> {
    const r = d.command.respawnNode!;
    const config = this.opts.config();
    let entry = this.infra.get(r.hostId);
    if (entry?.config !== config) {
      entry?.provider.close();
      entry = { config, provider: createInfraProvider(config, r.hostId, { tls: this.opts.tls }) };
      this.infra.set(r.hostId, entry);
    }
    this.log.info(
      { node: r.nodeId, host: r.hostId, attempt: r.attempt, provider: entry.provider.describe },
      "respawning a node through its host's infrastructure provider",
    );
    return entry.provider.respawnNode({
      commandId: d.command.id,
      issuedIndex: d.command.issuedIndex,
      issuedTerm: d.command.issuedTerm,
      nodeId: r.nodeId,
      hostId: r.hostId,
      leaderId: d.leaderId,
      leaderTerm: d.term,
      attempt: r.attempt,
    });
  }

  /** A node's address from the cluster config, else the one it joined with. */
  private addressFor(d: Delivery): string | null {
    const configured = this.opts.config().nodes.find((n) => n.id === d.to)?.grpcAddress;
    if (configured) return configured;
    const joined = this.opts.machine.graph.attr(d.to, "address");
    return typeof joined === "string" && joined !== "" ? joined : null;
  }
}
