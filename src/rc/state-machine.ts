// The replicated state machine of the recovery coordinator: what every
// replica applies to each committed entry of the log (src/raft's StateMachine).
//
// apply() never throws for bad input: an undecodable entry, an unknown rules
// version or a bad event becomes a typed refusal in the returned result, and
// the same refusal on every replica.
import {
  EventOutcome,
  RcApplyResult,
  RcEntry,
  type Command,
  type EventResult,
} from "../gen/halon/v1/events.js";
import type { Event } from "../gen/halon/v1/events.js";
import {
  Graph,
  GraphError,
  graphFromData,
  graphToData,
  HALON_SCHEMA,
  CompiledSchema,
  sha256Hex,
  type GraphChange,
} from "../graph/index.js";
import { EntryType, type Entry } from "../raft/types.js";
import type { StateMachine } from "../raft/storage.js";
import { DEFAULT_RC_CONFIG, KNOWN_RULES_VERSIONS, type RcConfig } from "./config.js";
import { Coordinator, type UnknownRecord } from "./coordinator.js";
import { DedupTable } from "./dedup.js";
import { RcRejection } from "./domain.js";
import { Outbox } from "./outbox.js";
import { RuleRunner, rulesFor } from "./rules/runner.js";
import {
  RC_SNAPSHOT_FORMAT,
  RC_SNAPSHOT_VERSION,
  RcSnapshotError,
  type IncidentRecord,
  type RcStateData,
} from "./snapshot-data.js";
import { sortedKeysDeep } from "./plain.js";
import { eventId, validateEvent } from "./validate.js";
import { eventSubjects, type CauseTrace, type EntryTrace, type TraceCause } from "./trace.js";

const SCHEMA = new CompiledSchema(HALON_SCHEMA);
const INCIDENTS_KEPT = 100;

export interface RcStateMachineOptions {
  config?: RcConfig;
  /** Called after each applied entry with the graph changes it made (for watchers). Not state. */
  onGraphChanges?: (index: number, changes: GraphChange[]) => void;
  /**
   * Called after each applied entry with what it did, cause by cause (for
   * history and explain). Not state; costs a little per entry while set.
   */
  onTrace?: (trace: EntryTrace) => void;
}

const OUTCOME_NAMES: Record<number, string> = {
  [EventOutcome.EVENT_OUTCOME_APPLIED]: "applied",
  [EventOutcome.EVENT_OUTCOME_DUPLICATE]: "duplicate",
  [EventOutcome.EVENT_OUTCOME_REJECTED]: "rejected",
  [EventOutcome.EVENT_OUTCOME_RECORDED_UNKNOWN]: "recorded_unknown",
  [EventOutcome.EVENT_OUTCOME_IGNORED_STALE]: "ignored_stale",
};

export class RcStateMachine implements StateMachine {
  readonly config: RcConfig;
  private onGraphChanges: ((index: number, changes: GraphChange[]) => void) | undefined;
  private appliedIndex = 0;
  private rulesVersion = 1;
  private dedup: DedupTable;
  private incidents: IncidentRecord = { count: 0, recent: [] };
  private coordinator: Coordinator;
  private readonly onTrace: ((trace: EntryTrace) => void) | undefined;
  /** While an entry is applied with onTrace set: its causes so far, the last one open. */
  private tracing: {
    causes: CauseTrace[];
    changes: GraphChange[];
    issuedMark: number;
    open: CauseTrace | null;
  } | null = null;
  private summaryCache: { count: number; hash: string } | undefined;

  constructor(options: RcStateMachineOptions = {}) {
    this.config = options.config ?? DEFAULT_RC_CONFIG;
    this.onGraphChanges = options.onGraphChanges;
    this.onTrace = options.onTrace;
    this.dedup = new DedupTable(this.config.dedupRetentionMs, this.config.dedupMaxIds);
    this.coordinator = new Coordinator(
      this.config,
      new Graph(SCHEMA),
      new Outbox(),
      RuleRunner.fresh(rulesFor(1, this.config)),
      { count: 0, recent: [] },
    );
  }

  // ---------------------------------------------------------------- StateMachine

  apply(entry: Entry): Uint8Array {
    return RcApplyResult.encode(this.applyEntry(entry)).finish();
  }

