import { describe, expect, it } from "vitest";
import { defineRule, Engine } from "../../src/cep/index.js";
import { StepOutputs } from "../../src/cep/step-outputs.js";

// StepOutputs builds ids from a cache of the thousands' digits and a table of the last three;
// these checks hold it to the plain `${rule}/${key}/${seq}` everywhere that split can go wrong.

const edges = [
  0,
  1,
  9,
  10,
  99,
  100,
  999,
  1000,
  1001,
  1009,
  1010,
  1099,
  1100,
  1999,
  2000,
  9999,
  10_000,
  10_005,
  99_999,
  100_000,
  123_456_789,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32 - 2,
  2 ** 32 - 1,
  // Beyond the table's range, and numbers no engine makes but a hand-made state could hold.
  2 ** 32,
  2 ** 32 + 7,
  2 ** 53 - 1,
  -1,
  -1000,
  1.5,
  1000.25,
];

describe("output ids", () => {
  it("equal `${rule}/${key}/${seq}` at every digit boundary, in any order of calls", () => {
    const out = new StepOutputs<never>();
    // Ascending, descending and alternating: the cached thousands must follow every jump.
    const orders = [
      edges,
      [...edges].reverse(),
      edges.flatMap((s, i) => [s, edges[edges.length - 1 - i] as number]),
    ];
    for (const order of orders)
      for (const seq of order)
        for (const [rule, key] of [
          ["r", "k"],
          ["other", ""],
          ["r", "key/with/slashes"],
        ] as const)
          expect(out.id(rule, key, seq)).toBe(`${rule}/${key}/${seq}`);
  });

  it("equal the plain form over a long run of consecutive numbers", () => {
    const out = new StepOutputs<never>();
    for (let seq = 0; seq < 30_000; seq++) if (out.id("r", "k", seq) !== `r/k/${seq}`) expect(seq).toBe(-1);
    for (let seq = 4_294_960_000; seq < 4_294_967_300; seq++)
      if (out.id("r", "k", seq) !== `r/k/${seq}`) expect(seq).toBe(-1);
  });

  it("an engine numbers emits, overflows and errors the same way from a restored sequence number", () => {
    const rule = defineRule<string, string, null>({
      name: "r",
      key: (e) => e,
      local: () => null,
      bounds: { maxInstances: 1 },
      initial: "on",
      phases: {
        on: {
          on: [
            {
              when: (e) => e !== "boom",
              goto: "off",
              then: (ctx, e) => ctx.emit(e),
            },
            {
              when: (e) => e === "boom",
              goto: "off",
              then: () => {
                throw new Error("boom");
              },
            },
          ],
        },
        off: { on: [{ when: () => true, goto: "on" }] },
      },
    });
    const engine = new Engine<string, string>({ rules: [rule] });
    for (const start of [998, 999_998, 2 ** 32 - 2]) {
      const snap = engine.snapshot(engine.initialState());
      const state = engine.restore({ ...snap, seq: start });
      const outputs = [
        ...engine.step(state, { time: 1, event: "a" }).outputs,
        ...engine.step(state, { time: 2, event: "b" }).outputs, // emits, then evicts "a": an overflow
        ...engine.step(state, { time: 3, event: "boom" }).outputs, // an error
      ];
      expect(outputs.map((o) => o.kind)).toEqual(["emit", "emit", "overflow", "error"]);
      for (const o of outputs) {
        const seq = Number(o.id.split("/")[2]);
        expect(o.id).toBe(`${o.rule}/${o.key}/${seq}`);
        expect(seq).toBeGreaterThanOrEqual(start);
      }
      expect(new Set(outputs.map((o) => o.id)).size).toBe(outputs.length);
    }
  });
});
