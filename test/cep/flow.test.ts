import { describe, expect, it } from "vitest";
import { Engine, defineFlow, mergeAll, type Output } from "../../src/cep/index.js";

type Ev = { kind: "temp"; value: number } | { kind: "mode"; mode: "on" | "off" } | { kind: "other" };

const data = <O>(outputs: readonly Output<O>[]) =>
  outputs.filter((o) => o.kind === "emit").map((o) => o.data);

function run<O>(engine: Engine<Ev, O>, events: (Ev | undefined)[]) {
  const s = engine.initialState();
  return {
    state: s,
    outputs: events.map((event, time) =>
      data(engine.step(s, event === undefined ? { time } : { time, event }).outputs),
    ),
  };
}

describe("flows", () => {
  it("map, filter and accum give running totals; the cell changes in the next transaction", () => {
    const flow = defineFlow<Ev, { total: number; before: number }>("totals", (f) => {
      const temps = f.input.filter((e) => e.kind === "temp").map((e) => (e.kind === "temp" ? e.value : 0));
      const total = temps.accum(0, (sum, v) => sum + v);
      // Sampling the cell inside the transaction that changes it sees the old value.
      return total.changes.snapshot(total, (t, before) => ({ total: t, before }));
    });
    const engine = new Engine<Ev, { total: number; before: number }>({ rules: [flow] });
    const { state, outputs } = run(engine, [
      { kind: "temp", value: 3 },
      { kind: "other" },
      { kind: "temp", value: 4 },
    ]);
    expect(outputs).toEqual([[{ total: 3, before: 0 }], [], [{ total: 7, before: 3 }]]);
    expect(engine.cellsOf(state, "totals")).toEqual([7]);
  });

  it("merge combines simultaneous occurrences with the given function, once", () => {
    const flow = defineFlow<Ev, string>("m", (f) => {
      const a = f.input.map((e) => `a:${e.kind}`);
      const b = f.input.filter((e) => e.kind === "temp").map(() => "b");
      return a.merge(b, (x, y) => `${x}+${y}`);
    });
    const { outputs } = run(new Engine<Ev, string>({ rules: [flow] }), [
      { kind: "temp", value: 1 },
      { kind: "other" },
    ]);
    expect(outputs).toEqual([["a:temp+b"], ["a:other"]]);
  });

  it("hold, gate, switchStream and ticks", () => {
    const flow = defineFlow<Ev, string>("g", (f) => {
      const mode = f.input
        .filter((e) => e.kind === "mode")
        .map((e) => (e.kind === "mode" ? e.mode : "off"))
        .hold("off" as "on" | "off");
      const isOn = mode.map((m) => m === "on");
      const temps = f.input
        .filter((e) => e.kind === "temp")
        .map((e) => (e.kind === "temp" ? `t${e.value}` : ""));
      const gated = temps.gate(isOn);
      const switched = f.switchStream(mode, {
        on: f.ticks.map((t) => `tick@${t}`),
        off: f.ticks.map(() => "quiet"),
      });
      return mergeAll([gated, switched], (x, y) => `${x}|${y}`);
    });
    const { outputs } = run(new Engine<Ev, string>({ rules: [flow] }), [
      { kind: "temp", value: 1 },
      undefined,
      { kind: "mode", mode: "on" },
      { kind: "temp", value: 2 },
      undefined,
    ]);
    expect(outputs).toEqual([[], ["quiet"], [], ["t2"], ["tick@4"]]);
  });

  it("a throwing flow function reports an error and keeps the cells", () => {
    const flow = defineFlow<Ev, number>(
      "bad",
      (f) =>
        f.input
          .map((e) => {
            if (e.kind === "other") throw new Error("nope");
            return 1;
          })
          .accum(0, (a, b) => a + b).changes,
    );
    const engine = new Engine<Ev, number>({ rules: [flow] });
    const s = engine.initialState();
    engine.step(s, { time: 0, event: { kind: "temp", value: 1 } });
    const { outputs } = engine.step(s, { time: 1, event: { kind: "other" } });
    expect(outputs[0]).toMatchObject({ kind: "error", rule: "bad", data: { during: "flow" } });
    expect(engine.cellsOf(s, "bad")).toEqual([1]);
  });

  it("refuses to mix nodes of two flows", () => {
    let foreign: unknown;
    defineFlow<Ev, Ev>("one", (f) => {
      foreign = f.input;
      return f.input;
    });
    expect(() => defineFlow<Ev, Ev>("two", (f) => f.input.merge(foreign as never, (a) => a))).toThrow(
      /two different flows/,
    );
  });
});
