import { describe, expect, it } from "vitest";
import { defineRule, Engine, sequence } from "../../src/cep/index.js";

// The engine builds some state records with constructors rather than literals, for speed; the
// state must still be plain data: Object.prototype, own enumerable fields only, equal to literals.

const isPlain = (v: unknown): boolean => {
  if (v === null || typeof v !== "object") return true;
  const proto = Object.getPrototypeOf(v) as unknown;
  if (Array.isArray(v)) return proto === Array.prototype && v.every(isPlain);
  if (proto !== Object.prototype && proto !== null) return false;
  return Object.values(v as Record<string, unknown>).every(isPlain);
};

describe("engine state stays plain data", () => {
  it("new instances are plain objects, equal (strictly) to the literal of their fields", () => {
    const rule = defineRule<string, string, { n: number }>({
      name: "r",
      key: (e) => e,
      local: () => ({ n: 0 }),
      initial: "a",
      phases: {
        a: {
          on: [
            {
              when: () => true,
              goto: "b",
              then: (ctx) => {
                ctx.local = { n: ctx.local.n + 1 };
              },
            },
          ],
        },
        b: { on: [{ when: () => true, goto: "a" }] },
      },
    });
    const engine = new Engine<string, string>({ rules: [rule] });
    const state = engine.initialState();
    engine.step(state, { time: 1, event: "x" });
    const inst = engine.instance(state, "r", "x");
    expect(Object.getPrototypeOf(inst)).toBe(Object.prototype);
    expect(inst?.constructor).toBe(Object);
    expect(inst).toStrictEqual({
      phase: "b",
      local: { n: 1 },
      created: 0,
      touched: 0,
      timers: {},
      timeout: null,
      buffer: [],
    });
    expect(structuredClone(inst)).toStrictEqual(inst);
    expect(JSON.parse(JSON.stringify(inst))).toStrictEqual(inst);
  });

  it("the state after a mixed run is plain all through, and its snapshot restores to the same hash", () => {
    const engine = new Engine<{ k: string; kind: string }, string>({
      rules: [
        sequence({
          name: "ab",
          key: (e) => e.k,
          first: (e) => e.kind === "a",
          then: (e) => e.kind === "b",
          within: 10,
          emit: (_a, _b, key) => key,
        }),
      ],
    });
    const state = engine.initialState();
    for (let t = 0; t < 200; t++)
      engine.step(state, { time: t, event: { k: `k${t % 7}`, kind: t % 3 === 0 ? "b" : "a" } });
    // Timer records carry engine-only fields; everything else must be plain.
    const rs = state.processors.ab as { instances: Record<string, { timeout: unknown }> };
    for (const inst of Object.values(rs.instances)) expect(isPlain({ ...inst, timeout: null })).toBe(true);
    const restored = engine.restore(JSON.parse(JSON.stringify(engine.snapshot(state))));
    expect(engine.hash(restored)).toBe(engine.hash(state));
  });
});
