import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  CepSnapshotError,
  CepStateError,
  Engine,
  canonicalJson,
  defineFlow,
  defineRule,
  type Snapshot,
} from "../../src/cep/index.js";

type Ev = { id: string; v: number };

const counterV1 = defineRule<Ev, never, { count: number }, { total: number }, "counting" | "done">({
  name: "counter",
  key: (e) => e.id,
  local: () => ({ count: 0 }),
  global: () => ({ total: 0 }),
  initial: "counting",
  phases: {
    counting: {
      on: [
        {
          when: () => true,
          then: (ctx) => {
            ctx.local = { count: ctx.local.count + 1 };
            ctx.global = { total: ctx.global.total + 1 };
          },
        },
      ],
      timeout: { after: 100, goto: "done" },
    },
    done: { final: true },
  },
});

// Version 2 keeps a list of values instead of a count and renames the phase.
const counterV2 = defineRule<Ev, never, { values: number[] }, { total: number }, "active" | "done">({
  name: "counter",
  version: 2,
  key: (e) => e.id,
  local: () => ({ values: [] }),
  global: () => ({ total: 0 }),
  initial: "active",
  migrations: [
    {
      from: 1,
      local: (old) => ({ values: new Array<number>((old as { count: number }).count).fill(0) }),
      phase: (old) => (old === "counting" ? "active" : old),
    },
  ],
  phases: {
    active: {
      on: [{ when: () => true, then: (ctx, e) => void (ctx.local = { values: [...ctx.local.values, e.v] }) }],
      timeout: { after: 100, goto: "done" },
    },
    done: { final: true },
  },
});

function v1Snapshot(): Snapshot {
  const engine = new Engine<Ev, never>({ rules: [counterV1] });
  const s = engine.initialState();
  engine.step(s, { time: 0, event: { id: "a", v: 1 } });
  engine.step(s, { time: 1, event: { id: "a", v: 2 } });
  engine.step(s, { time: 2, event: { id: "b", v: 3 } });
  return JSON.parse(JSON.stringify(engine.snapshot(s))) as Snapshot;
}

describe("snapshots", () => {
  it("are canonical: key order does not matter, content does", () => {
    const snap = v1Snapshot();
    const engine = new Engine<Ev, never>({ rules: [counterV1] });
    const shuffled = reverseKeys(snap);
    expect(JSON.stringify(shuffled)).not.toBe(JSON.stringify(snap));
    expect(engine.hash(engine.restore(shuffled))).toBe(engine.hash(engine.restore(snap)));
    expect(canonicalJson({ b: 1, a: [2, { d: 3, c: -0 }] })).toBe('{"a":[2,{"c":0,"d":3}],"b":1}');
  });

  it("migrate a rule's state from the previous version", () => {
    const engine = new Engine<Ev, never>({ rules: [counterV2] });
    const s = engine.restore(v1Snapshot());
    expect(engine.instance(s, "counter", "a")).toMatchObject({ phase: "active", local: { values: [0, 0] } });
    expect(engine.snapshot(s).processors.counter).toMatchObject({ version: 2, global: { total: 3 } });
    // The pending timeout survived the migration.
    engine.step(s, { time: 101 });
    expect(engine.instance(s, "counter", "a")).toBeUndefined();
  });

  it("refuse what they cannot restore, with a clear error", () => {
    const snap = v1Snapshot();
    expect(() => new Engine({ rules: [{ ...counterV2, migrations: [] }] }).restore(snap)).toThrow(
      /no migration from it/,
    );
    expect(() => new Engine<Ev, never>({ rules: [] }).restore(snap)).toThrow(/does not define/);
    const newer = { ...snap, processors: { counter: { ...snap.processors.counter, version: 3 } } };
    expect(() => new Engine<Ev, never>({ rules: [counterV2] }).restore(newer)).toThrow(/newer/);
    expect(() =>
      new Engine<Ev, never>({ rules: [counterV1] }).restore({ ...snap, formatVersion: 9 }),
    ).toThrow(CepSnapshotError);
  });

  it("never crash on garbage: every bad snapshot is a CepSnapshotError", () => {
    const engine = new Engine<Ev, never>({ rules: [counterV1] });
    const good = v1Snapshot();
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          // The good snapshot with one random value replaced somewhere.
          fc.tuple(fc.nat(40), fc.anything()).map(([pick, value]) => mutate(good, pick, value)),
        ),
        (bad) => {
          try {
            engine.restore(bad);
          } catch (err) {
            expect(err).toBeInstanceOf(CepSnapshotError);
          }
        },
      ),
      { seed: 5, numRuns: 400 },
    );
  });

  it("reject state that is not plain data, naming where it is", () => {
    const bad = defineRule<Ev, never, unknown, undefined, "a" | "end">({
      name: "bad",
      key: (e) => e.id,
      local: () => null,
      initial: "a",
      phases: {
        a: {
          on: [{ when: () => true, goto: "a", then: (ctx) => void (ctx.local = new Map()) }],
          timeout: { after: 1, goto: "end" },
        },
        end: { final: true },
      },
    });
    const engine = new Engine<Ev, never>({ rules: [bad] });
    const s = engine.initialState();
    engine.step(s, { time: 0, event: { id: "x", v: 1 } });
    expect(() => engine.snapshot(s)).toThrow(CepStateError);
    expect(() => engine.hash(s)).toThrow(/Map instance is not plain data/);
  });

  it("restore flows, and migrate their cells", () => {
    const v1 = defineFlow<Ev, number>(
      "sum",
      (f) => f.input.map((e) => e.v).accum(0, (a, b) => a + b).changes,
    );
    const v2 = defineFlow<Ev, number>(
      "sum",
      (f) => f.input.map((e) => e.v).accum(0, (a, b) => a + b).changes,
      {
        version: 2,
        migrate: (cells) => cells.map((c) => (c as number) * 10),
      },
    );
    const e1 = new Engine<Ev, number>({ rules: [v1] });
    const s = e1.initialState();
    e1.step(s, { time: 0, event: { id: "a", v: 4 } });
    const e2 = new Engine<Ev, number>({ rules: [v2] });
    expect(e2.cellsOf(e2.restore(e1.snapshot(s)), "sum")).toEqual([40]);
    expect(() =>
      new Engine<Ev, number>({
        rules: [defineFlow<Ev, number>("sum", (f) => f.input.map(() => 1), { version: 2 })],
      }).restore(e1.snapshot(s)),
    ).toThrow(/no migrate/);
  });
});

function mutate(value: unknown, pick: number, replacement: unknown): unknown {
  let n = 0;
  const walk = (v: unknown): unknown => {
    if (n++ === pick) return replacement;
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === "object")
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value);
}

function reverseKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reverseKeys);
  if (v !== null && typeof v === "object")
    return Object.fromEntries(
      Object.entries(v)
        .reverse()
        .map(([k, x]) => [k, reverseKeys(x)]),
    );
  return v;
}
