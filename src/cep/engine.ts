import { canonicalHash } from "./canonical.js";
import { MutableContext } from "./context.js";
import { CepDefinitionError, CepInputError } from "./errors.js";
import type { Flow } from "./flow.js";
import { insertInstance, makeRoom, newInstance } from "./instances.js";
import {
  PHASE_TIMEOUT,
  phaseNamed,
  type CompiledAlternative,
  type CompiledPhase,
  type Rule,
} from "./rule.js";
import {
  buildRuntime,
  cancelTimer,
  compactRuntime,
  earliestDue,
  release,
  removeInstance,
  setTimer,
  type Runtime,
} from "./runtime.js";
import { restoreState, snapshotView, toSnapshot, type Snapshot } from "./snapshot.js";
import { StepOutputs } from "./step-outputs.js";
import type {
  EngineState,
  FlowState,
  Input,
  InstanceState,
  Output,
  RuleState,
  StepResult,
  TimerState,
} from "./types.js";

/** Anything an engine runs, in the order given. */
export type Processor<E, O> = Rule<E, O> | Flow<E, O>;

export interface EngineOptions<E, O> {
  /** Rules and flows; every input goes through them in this order. Names must be unique. */
  readonly rules: readonly Processor<E, O>[];
}

export interface StepOptions {
  /** Return a trace of what every rule did, or why it did nothing. Slower; for debugging and tests. */
  readonly explain?: boolean;
  /**
   * Fire at most this many due timers (the rest stay due, for the next step at the same time):
   * lets a caller make each timer a transaction of its own (see nextTimer).
   */
  readonly maxTimers?: number;
}

const NO_OUTPUTS: readonly Output<never>[] = Object.freeze([]);

/**
 * Runs rules and flows over inputs: `step(state, input) -> { state, outputs }`.
 *
 * The state is plain data owned by the caller. For speed, `step` updates it in place and returns
 * the same object: the state passed in is consumed. Keep an independent copy with
 * `snapshot`/`restore` (or any deep copy) when an earlier state is still needed. The engine
 * itself holds only definitions, never state, so one engine can drive any number of states.
 */
export class Engine<E, O> {
  readonly processors: readonly Processor<E, O>[];
  private readonly byName = new Map<string, number>();
  private readonly runtimes = new WeakMap<EngineState, Runtime>();
  private readonly ctx = new MutableContext();
  // Per-step scratch, reset by every step (steps never nest).
  private readonly out = new StepOutputs<O>();
  private readonly flowOut: unknown[] = [];
  // The last state stepped and its indexes: saves the WeakMap lookup on the usual path.
  private lastState: EngineState | undefined;
  private lastRuntime: Runtime | undefined;
  private stepsSinceCompact = 0;

  constructor(options: EngineOptions<E, O>) {
    if (options === null || typeof options !== "object" || !Array.isArray(options.rules))
      throw new CepDefinitionError("an engine needs { rules: [...] } (rules and flows)");
    this.processors = [...options.rules];
    this.processors.forEach((p, i) => {
      if (p === null || typeof p !== "object" || (p.kind !== "rule" && p.kind !== "flow"))
        throw new CepDefinitionError(`rules[${i}] is not a rule or flow (use defineRule / defineFlow)`);
      if (this.byName.has(p.name)) throw new CepDefinitionError(`two rules or flows are named "${p.name}"`);
      this.byName.set(p.name, i);
    });
  }

  /** The state before any input. */
  initialState(): EngineState {
    const processors: EngineState["processors"] = {};
    for (const p of this.processors) {
      processors[p.name] =
        p.kind === "rule"
          ? { kind: "rule", version: p.version, global: p.initGlobal(), count: 0, instances: emptyRecord() }
          : { kind: "flow", version: p.version, cells: p.initialCells() };
    }
    return { time: null, seq: 0, processors };
  }