  /** apply() without the encoding: the result as a message. */
  applyEntry(entry: Entry): RcApplyResult {
    const c = this.coordinator;
    if (entry.index <= this.appliedIndex) {
      // Raft never applies an index twice; if a driver did, applying it again would break exactly-once.
      const error = `entry ${entry.index} is already applied (last applied ${this.appliedIndex})`;
      return { index: entry.index, events: [], commands: [], error, timeMs: c.now };
    }
    this.appliedIndex = entry.index;
    c.issued = [];
    const result: RcApplyResult = { index: entry.index, events: [], commands: [], error: "", timeMs: c.now };
    if (this.onTrace) this.startTrace({ kind: "timers" });
    if (entry.type === EntryType.Normal) {
      let decoded: RcEntry | undefined;
      try {
        decoded = RcEntry.decode(entry.data);
      } catch (err) {
        result.error = `undecodable entry: ${(err as Error).message}`;
      }
      if (decoded) this.applyDecoded(decoded, result);
    }
    if (this.tracing) this.closeCause();
    result.commands = c.issued;
    c.issued = [];
    result.timeMs = c.now;
    this.keepIncidents();
    const changes = this.tracing ? this.finishTrace(entry.index, result) : c.graph.takeChanges();
    if (this.onGraphChanges && changes.length > 0) this.onGraphChanges(entry.index, changes);
    return result;
  }

  /** Canonical JSON of the whole state (keys sorted: see plain.ts), as UTF-8. */
  snapshot(): Uint8Array {
    return Buffer.from(JSON.stringify(this.toData()), "utf8");
  }

