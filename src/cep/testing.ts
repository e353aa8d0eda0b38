import { AssertionError, deepStrictEqual } from "node:assert";
import type { Engine } from "./engine.js";
import type { EngineState, Output, TraceEntry } from "./types.js";

/**
 * A testing kit for rule authors: feed events at virtual times and assert what came out, so a
 * rule's test reads like its specification:
 *
 *   scenario(engine)
 *     .at(0, heartbeat("n1"))
 *     .at(4999).expectNothing()
 *     .at(5000).expectEmitted({ command: "respawn-node", node: "n1", attempt: 1 })
 *     .expectPhase("node-silent", "n1", "transient");
 *
 * Every `expect*` looks at the outputs produced since the previous `expect*` (or `take`) and
 * then forgets them. Failures throw AssertionError with what was expected and what came out.
 */
export function scenario<E, O>(engine: Engine<E, O>, options: ScenarioOptions = {}): Scenario<E, O> {
  return new Scenario(engine, options);
}

export interface ScenarioOptions {
  /** Start from this state instead of the engine's initial one (it is used, not copied). */
  readonly state?: EngineState;
  /** Keep explain traces of every step (see `traces`). */
  readonly explain?: boolean;
  /**
   * After every step, check that snapshot → JSON → restore gives the same hash. Slower; catches
   * state that is not plain data as soon as a rule creates it.
   */
  readonly checkSnapshots?: boolean;
}

export class Scenario<E, O> {
  state: EngineState;
  /** Every output so far, in order. */
  readonly history: Output<O>[] = [];
  /** Explain traces, one list per step, when the scenario was created with `explain: true`. */
  readonly traces: (readonly TraceEntry[])[] = [];
  private pending: Output<O>[] = [];

  constructor(
    readonly engine: Engine<E, O>,
    private readonly options: ScenarioOptions,
  ) {
    this.state = options.state ?? engine.initialState();
  }

  /** Feeds each event at `time`, in order; with no events, a tick at `time`. */
  at(time: number, ...events: E[]): this {
    if (events.length === 0) this.feed({ time });
    for (const event of events) this.feed({ time, event });
    return this;
  }

  /** A tick at `time` (timers due by then fire). */
  tick(time: number): this {
    return this.at(time);
  }

  /** The outputs since the last expectation, which are then forgotten. */
  take(): Output<O>[] {
    const out = this.pending;
    this.pending = [];
    return out;
  }

  /** Exactly these emitted data, in this order, and no overflow or error. */
  expectEmitted(...data: O[]): this {
    const got = this.take();
    check(
      got.map((o) => (o.kind === "emit" ? o.data : { [`<${o.kind}>`]: o.data })),
      data,
      "emitted outputs",
    );
    return this;
  }

  /** Outputs matching these partial outputs, in order (each given field compared deeply). */
  expectOutputs(...expected: Partial<Output<O>>[]): this {
    const got = this.take();
    const projected = got.map((o, i) => {
      const want = expected[i];
      if (want === undefined) return o;
      const view: Record<string, unknown> = {};
      for (const k of Object.keys(want)) view[k] = (o as unknown as Record<string, unknown>)[k];
      return view;
    });
    check(projected, expected, "outputs");
    return this;
  }

  /** No output at all since the last expectation. */
  expectNothing(): this {
    check(this.take(), [], "outputs");
    return this;
  }

  /** The instance's phase, or undefined for "no instance". */
  expectPhase(rule: string, key: string, phase: string | undefined): this {
    check(this.engine.phaseOf(this.state, rule, key), phase, `phase of ${rule}/${key}`);
    return this;
  }

  expectLocal(rule: string, key: string, local: unknown): this {
    const inst = this.engine.instance(this.state, rule, key);
    if (inst === undefined) throw new AssertionError({ message: `${rule}/${key} has no instance` });
    check(inst.local, local, `local state of ${rule}/${key}`);
    return this;
  }

  /**
   * Snapshot, JSON round trip and restore, as a replica restarting from a snapshot would, then
   * continue from the restored state.
   */
  restart(): this {
    const snap = JSON.parse(JSON.stringify(this.engine.snapshot(this.state))) as unknown;
    this.state = this.engine.restore(snap);
    return this;
  }

  private feed(input: { time: number; event?: E }): void {
    const result = this.engine.step(this.state, input, { explain: this.options.explain === true });
    if (result.trace !== undefined) this.traces.push(result.trace);
    for (const o of result.outputs) {
      this.history.push(o);
      this.pending.push(o);
    }
    if (this.options.checkSnapshots === true) {
      const restored = this.engine.restore(
        JSON.parse(JSON.stringify(this.engine.snapshot(this.state))) as unknown,
      );
      check(
        this.engine.hash(restored),
        this.engine.hash(this.state),
        `state hash after restore at time ${input.time}`,
      );
    }
  }
}

function check(actual: unknown, expected: unknown, what: string): void {
  try {
    deepStrictEqual(actual, expected);
  } catch (_err) {
    throw new AssertionError({
      message: `${what} differ:\n  expected ${JSON.stringify(expected)}\n  actual   ${JSON.stringify(actual)}`,
      actual,
      expected,
      operator: "deepStrictEqual",
    });
  }
}
