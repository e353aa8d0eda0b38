import { Engine, defineFlow, defineRule, sequence, type Input } from "../../src/cep/index.js";
import {
  PIPELINE_REPORT_EVERY,
  SILENCE,
  WINDOW,
  type Heartbeat,
  type Reading,
  type Step,
} from "./workloads.js";

/** Each returns the number of outputs, so that the three implementations can be cross-checked. */

export function cepPipeline(inputs: readonly Input<Reading>[]): number {
  const flow = defineFlow<Reading, number>("pipeline", (f) =>
    f.input
      .filter((r) => r.sensor % 2 === 0)
      .map((r) => r.value * 3)
      .accum(0, (sum, v) => sum + v)
      .changes.filter((sum) => sum % PIPELINE_REPORT_EVERY < 300),
  );
  const engine = new Engine<Reading, number>({ rules: [flow] });
  return drive(engine, inputs);
}

export function cepTimeout(inputs: readonly Input<Heartbeat>[]): number {
  // One instance per node for its whole life: silent after SILENCE without a heartbeat, alive
  // again at the next one (the shape of the coordinator's node rules).
  const silent = defineRule<Heartbeat, string, null, undefined, "alive" | "silent">({
    name: "silent",
    key: (e) => e.node,
    local: () => null,
    initial: "alive",
    phases: {
      alive: {
        on: [{ when: () => true, goto: "alive" }],
        timeout: { after: SILENCE, goto: "silent", then: (ctx) => ctx.emit(ctx.key) },
      },
      silent: { on: [{ when: () => true, goto: "alive" }] },
    },
  });
  return drive(new Engine<Heartbeat, string>({ rules: [silent] }), inputs);
}

function sequenceRule() {
  return sequence<Step, string>({
    name: "ab",
    key: (e) => e.key,
    first: (e) => e.kind === "a",
    then: (e) => e.kind === "b",
    within: WINDOW,
    emit: (_a, _b, key) => key,
  });
}

export function cepSequence(inputs: readonly Input<Step>[]): number {
  return drive(new Engine<Step, string>({ rules: [sequenceRule()] }), inputs);
}

function drive<E, O>(engine: Engine<E, O>, inputs: readonly Input<E>[]): number {
  const state = engine.initialState();
  let n = 0;
  for (let i = 0; i < inputs.length; i++) n += engine.step(state, inputs[i] as Input<E>).outputs.length;
  return n;
}
