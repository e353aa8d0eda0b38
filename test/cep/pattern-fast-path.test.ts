// Sequence and absence run on a compiled fast path unless a step asks for an
// explain trace, which takes the general path of ordinary rules. The two must
// be indistinguishable: same outputs, same state hash, after every input.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Engine, absence, sequence, type Input } from "../../src/cep/index.js";

type Ev = { kind: "a" | "b" | "c"; key: string };
type Out = { pattern: string; key: string; at: number; firstKind?: string };

const rules = () => [
  sequence<Ev, Out>({
    name: "a-then-b",
    key: (e) => e.key,
    first: (e) => e.kind === "a",
    then: (e) => e.kind === "b",
    within: 50,
    emit: (_f, _t, key, at) => ({ pattern: "a-then-b", key, at }),
  }),
  sequence<Ev, Out>({
    name: "a-then-c-no-restart",
    key: (e) => e.key,
    first: (e) => e.kind === "a",
    then: (e) => e.kind === "c",
    within: 30,
    restart: false,
    bounds: { maxInstances: 3 },
    emit: (f, _t, key, at) => ({ pattern: "a-then-c", key, at, firstKind: f.kind }),
  }),
  absence<Ev, Out>({
    name: "b-without-c",
    key: (e) => (e.key === "k4" ? undefined : e.key),
    first: (e) => e.kind === "b",
    missing: (e) => e.kind === "c",
    within: 40,
    bounds: { maxInstances: 2 },
    emit: (_f, key, at) => ({ pattern: "b-without-c", key, at }),
  }),
];

const inputs = fc.array(
  fc.record({
    gap: fc.integer({ min: 0, max: 35 }),
    tick: fc.boolean(),
    kind: fc.constantFrom<Ev["kind"]>("a", "b", "c"),
    key: fc.constantFrom("k0", "k1", "k2", "k3", "k4"),
  }),
  { minLength: 1, maxLength: 300 },
);

describe("pattern fast path", () => {
  it("gives the same outputs and state hash as the general (explain) path at every step", () => {
    const emitted = new Set<string>();
    fc.assert(
      fc.property(inputs, (steps) => {
        const fast = new Engine<Ev, Out>({ rules: rules() });
        const general = new Engine<Ev, Out>({ rules: rules() });
        const fastState = fast.initialState();
        const generalState = general.initialState();
        let time = 0;
        for (const s of steps) {
          time += s.gap;
          const input: Input<Ev> = s.tick ? { time } : { time, event: { kind: s.kind, key: s.key } };
          const a = fast.step(fastState, input);
          const b = general.step(generalState, input, { explain: true });
          expect(a.outputs).toEqual(b.outputs);
          for (const o of a.outputs) emitted.add(o.kind === "emit" ? (o.data as Out).pattern : o.kind);
          expect(fast.hash(fastState)).toBe(general.hash(generalState));
        }
      }),
      { seed: 20261125, numRuns: 150 },
    );
    // The inputs did reach every pattern's emission and the instance bound.
    expect([...emitted].sort()).toEqual(["a-then-b", "a-then-c", "b-without-c", "overflow"]);
  });
});
