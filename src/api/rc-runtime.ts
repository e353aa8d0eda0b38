// The recovery coordinator inside a replica: its state machine (wrapped so
// that watchers follow every applied change and a snapshot install), the
// graph-watch hub, and the leader's duties. Replica creates one unless it is
// told to run the hash-chain test machine.
import type { ClusterConfig } from "../config/index.js";
import { RcApplyResult, type Event } from "../gen/halon/v1/events.js";
import type { Logger } from "../log/logger.js";
import { DEFAULT_RC_CONFIG, History, RcStateMachine, type RcConfig } from "../rc/index.js";
import type { StateMachine } from "../raft/storage.js";
import type { Entry } from "../raft/types.js";
import type { TlsSource } from "../raft/transport/tls.js";
import { changeMessage } from "./graph-view.js";
import { GraphWatchHub } from "./graph-watch-hub.js";
import { LeaderClock } from "./leader-clock.js";
import {
  DEFAULT_RC_DUTIES,
  RcLeaderDuties,
  type LeaderView,
  type RcDutiesConfig,
} from "./rc-leader-duties.js";
import type { RcAccess } from "./rc-service.js";
import type { ReplicaInstruments } from "./replica-instruments.js";

export interface RcRuntimeOptions {
  selfId: string;
  /** The cluster config as the replica knows it now. */
  config: () => ClusterConfig;
  logger: Logger;
  duties?: Partial<RcDutiesConfig>;
  /** For delivering commands to node services over mutual TLS. */
  tls?: TlsSource;
  /** Measures what the coordinator does (metrics); optional. */
  instruments?: Pick<ReplicaInstruments, "applied" | "commandAnswered">;
}

/**
 * The coordinator's tunables from the config's `recovery` block, defaults for
 * what it leaves out. Read once at start: they define the replicated state, so
 * they cannot change under a running state machine.
 */
export function rcConfigOf(config: ClusterConfig): RcConfig {
  const set = Object.entries(config.recovery).filter(([, v]) => v !== undefined);
  return { ...DEFAULT_RC_CONFIG, ...(Object.fromEntries(set) as Partial<RcConfig>) };
}

/** The state machine as the replica sees it: RcStateMachine, with the hub told of a restore and the leader loop of every apply. */
class WatchedMachine implements StateMachine {
  constructor(
    private readonly machine: RcStateMachine,
    private readonly hub: GraphWatchHub,
    private readonly history: History,
    private readonly onApplied: (result: RcApplyResult) => void,
  ) {}

  apply(entry: Entry): Uint8Array {
    const result = this.machine.applyEntry(entry);
    this.onApplied(result);
    return RcApplyResult.encode(result).finish();
  }

  snapshot(): Uint8Array {
    return this.machine.snapshot();
  }

  restore(data: Uint8Array): void {
    this.machine.restore(data);
    this.hub.reset(this.machine.lastApplied);
    this.history.reset(this.machine.lastApplied);
  }

  summary(): { count: number; hash: string } {
    return this.machine.summary();
  }
}

export class RcRuntime implements RcAccess {
  readonly machine: RcStateMachine;
  readonly hub = new GraphWatchHub();
  /** This replica's own record of what it applied (not replicated, not in the state hash). */
  readonly history = new History();
  readonly stateMachine: WatchedMachine;
  private readonly duties: RcLeaderDuties;
  private readonly clock = new LeaderClock();

  constructor(opts: RcRuntimeOptions) {
    this.machine = new RcStateMachine({
      config: rcConfigOf(opts.config()),
      onGraphChanges: (index, changes) => this.hub.publish(index, changes.map(changeMessage)),
      // Loudly: a fault is a bug or a broken rule. The state keeps the rule and
      // index (faultLog()); the error's text and stack are for this log only.
      onFault: (f) =>
        opts.logger.error(
          {
            index: f.index,
            code: f.code,
            rule: f.rule,
            key: f.key,
            event: f.eventId,
            err: f.error instanceof Error ? f.error.message : String(f.error),
            stack: f.error instanceof Error ? f.error.stack : undefined,
          },
          f.rule === ""
            ? "coordinator fault: undone and rejected"
            : `rule "${f.rule}" failed: undone; disable it with a rules-version entry if it keeps failing`,
        ),
      onTrace: (trace) => {
        this.history.record(trace);
        opts.instruments?.applied?.(trace);
      },
    });
    this.stateMachine = new WatchedMachine(this.machine, this.hub, this.history, (result) =>
      this.duties.applied(result),
    );
    this.duties = new RcLeaderDuties({
      selfId: opts.selfId,
      config: opts.config,
      machine: this.machine,
      // An option left undefined keeps its default.
      duties: {
        ...DEFAULT_RC_DUTIES,
        ...Object.fromEntries(Object.entries(opts.duties ?? {}).filter(([, v]) => v !== undefined)),
      },
      tls: opts.tls,
      logger: opts.logger,
      clock: this.clock,
      onAnswered: opts.instruments?.commandAnswered?.bind(opts.instruments),
    });
  }

  start(node: LeaderView): void {
    this.duties.start(node);
  }

  stop(): void {
    this.duties.stop();
  }

  heard(events: Event[]): void {
    this.duties.heard(events);
  }

  heardFrom(nodeId: string): void {
    this.duties.heardFrom(nodeId);
  }

  now(): number {
    return this.clock.now();
  }
}