  /**
   * One transaction. Timers due at or before `input.time` fire first, in (due time, creation)
   * order, each at its own due time; then the input's event (if any) goes to every rule and flow
   * in definition order. A malformed input throws CepInputError and leaves the state unchanged; a
   * rule function that throws yields an "error" output and discards only that rule's effects.
   */
  step(state: EngineState, input: Input<E>, options?: StepOptions): StepResult<O> {
    checkInput(state, input);
    const rt = this.runtime(state);
    const out = this.out;
    out.outputs = undefined;
    out.trace = options?.explain === true ? [] : undefined;
    const time = input.time;
    const timers = rt.timers;
    if (timers.size > 0 && timers.topDue <= time)
      this.fireTimers(state, rt, time, options?.maxTimers ?? Number.POSITIVE_INFINITY);
    state.time = time;
    const event = input.event;
    const hasEvent = event !== undefined;
    const procs = this.processors;
    for (let i = 0; i < procs.length; i++) {
      const p = procs[i] as Processor<E, O>;
      if (p.kind === "rule") {
        if (hasEvent) this.ruleEvent(state, rt, i, p, event, time);
      } else {
        this.flowStep(state, rt.states[i] as FlowState, p, time, hasEvent, event);
      }
    }
    if (++this.stepsSinceCompact >= 256) {
      // The checks are cheap, but not free: every 256 steps is enough to bound the indexes.
      this.stepsSinceCompact = 0;
      compactRuntime(this.processors, state, rt);
    }
    const outputs = out.outputs;
    const trace = out.trace;
    out.outputs = undefined;
    out.trace = undefined;
    if (trace !== undefined) return { state, outputs: outputs ?? NO_OUTPUTS, trace };
    // Most steps produce nothing: they share one frozen result per state instead of allocating.
    return outputs === undefined
      ? (rt.quiet ??= Object.freeze({ state, outputs: NO_OUTPUTS }))
      : { state, outputs };
  }

  /** Steps through many inputs; returns the final state and every output in order. */
  run(state: EngineState, inputs: Iterable<Input<E>>): { state: EngineState; outputs: Output<O>[] } {
    const all: Output<O>[] = [];
    for (const input of inputs) {
      const { outputs } = this.step(state, input);
      for (const o of outputs) all.push(o);
    }
    return { state, outputs: all };
  }

  /** A versioned, canonical, deep copy of the state: plain JSON, safe to store or send. */
  snapshot(state: EngineState): Snapshot {
    return toSnapshot(state, this.processors);
  }

  /** A state from a snapshot (possibly older: rule migrations are applied). Validates everything. */
  restore(snapshot: unknown): EngineState {
    return restoreState(snapshot, this.processors as unknown as readonly Processor<never, O>[]);
  }

  /** SHA-256 of the canonical snapshot: equal on every replica that applied the same inputs. */
  hash(state: EngineState): string {
    return canonicalHash(snapshotView(state, this.processors));
  }

  /** The instance of `rule` for `key`, or undefined. Read-only view into the state. */
  instance(state: EngineState, rule: string, key: string): Readonly<InstanceState> | undefined {
    const rs = state.processors[rule];
    if (rs === undefined || rs.kind !== "rule") return undefined;
    return Object.hasOwn(rs.instances, key) ? rs.instances[key] : undefined;
  }

  /** The current phase of an instance, or undefined when there is none. */
  phaseOf(state: EngineState, rule: string, key: string): string | undefined {
    return this.instance(state, rule, key)?.phase;
  }

  /** The cell values of a flow (in definition order). */
  cellsOf(state: EngineState, flow: string): readonly unknown[] | undefined {
    const fs = state.processors[flow];
    return fs !== undefined && fs.kind === "flow" ? fs.cells : undefined;
  }

  /** The earliest pending timer's due time, or undefined: when the next Tick is worth sending. */
  nextDue(state: EngineState): number | undefined {
    return earliestDue(this.runtime(state));
  }

  /** The timer that fires next: its rule, instance key and due time; undefined when none is pending. */
  nextTimer(state: EngineState): { rule: string; key: string; due: number } | undefined {
    const rt = this.runtime(state);
    const due = earliestDue(rt);
    if (due === undefined) return undefined;
    const rec = rt.timers.topRef as TimerState;
    return { rule: (this.processors[rec.proc] as Processor<E, O>).name, key: rec.key, due };
  }

  // ---- rules ----

