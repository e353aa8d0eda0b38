// The recovery coordinator inside a replica: its state machine (wrapped so
// that watchers follow every applied change and a snapshot install), the
// graph-watch hub, and the leader's duties. Replica creates one unless it is
// told to run the hash-chain test machine.
import type { ClusterConfig } from "../config/index.js";
import { RcApplyResult, type Event } from "../gen/halon/v1/events.js";
import type { Logger } from "../log/logger.js";
import { DEFAULT_RC_CONFIG, encodeStateCheck, History, RcStateMachine, type RcConfig } from "../rc/index.js";
import type { StateCapture, StateMachine } from "../raft/storage.js";
import type { Entry } from "../raft/types.js";
import type { TlsSource } from "../raft/transport/tls.js";
import { DivergenceWatch, type Divergence } from "./divergence.js";
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
import { StateHashes, type KnownHash } from "./state-hashes.js";

export interface RcRuntimeOptions {
  selfId: string;
  /** The cluster config as the replica knows it now. */
  config: () => ClusterConfig;
  logger: Logger;
  duties?: Partial<RcDutiesConfig>;
  /** For delivering commands to node services over mutual TLS. */
  tls?: TlsSource;
  /** Measures what the coordinator does (metrics); optional. */
  instruments?: Pick<ReplicaInstruments, "applied" | "commandAnswered" | "stateDiverged">;
  /**
   * Replicas hash their state at every index that is a multiple of this and
   * compare (divergence.ts); 0 turns the comparison off. Default 10,000 (as often as snapshots by default).
   */
  stateCheckEvery?: number;
  /** At least this long between two background hashes for the status (default 250 ms). */
  hashRefreshMs?: number;
}

export const DEFAULT_STATE_CHECK_EVERY = 10_000;

/**
 * The coordinator's tunables from the config's `recovery` block, defaults for
 * what it leaves out. Read once at start: they define the replicated state, so
 * they cannot change under a running state machine.
 */
export function rcConfigOf(config: ClusterConfig): RcConfig {
  const set = Object.entries(config.recovery).filter(([, v]) => v !== undefined);
  return { ...DEFAULT_RC_CONFIG, ...(Object.fromEntries(set) as Partial<RcConfig>) };
}

/**
 * The state machine as the replica sees it: RcStateMachine, with the hub told
 * of a restore, the leader loop told of every apply, and the state hashes kept
 * off the hot path.
 */
class WatchedMachine implements StateMachine {
  constructor(
    private readonly machine: RcStateMachine,
    private readonly hub: GraphWatchHub,
    private readonly history: History,
    private readonly hashes: StateHashes,
    private readonly watch: DivergenceWatch,
    private readonly onApplied: (result: RcApplyResult) => void,
  ) {}

  apply(entry: Entry): Uint8Array {
    const result = this.machine.applyEntry(entry);
    this.hashes.applied(entry.index);
    this.onApplied(result);
    return RcApplyResult.encode(result).finish();
  }

  snapshot(): Uint8Array {
    return this.machine.snapshot();
  }

  /** A snapshot's state, captured now and encoded in the background (its hash is kept too). */
  capture(): StateCapture {
    return this.hashes.captureForSnapshot();
  }

  restore(data: Uint8Array): void {
    this.machine.restore(data);
    this.hashes.reset();
    this.watch.reset();
    this.hub.reset(this.machine.lastApplied);
    this.history.reset(this.machine.lastApplied);
  }

  /** The newest state hash computed and the index it is of; never computes one (undefined before the first). */
  summary(): { count: number; hash: string } | undefined {
    const known = this.hashes.known();
    return known === null ? undefined : { count: known.index, hash: known.hash };
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
  private readonly hashes: StateHashes;
  private readonly watch: DivergenceWatch;
  private node: LeaderView | null = null;

  constructor(opts: RcRuntimeOptions) {
    const checkEvery = opts.stateCheckEvery ?? DEFAULT_STATE_CHECK_EVERY;
    if (checkEvery === 1 || checkEvery < 0 || !Number.isSafeInteger(checkEvery))
      throw new Error(`stateCheckEvery ${checkEvery}: 0 (off) or an integer of at least 2`);
    this.watch = new DivergenceWatch({
      selfId: opts.selfId,
      mine: (index) => this.hashes.checkpoint(index),
      onDiverged: (d) => {
        opts.logger.error(
          {
            alarm: "DIVERGED",
            index: d.index,
            self: opts.selfId,
            other: d.other,
            mine: d.mine,
            theirs: d.theirs,
          },
          `state divergence: at index ${d.index} replica ${opts.selfId} has state hash ${d.mine.slice(0, 16)}… ` +
            `and replica ${d.other} ${d.theirs.slice(0, 16)}…; alarm DIVERGED raised (rebuild the replica that differs)`,
        );
        opts.instruments?.stateDiverged?.(d);
      },
    });
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
      onStateCheck: (check) => this.watch.seen(check),
    });
    this.hashes = new StateHashes(this.machine, {
      checkEvery,
      refreshIntervalMs: opts.hashRefreshMs ?? 250,
      onCheckpoint: (h) => this.checkpointed(h, opts.selfId),
      onError: (err) => opts.logger.warn({ err: String(err) }, "could not hash the state"),
    });
    this.stateMachine = new WatchedMachine(
      this.machine,
      this.hub,
      this.history,
      this.hashes,
      this.watch,
      (result) => this.duties.applied(result),
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
    this.node = node;
    this.duties.start(node);
  }

  stop(): void {
    this.hashes.stop();
    this.duties.stop();
  }

  stateHash(): string {
    const known = this.hashes.known();
    return known === null ? "" : `${known.index}:${known.hash}`;
  }

  /** The first divergence this replica saw (the DIVERGED alarm), or null. */
  get divergence(): Divergence | null {
    return this.watch.divergence;
  }

  /** State checks compared here, and how many differed. */
  get stateChecks(): { checked: number; diverged: number } {
    return this.watch.stats;
  }

  /** This replica's hash at a checkpoint: compared with a check that came first; the leader proposes it. */
  private checkpointed(h: KnownHash, selfId: string): void {
    this.watch.checkpoint(h.index, h.hash);
    const node = this.node;
    if (node === null || !node.isLeader) return;
    // Lost with a leadership change: the next leader checks the next checkpoint.
    node.propose(encodeStateCheck(this.clock.now(), h.index, h.hash, selfId)).catch(() => undefined);
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
