// The coordinator's CEP engine: its rules for one rules version, and the state
// they keep (phases, budgets, pending timers), which is part of the replicated
// state and its snapshot.
//
// Transactions: the engine updates its state in place, so the runner keeps,
// from savepoint() on, a copy of every rule instance an input is about to
// touch (the instance its key names, or the one a timer belongs to). undo()
// puts those copies back; the engine then rebuilds its timer indexes from the
// state (it does so for any state object it has not seen), which costs a pass
// over the instances, paid only when something failed.
import {
  Engine,
  type EngineState,
  type InstanceState,
  type Output,
  type Processor,
  type RuleState,
} from "../../cep/index.js";
import type { RcConfig } from "../config.js";
import { nodeRecoveryRule } from "./node-recovery.js";
import { processRecoveryRule } from "./process-recovery.js";
import type { Intent, RuleEvent } from "./types.js";

/** An intent with the logical time at which the rule decided it (a timer's due time, or now). */
export interface TimedIntent {
  time: number;
  /** The rule that decided it. */
  rule: string;
  /** The instance key that asked for it (for history and explain; not state). */
  key: string;
  intent: Intent;
}

/**
 * What the engine reports besides intents (a rule that threw, an evicted
 * instance). Replicated state: `detail` is a stable code, never an error's text.
 */
export interface EngineIncident {
  time: number;
  rule: string;
  key: string;
  kind: "error" | "overflow";
  detail: string;
}

/** The names of the rules of a version, in the order they run. */
export const RULE_NAMES: readonly string[] = ["process-recovery", "node-recovery"];

/**
 * The engine for a rules version, without the rules an operator disabled
 * (a rule that fails on every event is switched off by a rules-version entry).
 */
export function rulesFor(
  version: number,
  config: RcConfig,
  disabled: readonly string[] = [],
): Engine<RuleEvent, Intent> {
  // Version 1 is the first rule set. A later version adds its rules here, and
  // the state of the old one migrates through the CEP library's migrations.
  if (version !== 1) throw new Error(`no rule set for version ${version}`);
  const rules = [processRecoveryRule(config), nodeRecoveryRule(config)];
  return new Engine<RuleEvent, Intent>({ rules: rules.filter((r) => !disabled.includes(r.name)) });
}

/** Before-images of one rule in one transaction: the instances touched (null: there was none). */
interface RuleJournal {
  global: unknown;
  instances: Map<string, InstanceState | null>;
  /** At the instance bound every instance was kept (an input may evict any of them). */
  whole: Record<string, InstanceState> | null;
}

/** Before-images of one transaction, reused from one to the next (most touch one instance). */
interface Journal {
  active: boolean;
  time: number | null;
  seq: number;
  /** By rule name; only those in `touched` belong to this transaction. */
  rules: Map<string, RuleJournal>;
  touched: string[];
}

/** What a rule function threw, for the local log only (its text is engine-specific). */
export interface RuleErrorText {
  rule: string;
  key: string;
  during: string;
  message: string;
}

export class RuleRunner {
  /** Filled by every step, drained by the state machine into the replica's log; never state. */
  readonly errorTexts: RuleErrorText[] = [];
  private readonly journal: Journal = { active: false, time: null, seq: 0, rules: new Map(), touched: [] };
  private readonly byName = new Map<string, Processor<RuleEvent, Intent>>();

  constructor(
    readonly engine: Engine<RuleEvent, Intent>,
    public state: EngineState,
  ) {
    for (const p of engine.processors) this.byName.set(p.name, p);
  }

  static fresh(engine: Engine<RuleEvent, Intent>): RuleRunner {
    return new RuleRunner(engine, engine.initialState());
  }

  /** Fires every timer due by `time` at once (no transaction per timer: see nextTimer/fireNext). */
  advance(time: number, incidents: EngineIncident[]): TimedIntent[] {
    if (this.state.time !== null && time < this.state.time) time = this.state.time;
    return this.collect(this.engine.step(this.state, { time }).outputs, incidents);
  }

  /** The next pending timer (rule, instance key, due time), if any. */
  nextTimer(): { rule: string; key: string; due: number } | undefined {
    return this.engine.nextTimer(this.state);
  }

  /** Fires the next timer only (`next`, from nextTimer()), journaling its instance first. */
  fireNext(next: { rule: string; key: string; due: number }, incidents: EngineIncident[]): TimedIntent[] {
    this.remember(next.rule, next.key);
    const time = Math.max(next.due, this.state.time ?? next.due);
    return this.collect(this.engine.step(this.state, { time }, { maxTimers: 1 }).outputs, incidents);
  }

  feed(time: number, event: RuleEvent, incidents: EngineIncident[]): TimedIntent[] {
    if (this.state.time !== null && time < this.state.time) time = this.state.time;
    if (this.journal.active)
      for (const p of this.engine.processors) {
        if (p.kind !== "rule") continue;
        let key: string | undefined;
        try {
          key = p.key(event);
        } catch {
          continue; // the engine reports it as an error output
        }
        if (typeof key === "string") this.remember(p.name, key);
      }
    return this.collect(this.engine.step(this.state, { time, event }).outputs, incidents);
  }

  /** Starts journaling: undo() returns the rule state to this point. */
  savepoint(): void {
    const j = this.journal;
    if (j.touched.length > 0) this.commit();
    j.active = true;
    j.time = this.state.time;
    j.seq = this.state.seq;
  }

