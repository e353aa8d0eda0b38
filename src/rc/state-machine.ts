// The replicated state machine of the recovery coordinator: what every
// replica applies to each committed entry of the log (src/raft's StateMachine).
//
// apply() is total: it returns for every entry. An undecodable entry, an
// unknown rules version or a bad event becomes a typed refusal in the returned
// result, the same on every replica. Each event, and each timer that falls
// due, is a transaction: when anything inside fails (a rule that throws, a
// bug), its changes are undone, the event gets a rejection with a stable code
// ("rule-failed", "internal"), the fault is recorded in the state (rule,
// index) and the error itself goes to the replica's log only: its text
// depends on the JavaScript engine and must not enter replicated state.
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
import { assert, rethrowAssertion } from "../util/assert.js";
import type { StateMachine } from "../raft/storage.js";
import { DEFAULT_RC_CONFIG, KNOWN_RULES_VERSIONS, type RcConfig } from "./config.js";
import { Coordinator, RuleFailed, type TimerFault, type UnknownRecord } from "./coordinator.js";
import { DedupTable } from "./dedup.js";
import { RcRejection } from "./domain.js";
import { Outbox } from "./outbox.js";
import { RULE_NAMES, RuleRunner, rulesFor } from "./rules/runner.js";
import {
  RC_SNAPSHOT_FORMAT,
  RC_SNAPSHOT_VERSION,
  RcSnapshotError,
  type FaultLog,
  type FaultRecord,
  type IncidentRecord,
  type RcStateData,
} from "./snapshot-data.js";
import { sortedKeysDeep } from "./plain.js";
import { StateCapture, type FieldPiece } from "./state-capture.js";
import { BOUNDS, eventId, validateBody } from "./validate.js";
import { eventSubjects, type CauseTrace, type EntryTrace, type TraceCause } from "./trace.js";

const SCHEMA = new CompiledSchema(HALON_SCHEMA);
const INCIDENTS_KEPT = 100;
const FAULTS_KEPT = 100;

/** What the replica's log gets about a fault: everything, the error's text and stack included. Not state. */
export interface FaultReport {
  index: number;
  code: string;
  rule: string;
  key: string;
  eventId: string;
  error: unknown;
}

export interface RcStateMachineOptions {
  config?: RcConfig;
  /** Called after each applied entry with the graph changes it made (for watchers). Not state. */
  onGraphChanges?: (index: number, changes: GraphChange[]) => void;
  /** Called for every fault (undone event or timer), for the replica's log. Not state. */
  onFault?: (fault: FaultReport) => void;
  /**
   * Called after each applied entry with what it did, cause by cause (for
   * history and explain). Not state; costs a little per entry while set.
   * Undone events and timers leave nothing in it but the event's rejection.
   */
  onTrace?: (trace: EntryTrace) => void;
  /**
   * Called when a state-check entry is applied: another replica's hash at an
   * earlier index, for this replica to compare with its own. Not state.
   */
  onStateCheck?: (check: StateCheckSeen) => void;
}

/** A state-check entry as applied: `replicaId` hashed its state at `index` to `hash`; the entry is at `at`. */
export interface StateCheckSeen {
  at: number;
  index: number;
  hash: string;
  replicaId: string;
}

const OUTCOME_NAMES: Record<number, string> = {
  [EventOutcome.EVENT_OUTCOME_APPLIED]: "applied",
  [EventOutcome.EVENT_OUTCOME_DUPLICATE]: "duplicate",
  [EventOutcome.EVENT_OUTCOME_REJECTED]: "rejected",
  [EventOutcome.EVENT_OUTCOME_RECORDED_UNKNOWN]: "recorded_unknown",
  [EventOutcome.EVENT_OUTCOME_IGNORED_STALE]: "ignored_stale",
};

/** The snapshot's fields whose keys sort before "graph". */
type BeforeGraph = "appliedIndex" | "dedup" | "disabledRules" | "faults" | "format";