  private ruleEvent(
    state: EngineState,
    rt: Runtime,
    proc: number,
    rule: Rule<E, O>,
    event: E,
    time: number,
  ): void {
    const rs = rt.states[proc] as RuleState;
    const out = this.out;
    let key: string | undefined;
    try {
      key = rule.key(event);
    } catch (err) {
      out.error(state, rule.name, "", time, "key", err);
      return;
    }
    if (key === undefined) {
      if (out.trace !== undefined)
        out.trace.push({ rule: rule.name, time, cause: "event", outcome: "no-key" });
      return;
    }
    if (typeof key !== "string") {
      out.error(state, rule.name, "", time, "key", new Error(`key returned a ${typeof key}, not a string`));
      return;
    }
    const inst = rs.instances[key];
    const phase = phaseNamed(rule, inst === undefined ? rule.initial : inst.phase) as CompiledPhase;
    const alts = phase.events;
    let guardFailed: string | undefined;
    let prepared = false;
    for (let i = 0; i < alts.length; i++) {
      const alt = alts[i] as CompiledAlternative;
      let ok: boolean;
      try {
        ok = (alt.when as (e: unknown) => boolean)(event);
      } catch (err) {
        this.out.error(state, rule.name, key, time, "match", err);
        return;
      }
      if (!ok) continue;
      if (alt.guard !== undefined) {
        if (!prepared) {
          if (!this.prepare(state, rule, rs, inst, key, phase.name, time)) return;
          prepared = true;
        }
        this.ctx.targets = alt.targets;
        try {
          ok = alt.guard(this.ctx, event);
        } catch (err) {
          this.out.error(state, rule.name, key, time, "guard", err);
          return;
        }
        if (!ok) {
          guardFailed ??= alt.name;
          continue;
        }
      }
      if (!prepared && !this.prepare(state, rule, rs, inst, key, phase.name, time)) return;
      this.fire(state, rt, proc, rule, rs, inst, key, phase, alt, event, "event");
      return;
    }
    if (this.out.trace !== undefined)
      this.out.trace.push({
        rule: rule.name,
        key,
        time,
        cause: "event",
        outcome: guardFailed === undefined ? "no-match" : "guard-failed",
        ...(guardFailed === undefined ? {} : { alternative: guardFailed }),
        phase: phase.name,
      });
  }

  /** Loads the context for a call on (rule, key); creates the local state of a new instance. */
  private prepare(
    state: EngineState,
    rule: Rule<E, O>,
    rs: RuleState,
    inst: InstanceState | undefined,
    key: string,
    phase: string,
    time: number,
  ): boolean {
    let local: unknown;
    if (inst === undefined) {
      try {
        local = rule.initLocal(key);
      } catch (err) {
        this.out.error(state, rule.name, key, time, "handler", err);
        return false;
      }
    } else {
      local = inst.local;
    }
    this.ctx.reset(rule.name, key, time, phase, local, rs.global, inst?.buffer, rule.maxBuffer, inst?.timers);
    return true;
  }

