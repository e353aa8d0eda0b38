// The coordinator's CEP engine: its rules for one rules version, and the state
// they keep (phases, budgets, pending timers), which is part of the replicated
// state and its snapshot.
import { Engine, type EngineState, type Output } from "../../cep/index.js";
import type { RcConfig } from "../config.js";
import { nodeRecoveryRule } from "./node-recovery.js";
import { processRecoveryRule } from "./process-recovery.js";
import type { Intent, RuleEvent } from "./types.js";

/** An intent with the logical time at which the rule decided it (a timer's due time, or now). */
export interface TimedIntent {
  time: number;
  intent: Intent;
  /** The rule and the instance key that asked for it (for history and explain; not state). */
  rule: string;
  key: string;
}

/** What the engine reports besides intents (a rule that threw, an evicted instance). */
export interface EngineIncident {
  time: number;
  rule: string;
  key: string;
  kind: "error" | "overflow";
  detail: string;
}

export function rulesFor(version: number, config: RcConfig): Engine<RuleEvent, Intent> {
  // Version 1 is the first rule set. A later version adds its rules here, and
  // the state of the old one migrates through the CEP library's migrations.
  if (version !== 1) throw new Error(`no rule set for version ${version}`);
  return new Engine<RuleEvent, Intent>({ rules: [processRecoveryRule(config), nodeRecoveryRule(config)] });
}

export class RuleRunner {
  constructor(
    readonly engine: Engine<RuleEvent, Intent>,
    public state: EngineState,
  ) {}

  static fresh(engine: Engine<RuleEvent, Intent>): RuleRunner {
    return new RuleRunner(engine, engine.initialState());
  }

  /** Fires the timers due by `time`. */
  advance(time: number, incidents: EngineIncident[]): TimedIntent[] {
    if (this.state.time !== null && time < this.state.time) time = this.state.time;
    return this.collect(this.engine.step(this.state, { time }).outputs, incidents);
  }

  feed(time: number, event: RuleEvent, incidents: EngineIncident[]): TimedIntent[] {
    if (this.state.time !== null && time < this.state.time) time = this.state.time;
    return this.collect(this.engine.step(this.state, { time, event }).outputs, incidents);
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

  private collect(outputs: readonly Output<Intent>[], incidents: EngineIncident[]): TimedIntent[] {
    const intents: TimedIntent[] = [];
    for (const o of outputs) {
      if (o.kind === "emit") intents.push({ time: o.time, intent: o.data, rule: o.rule, key: o.key });
      else
        incidents.push({
          time: o.time,
          rule: o.rule,
          key: o.key,
          kind: o.kind,
          detail: o.kind === "error" ? o.data.message : o.data.reason,
        });
    }
    return intents;
  }
}