export class RcStateMachine implements StateMachine {
  readonly config: RcConfig;
  private onGraphChanges: ((index: number, changes: GraphChange[]) => void) | undefined;
  private onFault: ((fault: FaultReport) => void) | undefined;
  private appliedIndex = 0;
  /** The term of the last entry applied here (0 after a restore). Not state: only for an assertion. */
  private appliedTerm = 0;
  private rulesVersion = 1;
  private disabledRules: string[] = [];
  private faults: FaultLog = { byRule: {}, count: 0, recent: [] };
  private dedup: DedupTable;
  private incidents: IncidentRecord = { count: 0, recent: [] };
  private coordinator: Coordinator;
  private readonly onTrace: ((trace: EntryTrace) => void) | undefined;
  private readonly onStateCheck: ((check: StateCheckSeen) => void) | undefined;
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
    this.onFault = options.onFault;
    this.onTrace = options.onTrace;
    this.onStateCheck = options.onStateCheck;
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
    // Raft never applies an index twice, nor a term after a later one: a driver that
    // did would break exactly-once, so the replica stops rather than apply it.
    assert(
      entry.index > this.appliedIndex,
      () => `entry ${entry.index} after ${this.appliedIndex} is applied`,
    );
    assert(
      entry.term >= this.appliedTerm,
      () => `entry of term ${entry.term} after term ${this.appliedTerm}`,
    );
    this.appliedIndex = entry.index;
    this.appliedTerm = entry.term;
    c.outbox.applying(entry.index, entry.term);
    c.issued = [];
    const result: RcApplyResult = { index: entry.index, events: [], commands: [], error: "", timeMs: c.now };
    if (this.onTrace) this.startTrace({ kind: "timers" });
    if (entry.type === EntryType.Normal) {
      let decoded: RcEntry | undefined;
      try {
        decoded = RcEntry.decode(entry.data);
      } catch {
        // The decoder's own text is a library's: the result says only what it is.
        result.error = "undecodable entry: not an RcEntry message";
      }
      try {
        if (decoded) this.applyDecoded(decoded, result);
      } catch (err) {
        rethrowAssertion(err);
        // Last resort, outside any event or timer (those are transactions of
        // their own): the entry stops here, the same way on every replica.
        result.error = "internal error while applying the entry (see the replicas' logs)";
        this.recordFault({ code: "internal", rule: c.activeRule, key: "", eventId: "", error: err });
      }
    }
    for (const f of c.timerFaults) this.recordTimerFault(f);
    c.timerFaults = [];
    this.logRuleErrors();
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

