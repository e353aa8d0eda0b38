import { evictionVictim, removeInstance, type Runtime } from "./runtime.js";
import type { StepOutputs } from "./step-outputs.js";
import type { EngineState, InstanceState, RuleState } from "./types.js";

/** What instance bookkeeping needs of a rule (any event and output types). */
export interface BoundedRule {
  readonly name: string;
  readonly maxInstances: number;
}

/** New instances share one empty buffer: handlers copy before writing (see MutableContext). */
export const NO_ITEMS: InstanceState["buffer"] = Object.freeze([]) as unknown as InstanceState["buffer"];

/*
 * Adding an instance is two calls around the caller's own object literal: makeRoom, then the
 * literal (created = touched = state.seq), then insertInstance.
 */

/** Evicts the least recently active instance, reported as an overflow, when `rule` is at its bound. */
export function makeRoom<O>(
  state: EngineState,
  rt: Runtime,
  proc: number,
  rule: BoundedRule,
  rs: RuleState,
  time: number,
  out: StepOutputs<O>,
): void {
  if (rs.count < rule.maxInstances) return;
  const key = evictionVictim(rt, proc, rs);
  if (key === undefined) return;
  const inst = rs.instances[key] as InstanceState;
  removeInstance(rt, rs, inst, key);
  out.overflow(state, rule.name, key, time, { reason: "instances", phase: inst.phase, local: inst.local });
}

/** Records a new instance made with created = touched = state.seq, and takes that number. */
export function insertInstance(
  state: EngineState,
  rt: Runtime,
  proc: number,
  rs: RuleState,
  key: string,
  inst: InstanceState,
): void {
  state.seq++;
  rs.instances[key] = inst;
  rs.count++;
  rt.evict[proc]?.push({ touched: inst.touched, key });
}
