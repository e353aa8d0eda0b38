// The recovery coordinator: the rule network of docs/rc.md run over each
// validated event and each timer, one transaction at a time. An event goes to
// its rule (rules/event-rules.ts), which checks it against the graph, records
// it, and feeds the CEP recovery rules; what those ask for is carried out
// under their name (rules/intents.ts), and may feed them again. Here: the
// transactions (savepoint, commit, undo), the CEP steps, and the trace of
// every step for history and explain. Everything is deterministic: no clock
// but `now`, sorted iteration only. Epochs and the broadcast bookkeeping live
// in epochs.ts.
import type { Command } from "../gen/halon/v1/events.js";
import type { Graph, GraphSavepoint } from "../graph/index.js";
import type { RcConfig } from "./config.js";
import type { DomainEvent } from "./domain.js";
import { Epochs } from "./epochs.js";
import type { CommandBody, Network, Outcome } from "./network.js";
import type { Outbox, OutboxSavepoint } from "./outbox.js";
import { EVENT_RULES, eventKey, takeEvent } from "./rules/event-rules.js";
import { carryOut } from "./rules/intents.js";
import type { EngineIncident, RuleRunner, TimedIntent } from "./rules/runner.js";
import type { RuleEvent } from "./rules/types.js";
import { ruleEventSubject, type PhaseChange, type RuleStepTrace } from "./trace.js";

export interface UnknownRecord {
  count: number;
  /** [event id, name, time], oldest first, at most config.unknownEventsKept. */
  recent: [string, string, number][];
}

/** Where a transaction (one event, or one timer) started. */
export interface CoordinatorSavepoint {
  graph: GraphSavepoint;
  outbox: OutboxSavepoint;
  issued: number;
  incidents: number;
  /** Trace steps taken before it (not state). */
  ruleSteps: number;
}

/** A rule function threw while the transaction ran: the whole transaction is undone. */
export class RuleFailed extends Error {
  constructor(
    readonly rule: string,
    readonly key: string,
    readonly during: string,
  ) {
    super(`rule "${rule}" failed (${during}) on "${key}"`);
    this.name = "RuleFailed";
  }
}

/** A timer whose work failed: undone, and its rule instance dropped (it would fail again at once). */
export interface TimerFault {
  rule: string;
  key: string;
  due: number;
  error: unknown;
}

export class Coordinator implements Network {
  /** Log time: the largest entry time seen; never goes back. */
  now = 0;
  /** Epochs, failure vectors and the broadcast's bookkeeping (derived from the graph). */
  epochs: Epochs;
  /** Commands issued since the caller last took them (for the apply result). */
  issued: Command[] = [];
  incidents: EngineIncident[] = [];
  /** Timers undone since the caller last took them. */
  timerFaults: TimerFault[] = [];
  /** The rule whose intent is being carried out ("" outside), to name it when that fails. */
  activeRule = "";
  /** The rule of the event being applied ("" outside): a fault outside any intent is this rule's. */
  eventRule = "";
  /** The unknown-event record as it was at the savepoint, once an event changed it. */
  private unknownBefore: UnknownRecord | null = null;
  private inTransaction = false;
  /**
   * Not state: while someone traces (history and explain), every step of the
   * rule network (graph steps and CEP steps, trace.ts) as it is taken, until
   * the tracer takes them; null while nobody does (tracing costs a little). undo() drops the steps of the undone transaction,
   * as the graph drops its changes, so a trace never shows undone work.
   */
  ruleSteps: RuleStepTrace[] | null = null;
  /** Not state: while tracing, the graph steps open (innermost last) and where their next changes and commands begin. */
  private openSteps: RuleStepTrace[] = [];
  private stepChangeMark = 0;
  private stepIssuedMark = 0;

  constructor(
    readonly config: RcConfig,
    readonly graph: Graph,
    readonly outbox: Outbox,
    public rules: RuleRunner,
    readonly unknown: UnknownRecord,
  ) {
    this.epochs = new Epochs(graph, outbox, (slot, target, body) => this.issue(slot, target, body));
  }

  /** Nodes a broadcast EpochTransition (target "*") is still to be delivered to, sorted. */
  nodesAwaitingEpoch(): string[] {
    return this.epochs.nodesAwaiting();
  }