  /**
   * The state at the last applied index, to be encoded later without holding
   * up the event loop (see state-capture.ts): the graph is frozen copy-on-write;
   * the large fields that are copies already (the id table, the rule state) or
   * lists of entries never changed in place (the outbox) are encoded in turns of
   * their own; the rest, which is small and live, now. Its bytes equal snapshot()'s.
   */
  capture(): StateCapture {
    const c = this.coordinator;
    // One list of fields with toData(), split around "graph" (keys in sorted order).
    const { before, after } = this.stateAroundGraph();
    return new StateCapture(this.appliedIndex, fieldPieces(before), c.graph.freeze(), fieldPieces(after));
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

  /**
   * Nodes online in the graph, in no particular order: those the leader's
   * failure detector watches. Live (it follows the graph) and kept by an index,
   * so that the leader's loop asks at every step at no cost, at 10,000 nodes too.
   */
  onlineNodes(): ReadonlySet<string> {
    return this.nodeStates().withAttr("Node", "state", "online");
  }

  /** Changes whenever a node goes online or stops being online (also across a restore). */
  onlineVersion(): number {
    return this.nodeStates().indexVersion("Node", "state");
  }

  private nodeStates(): Graph {
    const g = this.graph; // a restore builds a new graph: index it too
    g.indexBy("Node", "state");
    return g;
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

  /** Whether `n` more event ids fit in the dedup table (the gate refuses a batch that does not). */
  dedupHasRoom(n: number): boolean {
    return this.dedup.size + n <= this.config.dedupMaxIds;
  }

  /** Faults (undone events and timers) by rule, and the most recent ones with their index. */
  faultLog(): Readonly<FaultLog> {
    return this.faults;
  }

  /** The rules version and the rules switched off. */
  rules(): { version: number; disabled: readonly string[] } {
    return { version: this.rulesVersion, disabled: this.disabledRules };
  }

  // ---------------------------------------------------------------- internals

  private applyDecoded(decoded: RcEntry, result: RcApplyResult): void {
    const c = this.coordinator;
    const timeMs =
      decoded.events?.timeMs ??
      decoded.tick?.timeMs ??
      decoded.rulesVersion?.timeMs ??
      decoded.stateCheck?.timeMs;
    if (timeMs === undefined) {
      result.error = "empty entry: neither events, tick, rules_version nor state_check";
      return;
    }
    if (!Number.isSafeInteger(timeMs) || timeMs < 0 || timeMs > BOUNDS.timeMs) {
      result.error = `entry time ${timeMs} is outside 0..${BOUNDS.timeMs}`;
      return;
    }
    if (decoded.rulesVersion && !this.rulesChangeValid(decoded.rulesVersion, result)) return;
    c.advanceTo(this.boundedTime(timeMs));
    this.dedup.expire(c.now);
    if (decoded.events) {
      for (const ev of decoded.events.events) result.events.push(this.applyEvent(ev));
    } else if (decoded.stateCheck) {
      // Like a tick for the state; the comparison is the replica's, outside it.
      const { index, hash, replicaId } = decoded.stateCheck;
      this.onStateCheck?.({ at: this.appliedIndex, index, hash, replicaId });
    } else if (decoded.rulesVersion) {
      const { version, disabledRules } = decoded.rulesVersion;
      if (this.tracing) this.openCause({ kind: "rules-version", version });
      const disabled = [...new Set(disabledRules)].sort();
      if (version !== this.rulesVersion || disabled.join() !== this.disabledRules.join()) {
        // Carry the rule state over through the CEP library's migrations; a
        // disabled rule's state is dropped (it starts afresh if enabled again).
        const engine = rulesFor(version, this.config, disabled);
        const data = c.rules.toData() as { processors: Record<string, unknown> };
        const kept: Record<string, unknown> = {};
        for (const p of engine.processors)
          if (Object.hasOwn(data.processors, p.name)) kept[p.name] = data.processors[p.name];
        c.rules = RuleRunner.fromData(engine, { ...data, processors: kept });
        this.rulesVersion = version;
        this.disabledRules = disabled;
      }
    }
  }

  /**
   * Log time after an entry stamped `timeMs`: never back, and at most
   * maxTimeStepMs forward per entry. The first stamp sets it (from 0 to the
   * leader's wall time), unless a timer is already pending: then it too is
   * bounded, or a timer that re-arms itself would fire all the way up.
   */
  private boundedTime(timeMs: number): number {
    const c = this.coordinator;
    if (c.now === 0 && c.rules.nextDue() === undefined) return timeMs;
    return Math.min(timeMs, c.now + this.config.maxTimeStepMs);
  }

  private rulesChangeValid(change: NonNullable<RcEntry["rulesVersion"]>, result: RcApplyResult): boolean {
    if (!KNOWN_RULES_VERSIONS.includes(change.version)) {
      result.error = `unknown rules version ${change.version}; this build runs ${KNOWN_RULES_VERSIONS.join(", ")}`;
      return false;
    }
    const unknown = change.disabledRules.filter((r) => !RULE_NAMES.includes(r));
    if (unknown.length > 0) {
      result.error = `disabled_rules: no rule named ${unknown
        .slice(0, 3)
        .map((r) => JSON.stringify(r.slice(0, 64)))
        .join(", ")}; the rules are ${RULE_NAMES.join(", ")}`;
      return false;
    }
    return true;
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
    let id: string;
    try {
      id = eventId(ev);
    } catch (err) {
      return { eventId: "", outcome: EventOutcome.EVENT_OUTCOME_REJECTED, ...rejection(err, "") };
    }
    if (this.dedup.has(id))
      return {
        eventId: id,
        outcome: EventOutcome.EVENT_OUTCOME_DUPLICATE,
        code: "",
        reason: "already applied",
      };
    if (this.dedup.full)
      return {
        eventId: id,
        outcome: EventOutcome.EVENT_OUTCOME_REJECTED,
        code: "dedup-full",
        reason: "too many events within the dedup retention; send it again later",
      };
    let domain;
    try {
      domain = validateBody(ev); // the id is checked above
    } catch (err) {
      return { eventId: id, outcome: EventOutcome.EVENT_OUTCOME_REJECTED, ...rejection(err, "") };
    }
    const c = this.coordinator;
    const sp = c.savepoint();
    try {
      const outcome = c.handle(id, domain);
      c.checkRules(sp);
      c.commit();
      this.dedup.remember(id, c.now);
      return { eventId: id, outcome: outcome.outcome, code: "", reason: outcome.reason ?? "" };
    } catch (err) {
      rethrowAssertion(err); // a broken invariant stops the replica; it is no rule's fault
      // All or nothing: whatever the event changed before the failure is undone.
      const rule = err instanceof RuleFailed ? err.rule : c.activeRule;
      const eventRule = c.eventRule;
      c.undo(sp);
      const r = rejection(err, rule);
      if (r.code === "rule-failed" || r.code === "internal")
        this.recordFault({
          code: r.code,
          // Outside any recovery rule's intent, the event's own rule.
          rule: rule === "" ? eventRule : rule,
          key: err instanceof RuleFailed ? err.key : "",
          eventId: id,
          error: err,
        });
      return { eventId: id, outcome: EventOutcome.EVENT_OUTCOME_REJECTED, ...r };
    }
  }

  private recordTimerFault(f: TimerFault): void {
    rethrowAssertion(f.error);
    const code = f.error instanceof RuleFailed ? "rule-failed" : "internal";
    this.recordFault({ code, rule: f.rule, key: f.key, eventId: "", error: f.error });
  }

  /** Keeps the fault in the state (stable fields only) and hands the whole of it to the log. */
  private recordFault(f: Omit<FaultReport, "index">): void {
    const record: FaultRecord = {
      code: f.code,
      eventId: f.eventId,
      index: this.appliedIndex,
      key: f.key,
      rule: f.rule,
      time: this.coordinator.now,
    };
    this.faults.count++;
    this.faults.byRule[f.rule] = (this.faults.byRule[f.rule] ?? 0) + 1;
    this.faults.byRule = sortedKeysDeep(this.faults.byRule);
    this.faults.recent.push(record);
    if (this.faults.recent.length > FAULTS_KEPT) this.faults.recent.shift();
    this.onFault?.({ ...f, index: this.appliedIndex });
  }

  /** What rule functions threw goes to the replica's log (the state keeps only a code). */
  private logRuleErrors(): void {
    const texts = this.coordinator.rules.errorTexts;
    if (texts.length === 0) return;
    for (const t of texts)
      this.onFault?.({
        index: this.appliedIndex,
        code: `rule-threw:${t.during}`,
        rule: t.rule,
        key: t.key,
        eventId: "",
        error: t.message,
      });
    texts.length = 0;
  }

  // ---------------------------------------------------------------- tracing (not state)

  private startTrace(first: TraceCause): void {
    const trace: NonNullable<typeof this.tracing> = { causes: [], changes: [], issuedMark: 0, open: null };
    this.tracing = trace;
    this.coordinator.ruleSteps = [];
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
    // Never inside an event's or a timer's transaction: causes open and close
    // between them, so what an undo dropped (graph changes, commands, rule
    // steps) is already gone from the lists taken here.
    // No push(...list): a topology of 100,000 resources is more arguments than a call takes.
    if (c.ruleSteps !== null && c.ruleSteps.length > 0) {
      open.rules = c.ruleSteps;
      c.ruleSteps = [];
    }
    const changes = c.graph.takeChanges();
    if (changes.length > 0) {
      if (t.changes.length === 0)
        t.changes = changes.slice(); // a copy: open.changes is this array
      else for (const ch of changes) t.changes.push(ch);
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
    this.coordinator.ruleSteps = null;
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
    const graph = graphToData(this.coordinator.graph);
    const { before, after } = this.stateAroundGraph();
    // Keys in sorted order, at every level (see plain.ts).
    return { ...before, graph: { edges: graph.edges, resources: graph.resources }, ...after };
  }

  /** The state but its graph, as the fields sorted before "graph" and those after it. */
  private stateAroundGraph(): {
    before: Pick<RcStateData, BeforeGraph>;
    after: Omit<RcStateData, BeforeGraph | "graph">;
  } {
    const c = this.coordinator;
    return {
      before: {
        appliedIndex: this.appliedIndex,
        dedup: this.dedup.toData(),
        disabledRules: this.disabledRules,
        faults: this.faults,
        format: RC_SNAPSHOT_FORMAT,
      },
      after: {
        incidents: this.incidents,
        outbox: c.outbox.toData(),
        rules: c.rules.toData(),
        rulesVersion: this.rulesVersion,
        timeMs: c.now,
        unknown: c.unknown,
        version: RC_SNAPSHOT_VERSION,
      },
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
    const disabled = d.disabledRules ?? [];
    if (!Array.isArray(disabled) || !disabled.every((r) => RULE_NAMES.includes(r)))
      throw new RcSnapshotError("disabled rules are malformed");
    const faults = d.faults ?? { byRule: {}, count: 0, recent: [] };
    if (!isFaultLog(faults)) throw new RcSnapshotError("fault record is malformed");
    let graph: Graph;
    let rules: RuleRunner;
    try {
      graph = graphFromData(SCHEMA, d.graph, { owned: true });
      rules = RuleRunner.fromData(rulesFor(d.rulesVersion as number, this.config, disabled), d.rules);
    } catch (err) {
      throw new RcSnapshotError(`snapshot content refused: ${(err as Error).message}`);
    }
    // Everything checked: swap the new state in as a whole.
    const c = new Coordinator(this.config, graph, Outbox.fromData(d.outbox), rules, d.unknown);
    c.now = d.timeMs as number;
    this.coordinator = c;
    this.appliedIndex = d.appliedIndex as number;
    this.appliedTerm = 0;
    this.rulesVersion = d.rulesVersion as number;
    this.dedup = DedupTable.fromData(d.dedup, this.config.dedupRetentionMs, this.config.dedupMaxIds);
    this.incidents = d.incidents;
    this.faults = faults;
    this.disabledRules = disabled;
  }
}

/** Graph errors that an event's content can cause (the rest are the coordinator's bugs). */
const INPUT_GRAPH_CODES = new Set(["no-such-resource", "duplicate-resource", "bad-id", "cardinality"]);

function rejection(err: unknown, rule: string): { code: string; reason: string } {
  if (err instanceof RcRejection) return { code: err.code, reason: err.message };
  if (err instanceof RuleFailed)
    return { code: "rule-failed", reason: `${err.message}; the event was undone (see the replicas' logs)` };
  if (err instanceof GraphError && rule === "" && INPUT_GRAPH_CODES.has(err.code)) {
    const code = err.code === "no-such-resource" ? "unknown-resource" : err.code;
    return { code, reason: err.message };
  }
  // A bug, not bad input: the same answer on every replica, no engine text, no crash.
  const where = rule === "" ? "" : ` carrying out rule "${rule}"`;
  return {
    code: "internal",
    reason: `internal error${where}; the event was undone (see the replicas' logs)`,
  };
}

function isFaultLog(x: unknown): x is FaultLog {
  if (typeof x !== "object" || x === null) return false;
  const f = x as FaultLog;
  return (
    Number.isSafeInteger(f.count) &&
    typeof f.byRule === "object" &&
    f.byRule !== null &&
    Object.values(f.byRule).every((n) => Number.isSafeInteger(n)) &&
    Array.isArray(f.recent)
  );
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

/** Fields whose values are the state machine's own copies, or never changed in place: safe to encode later. */
const ENCODED_LATER: ReadonlySet<string> = new Set(["dedup", "outbox", "rules"]);

/**
 * An object's JSON, field by field in its key order (as JSON.stringify writes
 * it), the fields of ENCODED_LATER left as functions for the capture to call
 * in turns of their own.
 */
function fieldPieces(fields: object): FieldPiece[] {
  const out: FieldPiece[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue; // as JSON.stringify
    const name = JSON.stringify(key);
    out.push(
      ENCODED_LATER.has(key)
        ? { name, later: () => JSON.stringify(value) }
        : { name, json: JSON.stringify(value) },
    );
  }
  return out;
}