  /** Ends the transaction: the journal is dropped. */
  commit(): void {
    const j = this.journal;
    j.active = false;
    if (j.touched.length === 0) return; // most transactions touch no rule (heartbeats)
    for (const name of j.touched) {
      const r = j.rules.get(name) as RuleJournal;
      r.instances.clear();
      r.whole = null;
      r.global = undefined;
    }
    j.touched.length = 0;
  }

  /**
   * Puts back every instance touched since savepoint(), and drops the instance
   * `quarantine` names (a timer whose work failed: it would fail again at once).
   */
  undo(quarantine?: { rule: string; key: string }): void {
    const j = this.journal;
    if (!j.active) throw new Error("rules undo without a savepoint");
    if (j.touched.length === 0 && quarantine === undefined && this.state.seq === j.seq) {
      // Nothing was touched: nothing to put back, and the indexes are still right.
      this.state.time = j.time;
      this.commit();
      return;
    }
    const processors: EngineState["processors"] = this.state.processors;
    for (const name of j.touched) {
      const before = j.rules.get(name) as RuleJournal;
      const rs = processors[name] as RuleState;
      rs.global = before.global;
      if (before.whole !== null) {
        rs.instances = Object.assign(Object.create(null) as Record<string, InstanceState>, before.whole);
      } else
        for (const [key, inst] of before.instances) {
          if (inst === null) delete rs.instances[key];
          else rs.instances[key] = copyInstance(inst);
        }
    }
    if (quarantine !== undefined) {
      const rs = processors[quarantine.rule];
      if (rs !== undefined && rs.kind === "rule") delete rs.instances[quarantine.key];
    }
    for (const name of Object.keys(processors)) {
      const rs = processors[name] as RuleState;
      if (rs.kind === "rule") rs.count = Object.keys(rs.instances).length;
    }
    // A new state object: the engine rebuilds its indexes (timer queue) from the restored data.
    this.state = { time: j.time, seq: j.seq, processors };
    this.commit();
  }

  /** The earliest pending timer, so that the leader knows when a Tick is due. */
  nextDue(): number | undefined {
    return this.engine.nextDue(this.state);
  }

  phaseOf(rule: string, key: string): string | undefined {
    return this.engine.phaseOf(this.state, rule, key);
  }

  /** Every rule's phase for `key`, "" where the rule has no instance for it; in definition order. */
  phasesOf(key: string): { rule: string; phase: string }[] {
    return Object.keys(this.state.processors).map((rule) => ({ rule, phase: this.phaseOf(rule, key) ?? "" }));
  }

  toData(): unknown {
    return this.engine.snapshot(this.state);
  }

  static fromData(engine: Engine<RuleEvent, Intent>, data: unknown): RuleRunner {
    return new RuleRunner(engine, engine.restore(data));
  }

  /** Copies the instance of (rule, key) before its first change in this transaction. */
  private remember(rule: string, key: string): void {
    const j = this.journal;
    if (!j.active) return;
    const rs = this.state.processors[rule];
    if (rs === undefined || rs.kind !== "rule") return;
    let before = j.rules.get(rule);
    if (before === undefined) {
      before = { global: undefined, instances: new Map(), whole: null };
      j.rules.set(rule, before);
    }
    if (!j.touched.includes(rule)) {
      j.touched.push(rule);
      before.global = plainCopy(rs.global);
    }
    if (before.whole !== null) return;
    const proc = this.byName.get(rule) as Processor<RuleEvent, Intent>;
    if (proc.kind === "rule" && rs.count >= proc.maxInstances) {
      // At the bound a new instance evicts another: keep them all (rare, and bounded).
      const whole: Record<string, InstanceState> = {};
      for (const k of Object.keys(rs.instances)) whole[k] = copyInstance(rs.instances[k] as InstanceState);
      for (const [k, inst] of before.instances)
        if (inst === null) delete whole[k];
        else whole[k] = inst;
      before.whole = whole;
      return;
    }
    if (before.instances.has(key)) return;
    const inst = Object.hasOwn(rs.instances, key) ? rs.instances[key] : undefined;
    before.instances.set(key, inst === undefined ? null : copyInstance(inst));
  }

  private collect(outputs: readonly Output<Intent>[], incidents: EngineIncident[]): TimedIntent[] {
    const intents: TimedIntent[] = [];
    for (const o of outputs) {
      if (o.kind === "emit") intents.push({ time: o.time, rule: o.rule, key: o.key, intent: o.data });
      else {
        if (o.kind === "error")
          this.errorTexts.push({ rule: o.rule, key: o.key, during: o.data.during, message: o.data.message });
        incidents.push({
          time: o.time,
          rule: o.rule,
          key: o.key,
          kind: o.kind,
          // A stable code: the error's own text depends on the JavaScript engine.
          detail: o.kind === "error" ? `rule-threw:${o.data.during}` : o.data.reason,
        });
      }
    }
    return intents;
  }
}

/** A deep copy of plain data (rule state is JSON data: the engine's snapshots require it). */
function plainCopy<T>(value: T): T {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map(plainCopy) as T;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value)) out[k] = plainCopy((value as Record<string, unknown>)[k]);
  return out as T;
}

/** A deep copy with fresh timer records (the engine reuses and mutates its records). */
function copyInstance(inst: InstanceState): InstanceState {
  const timers: InstanceState["timers"] = {};
  for (const name of Object.keys(inst.timers))
    timers[name] = { ...(inst.timers[name] as InstanceState["timers"][string]) };
  return {
    phase: inst.phase,
    local: plainCopy(inst.local),
    created: inst.created,
    touched: inst.touched,
    timers,
    timeout: inst.timeout === null ? null : { ...inst.timeout },
    buffer: inst.buffer.slice(),
  };
}