  /**
   * Moves time to `time` (if later) and carries out whatever timers fall due,
   * each timer a transaction of its own: one whose work fails is undone, its
   * rule instance dropped, and reported in timerFaults; the others go on.
   */
  advanceTo(time: number): void {
    if (time > this.now) this.now = time;
    for (;;) {
      const next = this.rules.nextTimer();
      if (next === undefined || next.due > this.now) break;
      const sp = this.savepoint();
      try {
        this.execute(this.step(null, next));
        this.checkRules(sp);
        this.commit();
      } catch (error) {
        this.undo(sp, { rule: next.rule, key: next.key });
        this.timerFaults.push({ rule: next.rule, key: next.key, due: next.due, error });
      }
    }
    this.execute(this.step(null));
  }

  // ---------------------------------------------------------------- transactions

  /** Starts a transaction over everything an event or a timer can change. */
  savepoint(): CoordinatorSavepoint {
    this.inTransaction = true;
    this.unknownBefore = null;
    this.rules.savepoint();
    return {
      graph: this.graph.savepoint(),
      outbox: this.outbox.savepoint(),
      issued: this.issued.length,
      incidents: this.incidents.length,
      ruleSteps: this.ruleSteps?.length ?? 0,
    };
  }

  /** Throws RuleFailed when a rule function threw since the savepoint (the engine only dropped its part). */
  checkRules(sp: CoordinatorSavepoint): void {
    for (let i = sp.incidents; i < this.incidents.length; i++) {
      const inc = this.incidents[i] as EngineIncident;
      if (inc.kind === "error") throw new RuleFailed(inc.rule, inc.key, inc.detail);
    }
  }

  commit(): void {
    this.graph.commit();
    this.outbox.commit();
    this.rules.commit();
    this.unknownBefore = null;
    this.inTransaction = false;
    this.activeRule = "";
    this.eventRule = "";
  }

  /** Undoes everything since the savepoint, exactly; `quarantine` names a rule instance to drop. */
  undo(sp: CoordinatorSavepoint, quarantine?: { rule: string; key: string }): void {
    const changed = this.graph.changedSince(sp.graph) || this.outbox.changedSince(sp.outbox);
    this.graph.undo(sp.graph);
    this.graph.commit();
    this.outbox.undo(sp.outbox);
    this.outbox.commit();
    this.rules.undo(quarantine);
    this.issued.length = sp.issued;
    this.incidents.length = sp.incidents;
    if (this.ruleSteps !== null && this.ruleSteps.length > sp.ruleSteps) this.ruleSteps.length = sp.ruleSteps;
    this.openSteps.length = 0;
    if (this.unknownBefore !== null) {
      this.unknown.count = this.unknownBefore.count;
      this.unknown.recent.length = 0;
      this.unknown.recent.push(...this.unknownBefore.recent);
    }
    // Derived from the graph and the outbox, which are back as they were.
    if (changed)
      this.epochs = new Epochs(this.graph, this.outbox, (slot, target, body) =>
        this.issue(slot, target, body),
      );
    this.unknownBefore = null;
    this.inTransaction = false;
    this.activeRule = "";
    this.eventRule = "";
  }

  /** Applies one validated event. Throws RcRejection (or GraphError) before changing anything. */
  handle(id: string, e: DomainEvent): Outcome {
    this.eventRule = EVENT_RULES[e.type];
    if (this.ruleSteps === null) return takeEvent(this, id, e);
    const step = this.beginStep(this.eventRule, eventKey(e), e.type);
    const outcome = takeEvent(this, id, e);
    this.endStep(step);
    return outcome;
  }

  recordUnknown(id: string, name: string): void {
    if (this.inTransaction && this.unknownBefore === null)
      this.unknownBefore = { count: this.unknown.count, recent: this.unknown.recent.slice() };
    this.unknown.count++;
    this.unknown.recent.push([id, name, this.now]);
    if (this.unknown.recent.length > this.config.unknownEventsKept) this.unknown.recent.shift();
  }

  epoch(): number {
    return this.epochs.current();
  }

  // ---------------------------------------------------------------- the recovery rules

  feed(event: RuleEvent): void {
    this.execute(this.step(event));
  }

