import { evictionVictim, NO_TIMERS, removeInstance, type Runtime } from "./runtime.js";
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
 * Adding an instance is three calls: makeRoom, then newInstance(phase, local, state.seq), then
 * insertInstance.
 */

/**
 * A new instance record: a plain object (its prototype is Object.prototype, as for a literal),
 * made by a constructor rather than an object literal. Once rules of several shapes have run
 * (locals of different types, timers started or not) V8 stops inlining the literal's allocation
 * and copies its boilerplate in a runtime call, which made that one line the costliest of a
 * step; a constructor's allocation stays inline.
 */
function InstanceRecord(this: InstanceState, phase: string, local: unknown, seq: number): void {
  this.phase = phase;
  this.local = local;
  this.created = seq;
  this.touched = seq;
  this.timers = NO_TIMERS;
  this.timeout = null;
  this.buffer = NO_ITEMS;
}
InstanceRecord.prototype = Object.prototype;
const PlainInstance = InstanceRecord as unknown as new (
  phase: string,
  local: unknown,
  seq: number,
) => InstanceState;

/** A new instance in `phase`, with created = touched = `seq`. */
export function newInstance(phase: string, local: unknown, seq: number): InstanceState {
  return new PlainInstance(phase, local, seq);
}

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
