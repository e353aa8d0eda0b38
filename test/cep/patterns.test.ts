import { describe, expect, it } from "vitest";
import {
  Engine,
  absence,
  counting,
  scenario,
  sequence,
  slidingWindow,
  tumblingWindow,
} from "../../src/cep/index.js";

type Ev = { k: string; kind: "a" | "b" | "x"; v?: number };
type Out = { what: string; key: string; at: number; detail?: unknown };
const a = (k: string, v?: number): Ev => ({ k, kind: "a", ...(v === undefined ? {} : { v }) });
const b = (k: string): Ev => ({ k, kind: "b" });
const key = (e: Ev) => e.k;
const isA = (e: Ev) => e.kind === "a";
const isB = (e: Ev) => e.kind === "b";

describe("sequence: a then b within t", () => {
  const engine = new Engine<Ev, Out>({
    rules: [
      sequence<Ev, Out>({
        name: "seq",
        key,
        first: isA,
        then: isB,
        within: 10,
        emit: (_a, _b, k, at) => ({ what: "seq", key: k, at }),
      }),
    ],
  });

  it("emits when b follows a in time, per key", () => {
    scenario(engine)
      .at(0, a("k1"), b("k2"))
      .expectNothing()
      .at(9, b("k1"))
      .expectEmitted({ what: "seq", key: "k1", at: 9 })
      .expectPhase("seq", "k1", undefined);
  });

  it("does not emit when b comes at or after the deadline", () => {
    scenario(engine).at(0, a("k1")).at(10, b("k1")).expectNothing().expectPhase("seq", "k1", undefined);
  });

  it("with restart: false a later a does not move the window", () => {
    const strict = new Engine<Ev, Out>({
      rules: [
        sequence<Ev, Out>({
          name: "seq",
          key,
          first: isA,
          then: isB,
          within: 10,
          restart: false,
          emit: (first, _b, k, at) => ({ what: "seq", key: k, at, detail: first.v }),
        }),
      ],
    });
    scenario(strict)
      .at(0, a("k1", 1))
      .at(8, a("k1", 2))
      .at(9, b("k1"))
      .expectEmitted({ what: "seq", key: "k1", at: 9, detail: 1 });
    scenario(strict).at(0, a("k1", 1)).at(8, a("k1", 2)).at(15, b("k1")).expectNothing();
  });

  it("a later a restarts the window", () => {
    scenario(engine)
      .at(0, a("k1"))
      .at(8, a("k1"))
      .at(15, b("k1"))
      .expectEmitted({ what: "seq", key: "k1", at: 15 });
  });
});

describe("absence: a not followed by b within t", () => {
  const engine = new Engine<Ev, Out>({
    rules: [
      absence<Ev, Out>({
        name: "abs",
        key,
        first: isA,
        missing: isB,
        within: 5,
        emit: (_a, k, at) => ({ what: "missing", key: k, at }),
      }),
    ],
  });
  it("emits at the deadline, and not when b arrived", () => {
    scenario(engine)
      .at(0, a("k1"), a("k2"))
      .at(3, b("k2"))
      .at(4)
      .expectNothing()
      .at(100)
      .expectOutputs({ time: 5, data: { what: "missing", key: "k1", at: 5 } });
  });
});

describe("counting: n within t", () => {
  const engine = new Engine<Ev, Out>({
    rules: [
      counting<Ev, Out>({
        name: "cnt",
        key,
        match: isA,
        count: 3,
        within: 10,
        emit: (times, k, at) => ({ what: "burst", key: k, at, detail: times }),
      }),
    ],
  });
  it("emits on the third occurrence within the window and starts again", () => {
    scenario(engine)
      .at(0, a("k"))
      .at(5, a("k"))
      .at(9, a("k"))
      .expectEmitted({ what: "burst", key: "k", at: 9, detail: [0, 5, 9] })
      .at(12, a("k"), a("k"))
      .expectNothing()
      .at(13, a("k"))
      .expectEmitted({ what: "burst", key: "k", at: 13, detail: [12, 12, 13] });
  });
  it("forgets occurrences older than the window", () => {
    scenario(engine)
      .at(0, a("k"))
      .at(6, a("k"))
      .at(10, a("k"))
      .expectNothing()
      .at(11, a("k"))
      .expectEmitted({
        what: "burst",
        key: "k",
        at: 11,
        detail: [6, 10, 11],
      });
  });
});

describe("windows", () => {
  const sum = (vs: readonly number[]) => vs.reduce((x, y) => x + y, 0);
  it("sliding window aggregates (now - size, now]", () => {
    const engine = new Engine<Ev, Out>({
      rules: [
        slidingWindow<Ev, number, number, Out>({
          name: "slide",
          key,
          match: isA,
          value: (e) => e.v ?? 0,
          size: 10,
          aggregate: sum,
          emit: (total, k, at) => ({ what: "sum", key: k, at, detail: total }),
        }),
      ],
    });
    const s = scenario(engine).at(0, a("k", 1)).at(5, a("k", 2)).at(10, a("k", 4)).take();
    expect(s.map((o) => o.kind === "emit" && o.data.detail)).toEqual([1, 3, 6]);
  });

  it("tumbling window emits each non-empty window at its end", () => {
    const engine = new Engine<Ev, Out>({
      rules: [
        tumblingWindow<Ev, number, number, Out>({
          name: "tumble",
          key,
          match: isA,
          value: (e) => e.v ?? 0,
          size: 10,
          aggregate: sum,
          emit: (total, k, at) => (total === 0 ? undefined : { what: "sum", key: k, at, detail: total }),
        }),
      ],
    });
    scenario(engine)
      .at(1, a("k", 1))
      .at(9, a("k", 2))
      .at(10, a("k", 5))
      .expectEmitted({ what: "sum", key: "k", at: 10, detail: 3 })
      .at(35, a("k", 0))
      .expectEmitted({ what: "sum", key: "k", at: 20, detail: 5 })
      .at(40)
      .expectNothing();
  });
});

describe("pattern definitions are checked", () => {
  it("rejects non-positive windows and counts", () => {
    expect(() =>
      sequence<Ev, Out>({
        name: "s",
        key,
        first: isA,
        then: isB,
        within: 0,
        emit: () => ({ what: "", key: "", at: 0 }),
      }),
    ).toThrow(/positive/);
    expect(() =>
      counting<Ev, Out>({
        name: "c",
        key,
        match: isA,
        count: 0,
        within: 1,
        emit: () => ({ what: "", key: "", at: 0 }),
      }),
    ).toThrow(/count/);
  });
});
