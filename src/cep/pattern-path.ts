import { NO_ITEMS, insertInstance, makeRoom, type BoundedRule } from "./instances.js";
import type { PatternShape } from "./pattern-shape.js";
import { PHASE_TIMEOUT } from "./rule.js";
import { NO_TIMERS, removeInstance, setTimer, type Runtime } from "./runtime.js";
import type { StepOutputs } from "./step-outputs.js";
import type { EngineState, InstanceState, RuleState } from "./types.js";

/**
 * The compiled path of a sequence or absence pattern: what the engine's general path does for
 * the pattern's rule (see patterns.ts), step for step, but without looking up phases, trying
 * alternatives, loading a handler context or staging effects for a commit. Each function makes
 * the same state changes, in the same order, with the same sequence numbers, and reports the
 * same errors as the general path; nothing is changed before the last user function returned,
 * so a throwing one leaves the state as the general path's rollback would.
 *
 * The engine takes this path only without explain (traces come from the general path) and only
 * for an instance that is new or in the waiting phase.
 */

/** An event for `key`, whose instance is `inst` (undefined: none yet, the initial phase). */
export function patternEvent<O>(
  shape: PatternShape,
  state: EngineState,
  rt: Runtime,
  proc: number,
  rule: BoundedRule,
  rs: RuleState,
  inst: InstanceState | undefined,
  key: string,
  event: unknown,
  time: number,
  out: StepOutputs<O>,
): void {
  let ok: boolean;
  if (inst === undefined) {
    // Initial phase: `first` creates the instance, which waits with `event` as its local state.
    try {
      ok = shape.first(event);
    } catch (err) {
      out.error(state, rule.name, key, time, "match", err);
      return;
    }
    if (!ok) return;
    const due = time + shape.within;
    if (!(due > time)) {
      out.error(state, rule.name, key, time, "handler", deadlineError(shape));
      return;
    }
    makeRoom(state, rt, proc, rule, rs, time, out);
    const created: InstanceState = {
      phase: shape.waiting,
      local: event,
      created: state.seq,
      touched: state.seq,
      timers: NO_TIMERS,
      timeout: null,
      buffer: NO_ITEMS,
    };
    insertInstance(state, rt, proc, rs, key, created);
    setTimer(state, rt, proc, key, created, PHASE_TIMEOUT, due, shape.within);
    return;
  }
  try {
    ok = shape.next(event);
  } catch (err) {
    out.error(state, rule.name, key, time, "match", err);
    return;
  }
  if (ok) {
    // The wait is over: emit (sequence), then the instance ends.
    if (shape.onNext !== undefined) {
      let data: unknown;
      try {
        data = shape.onNext(inst.local, event, key, time);
      } catch (err) {
        out.error(state, rule.name, key, time, "handler", err);
        return;
      }
      out.emit(state, rule.name, key, time, data);
    }
    inst.touched = state.seq++;
    removeInstance(rt, rs, inst, key);
    return;
  }
  if (!shape.restart) return;
  try {
    ok = shape.first(event);
  } catch (err) {
    out.error(state, rule.name, key, time, "match", err);
    return;
  }
  if (!ok) return;
  // A later `first` restarts the window from it: the waiting phase is re-entered.
  const due = time + shape.within;
  if (!(due > time)) {
    out.error(state, rule.name, key, time, "handler", deadlineError(shape));
    return;
  }
  inst.touched = state.seq++;
  inst.local = event;
  setTimer(state, rt, proc, key, inst, PHASE_TIMEOUT, due, shape.within);
}

/** The waiting phase's timeout fell due (the engine has already taken the timer off `inst`). */
export function patternDeadline<O>(
  shape: PatternShape,
  state: EngineState,
  rt: Runtime,
  rule: BoundedRule,
  rs: RuleState,
  inst: InstanceState,
  key: string,
  time: number,
  out: StepOutputs<O>,
): void {
  if (shape.onDeadline !== undefined) {
    let data: unknown;
    try {
      data = shape.onDeadline(inst.local, key, time);
    } catch (err) {
      out.error(state, rule.name, key, time, "timer", err);
      return;
    }
    out.emit(state, rule.name, key, time, data);
  }
  inst.touched = state.seq++;
  removeInstance(rt, rs, inst, key);
}

/** The general path's error for a timeout that does not advance time (time too large). */
function deadlineError(shape: PatternShape): Error {
  return new Error(
    `phase "${shape.waiting}": timeout.after gave ${String(shape.within)}, not a positive number`,
  );
}
