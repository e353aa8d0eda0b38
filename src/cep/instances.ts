import { NO_TIMERS, evictionVictim, removeInstance, type Runtime } from "./runtime.js";
import type { StepOutputs } from "./step-outputs.js";
import type { EngineState, InstanceState, RuleState } from "./types.js";

/** What instance bookkeeping needs of a rule (any event and output types). */
export interface BoundedRule {
  readonly name: string;
  readonly maxInstances: number;
}

// New instances share one empty buffer: handlers copy before writing (see MutableContext).
const NO_ITEMS: InstanceState["buffer"] = Object.freeze([]) as unknown as InstanceState["buffer"];

/**
 * Adds the instance of `key`, first evicting the least recently active one when the rule is at
 * its bound. The instance is numbered from the state's sequence (created = touched).
 */
export function addInstance<O>(
  state: EngineState,
  rt: Runtime,
  proc: number,
  rule: BoundedRule,
  rs: RuleState,
  key: string,
  phase: string,
  local: unknown,
  time: number,
  out: StepOutputs<O>,
): InstanceState {
  if (rs.count >= rule.maxInstances) evictOne(state, rt, proc, rule, rs, time, out);
  const inst: InstanceState = {
    phase,
    local,
    created: state.seq,
    touched: state.seq,
    timers: NO_TIMERS,
    timeout: null,
    buffer: NO_ITEMS,
  };
  state.seq++;
  rs.instances[key] = inst;
  rs.count++;
  rt.evict[proc]?.push({ touched: inst.touched, key });
  return inst;
}

/** Evicts the least recently active instance and reports it as an overflow. */
function evictOne<O>(
  state: EngineState,
  rt: Runtime,
  proc: number,
  rule: BoundedRule,
  rs: RuleState,
  time: number,
  out: StepOutputs<O>,
): void {
  const key = evictionVictim(rt, proc, rs);
  if (key === undefined) return;
  const inst = rs.instances[key] as InstanceState;
  removeInstance(rt, rs, inst, key);
  out.overflow(state, rule.name, key, time, { reason: "instances", phase: inst.phase, local: inst.local });
}
