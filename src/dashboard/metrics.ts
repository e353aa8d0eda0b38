// Prometheus metrics of one replica, with prom-client, served at /metrics on
// the dashboard port. Counters and histograms are fed by the replica's
// instruments (src/api/replica-instruments.ts) as things happen; gauges are
// read from the replica when Prometheus scrapes. One registry per replica, so
// that replicas in one process (tests) do not mix.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { status as grpcStatus, type ServiceError } from "@grpc/grpc-js";
import type { ReplicaInstruments } from "../api/replica-instruments.js";
import type { HalonServiceServer } from "../gen/halon/v1/client.js";
import type { Command } from "../gen/halon/v1/events.js";
import type { EntryTrace, RcStateMachine } from "../rc/index.js";
import type { LogStore, SnapshotStore, StateMachine } from "../raft/storage.js";

/** What the gauges read at scrape time. */
export interface MetricsSource {
  status(): {
    term: number;
    commitIndex: number;
    appliedIndex: number;
    lastLogIndex: number;
    snapshotIndex: number;
    role: number;
    alarms: string[];
  };
  /** The coordinator's state machine, when the replica runs it. */
  machine(): RcStateMachine | null;
}

const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];
const DELIVERY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const CODE_NAMES = Object.fromEntries(Object.entries(grpcStatus).map(([name, code]) => [code, name]));

function seconds(startNs: bigint): number {
  return Number(process.hrtime.bigint() - startNs) / 1e9;
}

export class ReplicaMetrics implements ReplicaInstruments {
  readonly registry = new Registry();
  private source: MetricsSource | null = null;