  /** Runs an alternative's handler on the prepared context and commits its effects. */
  private fire(
    state: EngineState,
    rt: Runtime,
    proc: number,
    rule: Rule<E, O>,
    rs: RuleState,
    existing: InstanceState | undefined,
    key: string,
    phase: CompiledPhase,
    alt: CompiledAlternative,
    event: unknown,
    cause: string,
  ): void {
    const ctx = this.ctx;
    const time = ctx.time;
    ctx.targets = alt.targets;
    let nextName: string | undefined;
    let nextPhase: CompiledPhase | undefined;
    let timeoutDue: number | undefined;
    // Set when the timeout is a fixed number: such timers queue in a lane (see TimerQueue).
    let timeoutDelay: number | undefined;
    try {
      if (alt.then !== undefined) alt.then(ctx, event);
      if (ctx.next !== undefined) {
        nextName = ctx.next;
        nextPhase = phaseNamed(rule, nextName);
      } else {
        nextName = alt.autoGoto;
        nextPhase = alt.autoPhase;
      }
      // The phase the instance enters, if any: the chosen one, or the initial one when it is new.
      const enteredPhase = nextPhase ?? (existing === undefined ? phase : undefined);
      if (enteredPhase !== undefined && enteredPhase.timeoutAfter !== undefined) {
        let after = enteredPhase.timeoutAfter;
        if (typeof after === "function") {
          ctx.phase = enteredPhase.name;
          after = after(ctx);
        }
        if (typeof after !== "number" || !Number.isFinite(after) || after <= 0 || !(time + after > time))
          throw new Error(
            `phase "${enteredPhase.name}": timeout.after gave ${String(after)}, not a positive number`,
          );
        timeoutDue = time + after;
        if (typeof enteredPhase.timeoutAfter === "number") timeoutDelay = after;
      }
    } catch (err) {
      this.out.error(state, rule.name, key, time, cause === "event" ? "handler" : "timer", err);
      return;
    }

    // Commit: nothing below calls user code.
    const created = existing === undefined;
    const ended = nextPhase !== undefined && nextPhase.final;
    rs.global = ctx.global;
    const emitted = ctx.emitted;
    const emittedCount = ctx.emittedCount;
    for (let i = 0; i < emittedCount; i++) {
      this.out.emit(state, rule.name, key, time, emitted[i]);
      emitted[i] = undefined; // the context is reused: do not keep the data alive
    }
    if (created && ended) {
      // Born and finished in one step: nothing to keep, nobody to evict.
    } else {
      let inst: InstanceState;
      if (existing === undefined) {
        makeRoom(state, rt, proc, rule, rs, time, this.out);
        inst = newInstance(phase.name, ctx.local, state.seq);
        insertInstance(state, rt, proc, rs, key, inst);
      } else {
        inst = existing;
        inst.touched = state.seq++;
        inst.local = ctx.local;
      }
      if (ctx.ownBuffer) inst.buffer = ctx.buf as InstanceState["buffer"];
      const dropped = ctx.dropped;
      for (let i = 0; i < dropped.length; i++)
        this.out.overflow(state, rule.name, key, time, { reason: "buffer", dropped: dropped[i] });
      const ops = ctx.timerOps;
      for (let i = 0; i < ops.length; i++) {
        const [name, due] = ops[i] as [string, number | undefined];
        if (due === undefined) cancelTimer(rt, inst, name);
        else setTimer(state, rt, proc, key, inst, name, due, undefined);
      }
      if (ended) {
        removeInstance(rt, rs, inst, key);
      } else if (nextName !== undefined || created) {
        if (nextName !== undefined) inst.phase = nextName;
        // Leaving a phase cancels its timeout and entering one starts it: moving the record in
        // place (rather than cancel + start) keeps a restart free of heap work.
        if (timeoutDue !== undefined)
          setTimer(state, rt, proc, key, inst, PHASE_TIMEOUT, timeoutDue, timeoutDelay);
        else if (nextName !== undefined) cancelTimer(rt, inst, PHASE_TIMEOUT);
      }
    }
    if (this.out.trace !== undefined)
      this.out.trace.push({
        rule: rule.name,
        key,
        time,
        cause,
        outcome: "fired",
        alternative: alt.name,
        phase: phase.name,
        ...(nextName === undefined ? {} : { nextPhase: nextName }),
        ...(created ? { created } : {}),
        ...(ended ? { ended } : {}),
        emitted: emittedCount,
      });
  }

  // ---- timers ----

  private fireTimers(state: EngineState, rt: Runtime, until: number, max: number): void {
    const queue = rt.timers;
    let fired = 0;
    while (queue.size > 0 && queue.topDue <= until && fired < max) {
      const due = queue.topDue;
      const seq = queue.topSeq;
      const rec = queue.topRef as TimerState;
      queue.pop();
      if (!rec.live || rec.hd !== due || rec.hs !== seq) continue; // stale entry
      if (rec.due !== due || rec.seq !== seq) {
        // Moved later since this entry was queued: requeue it at its real place.
        rec.hd = rec.due;
        rec.hs = rec.seq;
        queue.push(rec.due, rec.seq, rec);
        continue;
      }
      const proc = rec.proc;
      const key = rec.key;
      const name = rec.name;
      const rule = this.processors[proc] as Rule<E, O>;
      const rs = rt.states[proc] as RuleState;
      const inst = rs.instances[key] as InstanceState;
      if (name === PHASE_TIMEOUT) inst.timeout = null;
      else delete inst.timers[name];
      release(rt, rec);
      rt.liveTimers--;
      fired++;
      state.time = due;
      this.timerFired(state, rt, proc, rule, rs, inst, key, name, due);
    }
  }