  restore(data: Uint8Array): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(data).toString("utf8"));
    } catch (err) {
      throw new RcSnapshotError(`snapshot is not JSON: ${(err as Error).message}`);
    }
    this.fromData(parsed);
    this.summaryCache = undefined;
  }

  // ---------------------------------------------------------------- queries

  /** SHA-256 of the canonical state: equal on replicas that applied the same entries. */
  stateHash(): string {
    return sha256Hex(this.snapshot());
  }

  /**
   * The last applied index and the state hash there (for a replica's status).
   * The hash is computed once per index: it serialises the whole state.
   */
  summary(): { count: number; hash: string } {
    if (this.summaryCache?.count !== this.appliedIndex)
      this.summaryCache = { count: this.appliedIndex, hash: this.stateHash() };
    return this.summaryCache;
  }

  get graph(): Graph {
    return this.coordinator.graph;
  }

  get timeMs(): number {
    return this.coordinator.now;
  }

  get lastApplied(): number {
    return this.appliedIndex;
  }

  get epoch(): number {
    return this.coordinator.epoch();
  }

  /** Commands not yet acknowledged, oldest first: what a new leader's dispatcher delivers. */
  pendingCommands(): Command[] {
    return this.coordinator.outbox.pending();
  }

  /**
   * The nodes a pending broadcast (a command with target "*") is still for,
   * sorted: the dispatcher delivers the broadcast to each of them.
   */
  nodesAwaitingEpoch(): string[] {
    return this.coordinator.nodesAwaitingEpoch();
  }

  /** Nodes online in the graph, sorted: those the leader's failure detector watches. */
  onlineNodes(): string[] {
    return this.graph.byKind("Node").filter((id) => this.graph.attr(id, "state") === "online");
  }

  /** True when a rule timer is due by `now`: the leader should propose a Tick. */
  tickDue(now: number): boolean {
    const due = this.nextTimerDue();
    return due !== undefined && due <= now;
  }

  /** When the next rule timer falls due (log time), so the leader knows when to propose a Tick. */
  nextTimerDue(): number | undefined {
    return this.coordinator.rules.nextDue();
  }

  /** The phase of a rule instance ("process-recovery"/"node-recovery", key = process or node id). */
  rulePhase(rule: string, key: string): string | undefined {
    return this.coordinator.rules.phaseOf(rule, key);
  }

  unknownEvents(): Readonly<UnknownRecord> {
    return this.coordinator.unknown;
  }

  engineIncidents(): Readonly<IncidentRecord> {
    return this.incidents;
  }

  dedupSize(): number {
    return this.dedup.size;
  }

  // ---------------------------------------------------------------- internals

  private applyDecoded(decoded: RcEntry, result: RcApplyResult): void {
    const c = this.coordinator;
    if (decoded.events) {
      c.advanceTo(decoded.events.timeMs);
      this.dedup.expire(c.now);
      for (const ev of decoded.events.events) result.events.push(this.applyEvent(ev));
    } else if (decoded.tick) {
      c.advanceTo(decoded.tick.timeMs);
      this.dedup.expire(c.now);
    } else if (decoded.rulesVersion) {
      const v = decoded.rulesVersion.version;
      if (!KNOWN_RULES_VERSIONS.includes(v)) {
        result.error = `unknown rules version ${v}; this build runs ${KNOWN_RULES_VERSIONS.join(", ")}`;
        return;
      }
      c.advanceTo(decoded.rulesVersion.timeMs);
      if (this.tracing) this.openCause({ kind: "rules-version", version: v });
      if (v !== this.rulesVersion) {
        // Carry the rule state over through the CEP library's migrations.
        const engine = rulesFor(v, this.config);
        c.rules = RuleRunner.fromData(engine, c.rules.toData());
        this.rulesVersion = v;
      }
    } else {
      result.error = "empty entry: neither events, tick nor rules_version";
    }
  }

  private applyEvent(ev: Event): EventResult {
    if (!this.tracing) return this.applyEventUntraced(ev);
    const cause = {
      kind: "event" as const,
      eventId: "",
      name: "",
      source: ev.source,
      subjects: [] as string[],
      outcome: "",
      code: "",
      reason: "",
    };
    const open = this.openCause(cause);
    const r = this.applyEventUntraced(ev);
    cause.eventId = r.eventId;
    cause.outcome = OUTCOME_NAMES[r.outcome] ?? String(r.outcome);
    cause.code = r.code;
    cause.reason = r.reason;
    // Named only when kept: most events (heartbeats) change nothing and are left out.
    if (this.closeCause() === open) Object.assign(cause, eventSubjects(ev));
    return r;
  }

  private applyEventUntraced(ev: Event): EventResult {
    let id = "";
    try {
      id = eventId(ev);
      if (this.dedup.has(id))
        return {
          eventId: id,
          outcome: EventOutcome.EVENT_OUTCOME_DUPLICATE,
          code: "",
          reason: "already applied",
        };
      const domain = validateEvent(ev);
      const outcome = this.coordinator.handle(id, domain);
      this.dedup.remember(id, this.coordinator.now);
      return { eventId: id, outcome: outcome.outcome, code: "", reason: outcome.reason ?? "" };
    } catch (err) {
      return { eventId: id, outcome: EventOutcome.EVENT_OUTCOME_REJECTED, ...rejection(err) };
    }
  }

  // ---------------------------------------------------------------- tracing (not state)

  private startTrace(first: TraceCause): void {
    const trace: NonNullable<typeof this.tracing> = { causes: [], changes: [], issuedMark: 0, open: null };
    this.tracing = trace;
    this.coordinator.ruleObserver = (step) => trace.open?.rules.push(step);
    this.openCause(first);
  }

  /** Closes the open cause and opens the next; returns it. */
  private openCause(cause: TraceCause): CauseTrace {
    const t = this.tracing!;
    this.closeCause();
    t.open = { cause, rules: [], changes: [], commands: [] };
    return t.open;
  }

  /**
   * Closes the open cause with its graph changes and commands, and keeps it
   * unless it did nothing (a heartbeat of an online node, timers with none due).
   * Returns the cause when kept.
   */
  private closeCause(): CauseTrace | null {
    const t = this.tracing!;
    const open = t.open;
    if (!open) return null;
    t.open = null;
    const c = this.coordinator;
    const changes = c.graph.takeChanges();
    if (changes.length > 0) {
      t.changes.push(...changes);
      open.changes = changes;
    }
    if (c.issued.length > t.issuedMark) {
      open.commands = c.issued.slice(t.issuedMark);
      t.issuedMark = c.issued.length;
    }
    const k = open.cause;
    const quiet =
      open.rules.length === 0 &&
      changes.length === 0 &&
      open.commands.length === 0 &&
      (k.kind === "timers" || (k.kind === "event" && k.outcome === "applied"));
    if (quiet) return null;
    t.causes.push(open);
    return open;
  }

  /** Ends the entry's trace (its last cause closed), hands it over, and returns all its graph changes in order. */
  private finishTrace(index: number, result: RcApplyResult): GraphChange[] {
    const t = this.tracing!;
    this.tracing = null;
    this.coordinator.ruleObserver = null;
    if (result.error !== "")
      t.causes.push({ cause: { kind: "error", error: result.error }, rules: [], changes: [], commands: [] });
    this.onTrace!({ index, timeMs: result.timeMs, causes: t.causes });
    return t.changes;
  }

  private keepIncidents(): void {
    const fresh = this.coordinator.incidents;
    if (fresh.length === 0) return;
    this.incidents.count += fresh.length;
    this.incidents.recent.push(...fresh.map((i) => sortedKeysDeep(i)));
    if (this.incidents.recent.length > INCIDENTS_KEPT)
      this.incidents.recent.splice(0, this.incidents.recent.length - INCIDENTS_KEPT);
    this.coordinator.incidents = [];
  }

  private toData(): RcStateData {
    const c = this.coordinator;
    const graph = graphToData(c.graph);
    // Keys in sorted order, at every level (see plain.ts).
    return {
      appliedIndex: this.appliedIndex,
      dedup: this.dedup.toData(),
      format: RC_SNAPSHOT_FORMAT,
      graph: { edges: graph.edges, resources: graph.resources },
      incidents: this.incidents,
      outbox: c.outbox.toData(),
      rules: c.rules.toData(),
      rulesVersion: this.rulesVersion,
      timeMs: c.now,
      unknown: c.unknown,
      version: RC_SNAPSHOT_VERSION,
    };
  }

  private fromData(raw: unknown): void {
    if (typeof raw !== "object" || raw === null) throw new RcSnapshotError("snapshot must be an object");
    const d = raw as Partial<RcStateData>;
    if (d.format !== RC_SNAPSHOT_FORMAT)
      throw new RcSnapshotError(`not a coordinator snapshot (format ${d.format})`);
    if (d.version !== RC_SNAPSHOT_VERSION)
      throw new RcSnapshotError(`snapshot version ${d.version}; this build reads ${RC_SNAPSHOT_VERSION}`);
    const nums = ["appliedIndex", "timeMs", "rulesVersion"] as const;
    for (const k of nums)
      if (typeof d[k] !== "number" || !Number.isSafeInteger(d[k]))
        throw new RcSnapshotError(`${k} must be an integer`);
    if (!KNOWN_RULES_VERSIONS.includes(d.rulesVersion as number))
      throw new RcSnapshotError(`rules version ${d.rulesVersion} is unknown to this build`);
    if (!isOutboxData(d.outbox)) throw new RcSnapshotError("outbox is malformed");
    if (!isDedupData(d.dedup)) throw new RcSnapshotError("dedup table is malformed");
    if (!isUnknownRecord(d.unknown)) throw new RcSnapshotError("unknown-event record is malformed");
    if (typeof d.incidents !== "object" || d.incidents === null || !Array.isArray(d.incidents.recent))
      throw new RcSnapshotError("incident record is malformed");
    let graph: Graph;
    let rules: RuleRunner;
    try {
      graph = graphFromData(SCHEMA, d.graph, { owned: true });
      rules = RuleRunner.fromData(rulesFor(d.rulesVersion as number, this.config), d.rules);
    } catch (err) {
      throw new RcSnapshotError(`snapshot content refused: ${(err as Error).message}`);
    }
    // Everything checked: swap the new state in as a whole.
    const c = new Coordinator(this.config, graph, Outbox.fromData(d.outbox), rules, d.unknown);
    c.now = d.timeMs as number;
    this.coordinator = c;
    this.appliedIndex = d.appliedIndex as number;
    this.rulesVersion = d.rulesVersion as number;
    this.dedup = DedupTable.fromData(d.dedup, this.config.dedupRetentionMs, this.config.dedupMaxIds);
    this.incidents = d.incidents;
  }
}

