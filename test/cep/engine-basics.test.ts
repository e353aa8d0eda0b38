import { describe, expect, it } from "vitest";
import { Engine, CepInputError, type Output } from "../../src/cep/index.js";
import { heartbeat, nodeSilent, type Ev, type Out } from "./fixtures.js";

const emitted = (outputs: readonly Output<Out>[]) =>
  outputs.filter((o) => o.kind === "emit").map((o) => ({ time: o.time, ...o.data }));

describe("Engine with a phased rule", () => {
  it("respawns a silent node with retries, then marks it down", () => {
    const engine = new Engine<Ev, Out>({ rules: [nodeSilent] });
    const s = engine.initialState();
    engine.step(s, { time: 0, event: heartbeat("n1") });
    expect(engine.phaseOf(s, "node-silent", "n1")).toBe("online");
    expect(emitted(engine.step(s, { time: 4999 }).outputs)).toEqual([]);
    expect(emitted(engine.step(s, { time: 5000 }).outputs)).toEqual([
      { time: 5000, command: "respawn-node", node: "n1", attempt: 1 },
    ]);
    expect(engine.phaseOf(s, "node-silent", "n1")).toBe("transient");
    // One late tick fires every timer that fell due, each at its own time.
    expect(emitted(engine.step(s, { time: 20_000 }).outputs)).toEqual([
      { time: 7000, command: "respawn-node", node: "n1", attempt: 2 },
      { time: 9000, command: "respawn-node", node: "n1", attempt: 3 },
      { time: 11000, command: "mark-down", node: "n1" },
    ]);
    expect(engine.instance(s, "node-silent", "n1")).toBeUndefined();
  });

  it("a heartbeat restarts the timeout and brings a transient node back", () => {
    const engine = new Engine<Ev, Out>({ rules: [nodeSilent] });
    const s = engine.initialState();
    engine.step(s, { time: 0, event: heartbeat("n1") });
    engine.step(s, { time: 4000, event: heartbeat("n1") });
    expect(emitted(engine.step(s, { time: 8999 }).outputs)).toEqual([]);
    expect(emitted(engine.step(s, { time: 9000 }).outputs)).toHaveLength(1);
    engine.step(s, { time: 9500, event: heartbeat("n1") });
    expect(engine.phaseOf(s, "node-silent", "n1")).toBe("online");
    expect(engine.instance(s, "node-silent", "n1")?.local).toEqual({ attempts: 0 });
    expect(emitted(engine.step(s, { time: 14_499 }).outputs)).toEqual([]);
    expect(emitted(engine.step(s, { time: 14_500 }).outputs)).toEqual([
      { time: 14_500, command: "respawn-node", node: "n1", attempt: 1 },
    ]);
  });

  it("timers due together fire in creation order and ids are deterministic", () => {
    const engine = new Engine<Ev, Out>({ rules: [nodeSilent] });
    const s = engine.initialState();
    engine.step(s, { time: 0, event: heartbeat("b") });
    engine.step(s, { time: 0, event: heartbeat("a") });
    const { outputs } = engine.step(s, { time: 5000 });
    expect(outputs.map((o) => o.key)).toEqual(["b", "a"]);
    const again = engine.initialState();
    engine.step(again, { time: 0, event: heartbeat("b") });
    engine.step(again, { time: 0, event: heartbeat("a") });
    expect(engine.step(again, { time: 5000 }).outputs.map((o) => o.id)).toEqual(outputs.map((o) => o.id));
    expect(new Set(outputs.map((o) => o.id)).size).toBe(2);
  });

  it("rejects malformed inputs and time going back, leaving the state unchanged", () => {
    const engine = new Engine<Ev, Out>({ rules: [nodeSilent] });
    const s = engine.initialState();
    engine.step(s, { time: 10, event: heartbeat("n1") });
    const before = engine.hash(s);
    expect(() => engine.step(s, { time: 9 })).toThrow(CepInputError);
    expect(() => engine.step(s, { time: Number.NaN })).toThrow(/finite number/);
    expect(() => engine.step(s, null as never)).toThrow(CepInputError);
    expect(engine.hash(s)).toBe(before);
  });

  it("a throwing handler yields an error output and changes nothing else", () => {
    const engine = new Engine<Ev, Out>({
      rules: [
        nodeSilent,
        {
          ...nodeSilent,
          name: "broken",
          key: (e: Ev) => {
            if (e.kind === "heartbeat" && e.node === "bad") throw new Error("boom");
            return e.kind === "heartbeat" ? e.node : undefined;
          },
        },
      ],
    });
    const s = engine.initialState();
    const { outputs } = engine.step(s, { time: 0, event: heartbeat("bad") });
    expect(outputs).toHaveLength(1);
    expect(outputs[0]).toMatchObject({ kind: "error", rule: "broken", data: { during: "key" } });
    expect(engine.phaseOf(s, "node-silent", "bad")).toBe("online");
    expect(engine.instance(s, "broken", "bad")).toBeUndefined();
  });

  it("snapshot, restore and hash round-trip", () => {
    const engine = new Engine<Ev, Out>({ rules: [nodeSilent] });
    const s = engine.initialState();
    engine.step(s, { time: 0, event: heartbeat("n1") });
    engine.step(s, { time: 6000 });
    const snap = engine.snapshot(s);
    const json = JSON.stringify(snap);
    const restored = engine.restore(JSON.parse(json));
    expect(engine.hash(restored)).toBe(engine.hash(s));
    const a = engine.step(s, { time: 8000 }).outputs;
    const b = engine.step(restored, { time: 8000 }).outputs;
    expect(b).toEqual(a);
    expect(a).toHaveLength(1);
  });
});

describe("keys are data, whatever they look like", () => {
  it("handles keys such as __proto__ and constructor as ordinary keys, through snapshots too", () => {
    const engine = new Engine<Ev, Out>({ rules: [nodeSilent] });
    const s = engine.initialState();
    for (const node of ["__proto__", "constructor", "toString", ""])
      engine.step(s, { time: 0, event: heartbeat(node) });
    const restored = engine.restore(JSON.parse(JSON.stringify(engine.snapshot(s))));
    expect(engine.hash(restored)).toBe(engine.hash(s));
    const keys = engine
      .step(restored, { time: 5000 })
      .outputs.map((o) => o.key)
      .sort();
    expect(keys).toEqual(["", "__proto__", "constructor", "toString"]);
    expect(Object.getPrototypeOf(restored.processors["node-silent"])).toBe(Object.prototype);
  });
});

describe("states copied outside the engine", () => {
  it("a structuredClone of a state steps like the original, keys like constructor included", () => {
    const engine = new Engine<Ev, Out>({ rules: [nodeSilent] });
    const s = engine.initialState();
    engine.step(s, { time: 0, event: heartbeat("constructor") });
    engine.step(s, { time: 1, event: heartbeat("n2") });
    const copy = structuredClone(s);
    for (const state of [s, copy]) engine.step(state, { time: 2, event: heartbeat("toString") });
    const a = engine.step(s, { time: 6000, event: heartbeat("constructor") }).outputs;
    const b = engine.step(copy, { time: 6000, event: heartbeat("constructor") }).outputs;
    expect(b).toEqual(a);
    expect(a.map((o) => o.key)).toEqual(["constructor", "n2", "toString"]);
    expect(engine.hash(copy)).toBe(engine.hash(s));
  });
});