  /**
   * One CEP step: the event fed in, or (null) `timer` fired alone, or (null,
   * no timer) the rules' time moved to now.
   */
  private step(event: RuleEvent | null, timer?: { rule: string; key: string; due: number }): TimedIntent[] {
    const steps = this.ruleSteps;
    if (steps === null) return this.runRules(event, timer);
    const key = event ? ruleEventSubject(event) : null;
    const before = key === null ? [] : this.rules.phasesOf(key);
    const timerBefore = timer ? (this.rules.phaseOf(timer.rule, timer.key) ?? "") : "";
    const intents = this.runRules(event, timer);
    const phases: PhaseChange[] = [];
    if (timer) {
      const after = this.rules.phaseOf(timer.rule, timer.key) ?? "";
      if (timerBefore !== "" || after !== "")
        phases.push({ rule: timer.rule, key: timer.key, before: timerBefore, after });
    }
    if (key !== null)
      this.rules.phasesOf(key).forEach(({ rule, phase }, i) => {
        const was = before[i]?.phase ?? "";
        if (was !== "" || phase !== "") phases.push({ rule, key, before: was, after: phase });
      });
    // Timers name their instance only through what they emit; the phase before is not known.
    for (const { rule, key: k } of intents)
      if (k !== key && !phases.some((p) => p.rule === rule && p.key === k))
        phases.push({ rule, key: k, before: "?", after: this.rules.phaseOf(rule, k) ?? "" });
    if (event !== null || intents.length > 0)
      steps.push({
        kind: "cep",
        time: this.now,
        rule: phases[0]?.rule ?? intents[0]?.rule ?? "",
        key: key ?? timer?.key ?? "",
        on: event?.t ?? "timer",
        input: event,
        intents: intents.map((i) => ({ rule: i.rule, key: i.key, time: i.time, intent: i.intent })),
        phases,
        changes: [],
        commands: [],
      });
    return intents;
  }

  /** The CEP step itself (a method, not a closure: it runs for most events). */
  private runRules(
    event: RuleEvent | null,
    timer?: { rule: string; key: string; due: number },
  ): TimedIntent[] {
    if (event !== null) return this.rules.feed(this.now, event, this.incidents);
    if (timer !== undefined) return this.rules.fireNext(timer, this.incidents);
    return this.rules.advance(this.now, this.incidents);
  }

  /** Carries out intents in order; intents may feed the rules again, whose intents follow. */
  private execute(intents: TimedIntent[]): void {
    const outer = this.activeRule;
    const queue = intents;
    for (let i = 0; i < queue.length; i++) {
      const { time, rule, key, intent } = queue[i] as TimedIntent;
      this.activeRule = rule;
      const step = this.ruleSteps === null ? null : this.beginStep(rule, key, intent.do);
      const follow = carryOut(this, intent, time);
      this.endStep(step);
      for (const e of follow) queue.push(...this.step(e));
    }
    // Still set when carrying an intent out throws: the failure is then the rule's.
    this.activeRule = outer;
  }

  // ---------------------------------------------------------------- tracing (not state)

  /** Opens a graph step (only while tracing): what the graph and the outbox get from here on is its. */
  private beginStep(rule: string, key: string, on: string): RuleStepTrace {
    if (this.openSteps.length === 0) {
      // Between steps nothing changes: the marks start afresh (the tracer takes changes between causes).
      this.stepChangeMark = this.graph.changeMark;
      this.stepIssuedMark = this.issued.length;
    } else this.flushStep();
    const step: RuleStepTrace = {
      kind: "graph",
      time: this.now,
      rule,
      key,
      on,
      input: null,
      intents: [],
      phases: [],
      changes: [],
      commands: [],
    };
    (this.ruleSteps as RuleStepTrace[]).push(step);
    this.openSteps.push(step);
    return step;
  }

  /** Closes the innermost graph step; one that did nothing, and led to nothing, is left out. */
  private endStep(step: RuleStepTrace | null): void {
    if (step === null) return;
    this.flushStep();
    const top = this.openSteps.pop();
    if (top !== step) throw new Error("graph steps closed out of order");
    const steps = this.ruleSteps as RuleStepTrace[];
    if (steps[steps.length - 1] === step && step.changes.length === 0 && step.commands.length === 0)
      steps.pop();
  }

  /** Gives the changes and commands made since the last mark to the innermost open step. */
  private flushStep(): void {
    const top = this.openSteps[this.openSteps.length - 1] as RuleStepTrace;
    const mark = this.graph.changeMark;
    if (mark > this.stepChangeMark) {
      const fresh = this.graph.changesFrom(this.stepChangeMark);
      // No push(...list): a topology of 100,000 resources is more arguments than a call takes.
      if (top.changes.length === 0) top.changes = fresh;
      else for (const c of fresh) top.changes.push(c);
    }
    for (let i = this.stepIssuedMark; i < this.issued.length; i++)
      top.commands.push(this.issued[i] as Command);
    this.stepChangeMark = mark;
    this.stepIssuedMark = this.issued.length;
  }

  // ---------------------------------------------------------------- helpers

  issue(slot: string, target: string, body: CommandBody, time: number = this.now): void {
    this.issued.push(this.outbox.issue(slot, target, time, body).command);
  }
}