  private timerFired(
    state: EngineState,
    rt: Runtime,
    proc: number,
    rule: Rule<E, O>,
    rs: RuleState,
    inst: InstanceState,
    key: string,
    name: string,
    time: number,
  ): void {
    const phase = phaseNamed(rule, inst.phase) as CompiledPhase;
    const alts = phase.timers[name];
    const cause = name === PHASE_TIMEOUT ? "timeout" : name;
    if (alts === undefined) {
      if (this.out.trace !== undefined)
        this.out.trace.push({
          rule: rule.name,
          key,
          time,
          cause,
          outcome: "timer-ignored",
          phase: phase.name,
        });
      return;
    }
    this.prepare(state, rule, rs, inst, key, phase.name, time);
    let guardFailed: string | undefined;
    for (const alt of alts) {
      if (alt.guard !== undefined) {
        this.ctx.targets = alt.targets;
        let ok: boolean;
        try {
          ok = alt.guard(this.ctx, undefined);
        } catch (err) {
          this.out.error(state, rule.name, key, time, "guard", err);
          return;
        }
        if (!ok) {
          guardFailed ??= alt.name;
          continue;
        }
      }
      this.fire(state, rt, proc, rule, rs, inst, key, phase, alt, undefined, cause);
      return;
    }
    if (this.out.trace !== undefined)
      this.out.trace.push({
        rule: rule.name,
        key,
        time,
        cause,
        outcome: "guard-failed",
        ...(guardFailed === undefined ? {} : { alternative: guardFailed }),
        phase: phase.name,
      });
  }

  // ---- flows ----

  private flowStep(
    state: EngineState,
    fs: FlowState,
    flow: Flow<E, O>,
    time: number,
    hasEvent: boolean,
    event: unknown,
  ): void {
    const out = this.flowOut;
    if (out.length !== 0) out.length = 0;
    try {
      flow.run(fs.cells, time, hasEvent, event, out);
    } catch (err) {
      this.out.error(state, flow.name, "", time, "flow", err);
      return;
    }
    for (let i = 0; i < out.length; i++) this.out.emit(state, flow.name, "", time, out[i]);
    if (this.out.trace !== undefined)
      this.out.trace.push({
        rule: flow.name,
        time,
        cause: hasEvent ? "event" : "tick",
        outcome: out.length > 0 ? "flow-fired" : "flow-quiet",
        emitted: out.length,
      });
    if (out.length !== 0) out.length = 0;
  }

  // ---- derived indexes ----

  private runtime(state: EngineState): Runtime {
    if (state === this.lastState && this.lastRuntime !== undefined) return this.lastRuntime;
    let rt = this.runtimes.get(state);
    if (rt === undefined) {
      rt = buildRuntime(this.processors, state);
      this.runtimes.set(state, rt);
    }
    this.lastState = state;
    this.lastRuntime = rt;
    return rt;
  }
}

function emptyRecord<T>(): Record<string, T> {
  // Keys come from events: a key such as "__proto__" must be an ordinary entry.
  return Object.create(null) as Record<string, T>;
}

function checkInput(state: EngineState, input: unknown): void {
  if (state === null || typeof state !== "object" || typeof state.processors !== "object")
    throw new CepInputError("step needs an engine state (from initialState or restore)");
  if (input === null || typeof input !== "object")
    throw new CepInputError("an input must be an object { time, event? }");
  const time = (input as { time?: unknown }).time;
  if (typeof time !== "number" || !Number.isFinite(time))
    throw new CepInputError(`input time must be a finite number, got ${String(time)}`);
  if (state.time !== null && time < state.time)
    throw new CepInputError(
      `input time ${time} is before the state's time ${state.time}: time never goes back`,
    );
}