function rejection(err: unknown): { code: string; reason: string } {
  if (err instanceof RcRejection) return { code: err.code, reason: err.message };
  if (err instanceof GraphError) {
    const code = err.code === "no-such-resource" ? "unknown-resource" : err.code;
    return { code, reason: err.message };
  }
  // A bug, not bad input; still the same answer on every replica, and no crash.
  return { code: "internal", reason: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
}

function isOutboxData(x: unknown): x is RcStateData["outbox"] {
  if (typeof x !== "object" || x === null) return false;
  const o = x as RcStateData["outbox"];
  return (
    Number.isSafeInteger(o.next) &&
    Array.isArray(o.pending) &&
    o.pending.every(
      (e) =>
        typeof e === "object" &&
        e !== null &&
        typeof e.slot === "string" &&
        typeof e.command === "object" &&
        e.command !== null &&
        typeof e.command.id === "string",
    )
  );
}

function isDedupData(x: unknown): x is RcStateData["dedup"] {
  if (typeof x !== "object" || x === null) return false;
  const { ids, times } = x as RcStateData["dedup"];
  return (
    Array.isArray(ids) &&
    Array.isArray(times) &&
    ids.length === times.length &&
    ids.every((id) => typeof id === "string") &&
    times.every((t) => Number.isFinite(t))
  );
}

function isUnknownRecord(x: unknown): x is UnknownRecord {
  if (typeof x !== "object" || x === null) return false;
  const u = x as UnknownRecord;
  return Number.isSafeInteger(u.count) && Array.isArray(u.recent);
}