  // Histograms carry no labels: one family per thing timed (Prometheus adds the instance).
  private readonly leaderChanges: Counter;
  private readonly append: Histogram;
  private readonly fsync: Histogram;
  private readonly snapshotBytes: Gauge;
  private readonly snapshotSeconds: Record<"create" | "save" | "restore", Histogram>;
  private readonly events: Counter<"kind" | "outcome">;
  private readonly rulesFired: Counter<"rule" | "intent">;
  private readonly commandsIssued: Counter<"kind">;
  private readonly delivery: Histogram;
  private readonly grpcRequests: Counter<"method" | "code">;
  private readonly answers: Counter<"kind" | "ok">;
  private readonly divergences: Counter;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "" });
    // collect() runs with `this` bound to the gauge: read the replica through a closure.
    const src = () => this.source;
    new Gauge({
      name: "halon_raft_term",
      help: "The Raft term this replica is in.",
      registers,
      collect() {
        if (src()) this.set(src()!.status().term);
      },
    });
    new Gauge({
      name: "halon_raft_is_leader",
      help: "1 when this replica is the leader.",
      registers,
      collect() {
        if (src()) this.set(src()!.status().role === 3 ? 1 : 0);
      },
    });
    const index = (name: string, help: string, read: (s: ReturnType<MetricsSource["status"]>) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          if (src()) this.set(read(src()!.status()));
        },
      });
    index("halon_raft_commit_index", "The highest log index known to be committed.", (s) => s.commitIndex);
    index(
      "halon_raft_applied_index",
      "The highest log index applied to the state machine.",
      (s) => s.appliedIndex,
    );
    index("halon_raft_last_log_index", "The last index in this replica's log.", (s) => s.lastLogIndex);
    index(
      "halon_raft_snapshot_index",
      "The last index covered by this replica's newest snapshot.",
      (s) => s.snapshotIndex,
    );
    this.leaderChanges = new Counter({
      name: "halon_raft_leader_changes_total",
      help: "Times this replica saw the leader change (including to no leader).",
      registers,
    });
    this.append = new Histogram({
      name: "halon_raft_log_append_seconds",
      help: "Appending entries to the LevelDB log, one synced batch (write and fsync).",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.fsync = new Histogram({
      name: "halon_raft_log_fsync_seconds",
      help: "Every synced write to the LevelDB log (entries, or the hard state alone): one batch, dominated by the fsync.",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.snapshotBytes = new Gauge({
      name: "halon_raft_snapshot_size_bytes",
      help: "Size of the last snapshot saved or restored.",
      registers,
    });
    const snapshotHistogram = (phase: string, help: string) =>
      new Histogram({
        name: `halon_raft_snapshot_${phase}_seconds`,
        help,
        buckets: LATENCY_BUCKETS,
        registers,
      });
    this.snapshotSeconds = {
      create: snapshotHistogram("create", "Serialising the state machine for a snapshot."),
      save: snapshotHistogram("save", "Writing a snapshot file (synced)."),
      restore: snapshotHistogram("restore", "Installing a snapshot into the state machine."),
    };
    this.events = new Counter({
      name: "halon_rc_events_total",
      help: "Events the coordinator applied, by kind (event body) and outcome.",
      labelNames: ["kind", "outcome"],
      registers,
    });
    this.rulesFired = new Counter({
      name: "halon_rc_rules_fired_total",
      help: "What the CEP rules asked the coordinator to do, by rule and intent.",
      labelNames: ["rule", "intent"],
      registers,
    });
    this.commandsIssued = new Counter({
      name: "halon_rc_commands_issued_total",
      help: "Commands the coordinator put in the outbox, by kind.",
      labelNames: ["kind"],
      registers,
    });
    new Gauge({
      name: "halon_rc_outbox_size",
      help: "Commands decided and not yet acknowledged.",
      registers,
      collect() {
        const m = src()?.machine();
        if (m) this.set(m.pendingCommands().length);
      },
    });
    this.delivery = new Histogram({
      name: "halon_rc_command_delivery_seconds",
      help: "From a command's decision (log time) to the node service's answer, on the leader that delivered it.",
      buckets: DELIVERY_BUCKETS,
      registers,
    });
    this.answers = new Counter({
      name: "halon_rc_command_answers_total",
      help: "Node services' answers to delivered commands, by command kind and whether it succeeded (leader).",
      labelNames: ["kind", "ok"],
      registers,
    });
    new Gauge({
      name: "halon_rc_nodes",
      help: "Node services in the graph, by state.",
      labelNames: ["state"],
      registers,
      collect() {
        const m = src()?.machine();
        if (!m) return;
        this.reset();
        for (const state of ["online", "transient", "down"]) this.set({ state }, 0);
        for (const id of m.graph.byKind("Node")) this.inc({ state: String(m.graph.attr(id, "state")) });
      },
    });
    new Gauge({
      name: "halon_rc_epoch",
      help: "The cluster epoch.",
      registers,
      collect() {
        const m = src()?.machine();
        if (m) this.set(m.epoch);
      },
    });
    this.divergences = new Counter({
      name: "halon_state_divergences_total",
      help: "State checks at which this replica's state hash differed from another replica's (alarm DIVERGED).",
      registers,
    });
    new Gauge({
      name: "halon_state_diverged",
      help: "1 while the DIVERGED alarm is raised: this replica's state differs from another replica's.",
      registers,
      collect() {
        if (src()) this.set(src()!.status().alarms.includes("DIVERGED") ? 1 : 0);
      },
    });
    this.grpcRequests = new Counter({
      name: "halon_grpc_requests_total",
      help: "Client-service calls answered, by method and gRPC status code.",
      labelNames: ["method", "code"],
      registers,
    });
  }

  /** Where the gauges read from; set once the replica runs. */
  attach(source: MetricsSource): void {
    this.source = source;
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  // ------------------------------------------------------------ ReplicaInstruments

  logStore(store: LogStore): LogStore {
    const append = this.append;
    const fsync = this.fsync;
    // Every other method, optional ones included (reopen after a full disk, the storage
    // identity), is the store's own: the driver checks which ones the store has.
    // Methods are bound to the store, so that its own fields stay its own.
    const persist: LogStore["persist"] = async (update) => {
      const start = process.hrtime.bigint();
      await store.persist(update);
      const s = seconds(start);
      const hasEntries = (update.entries?.length ?? 0) > 0;
      if (hasEntries) append.observe(s);
      fsync.observe(s);
    };
    return new Proxy(store, {
      get(target, prop) {
        if (prop === "persist") return persist;
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  snapshotStore(store: SnapshotStore): SnapshotStore {
    const { snapshotSeconds, snapshotBytes } = this;
    return {
      async save(snapshot) {
        const start = process.hrtime.bigint();
        await store.save(snapshot);
        snapshotSeconds.save.observe(seconds(start));
        snapshotBytes.set(snapshot.data.length);
      },
      latest: () => store.latest(),
      close: () => store.close(),
    };
  }

  stateDiverged(): void {
    this.divergences.inc();
  }

  stateMachine(machine: StateMachine): StateMachine {
    const { snapshotSeconds, snapshotBytes } = this;
    return {
      apply: (entry) => machine.apply(entry),
      snapshot() {
        const start = process.hrtime.bigint();
        const data = machine.snapshot();
        snapshotSeconds.create.observe(seconds(start));
        return data;
      },
      // The quick capture and its encoding in the background: timed from the capture to the bytes.
      ...(machine.capture && {
        capture: () => {
          const start = process.hrtime.bigint();
          const captured = machine.capture!();
          return {
            persist: async () => {
              const data = await captured.persist();
              snapshotSeconds.create.observe(seconds(start));
              return data;
            },
          };
        },
      }),
      restore(data) {
        const start = process.hrtime.bigint();
        machine.restore(data);
        snapshotSeconds.restore.observe(seconds(start));
        snapshotBytes.set(data.length);
      },
    };
  }

  service(service: HalonServiceServer): HalonServiceServer {
    const wrapped: Record<string, unknown> = {};
    for (const [method, handler] of Object.entries(service) as [string, (...a: unknown[]) => void][]) {
      const name = method.charAt(0).toUpperCase() + method.slice(1);
      const count = (code: number) =>
        this.grpcRequests.inc({ method: name, code: CODE_NAMES[code] ?? String(code) });
      wrapped[method] = (
        call: { on?: (e: string, f: (x?: unknown) => void) => void },
        callback?: unknown,
      ) => {
        if (typeof callback === "function") {
          const cb = callback as (err: ServiceError | null, res?: unknown) => void;
          handler(call, (err: ServiceError | null, res?: unknown) => {
            count(err ? (err.code ?? grpcStatus.UNKNOWN) : grpcStatus.OK);
            cb(err, res);
          });
          return;
        }
        // A server stream (WatchGraph): counted when it ends.
        let done = false;
        const end = (code: number) => {
          if (!done) count(code);
          done = true;
        };
        call.on?.("finish", () => end(grpcStatus.OK));
        call.on?.("cancelled", () => end(grpcStatus.CANCELLED));
        call.on?.("error", (e) => end((e as ServiceError | undefined)?.code ?? grpcStatus.UNKNOWN));
        handler(call);
      };
    }
    return wrapped as unknown as HalonServiceServer;
  }

  leaderChanged(): void {
    this.leaderChanges.inc();
  }

  applied(trace: EntryTrace): void {
    for (const c of trace.causes) {
      if (c.cause.kind === "event")
        this.events.inc({ kind: c.cause.name || "none", outcome: c.cause.outcome });
      for (const step of c.rules)
        for (const i of step.intents) this.rulesFired.inc({ rule: i.rule, intent: i.intent.do });
      for (const cmd of c.commands) this.commandsIssued.inc({ kind: commandKind(cmd) });
    }
  }

  commandAnswered(command: Command, ok: boolean): void {
    // issuedAtMs is the leader's clock when the decision was proposed: a leader's own clock, so
    // the difference is meaningful on the leader that delivers (as this one does).
    const s = Math.max(0, Date.now() - command.issuedAtMs) / 1000;
    this.delivery.observe(s);
    this.answers.inc({ kind: commandKind(command), ok: String(ok) });
  }
}

/** The command's body (respawnProcess, epochTransition...): its only field that is a message. */
function commandKind(c: Command): string {
  for (const [k, v] of Object.entries(c)) if (typeof v === "object" && v !== null) return k;
  return "none";
}
