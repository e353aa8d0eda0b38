import { describe, expect, it } from "vitest";
import { Engine, defineRule, type Output } from "../../src/cep/index.js";
import { heartbeat, nodeSilent, type Ev, type Out } from "./fixtures.js";

type Hit = { id: string; n: number };

const collector = defineRule<Hit, string, null, undefined, "collecting" | "done">({
  name: "collector",
  key: (e) => e.id,
  local: () => null,
  bounds: { maxInstances: 3, maxBuffer: 2 },
  initial: "collecting",
  phases: {
    collecting: {
      on: [{ when: (e) => e.n >= 0, then: (ctx, e) => ctx.push(e.n) }],
      timeout: { after: 1000, goto: "done" },
    },
    done: { final: true },
  },
});

const overflows = (outputs: readonly Output<unknown>[]) => outputs.filter((o) => o.kind === "overflow");

describe("bounds", () => {
  it("evicts the least recently active instance and reports it", () => {
    const engine = new Engine<Hit, string>({ rules: [collector] });
    const s = engine.initialState();
    for (const [t, id] of [
      [0, "a"],
      [1, "b"],
      [2, "c"],
      [3, "a"],
    ] as const)
      engine.step(s, { time: t, event: { id, n: t } });
    const { outputs } = engine.step(s, { time: 4, event: { id: "d", n: 4 } });
    // "b" was touched longest ago ("a" was touched again at 3).
    expect(overflows(outputs)).toEqual([
      expect.objectContaining({
        rule: "collector",
        key: "b",
        kind: "overflow",
        data: { reason: "instances", phase: "collecting", local: null },
      }),
    ]);
    expect(engine.instance(s, "collector", "b")).toBeUndefined();
    expect(["a", "c", "d"].map((k) => engine.phaseOf(s, "collector", k))).toEqual([
      "collecting",
      "collecting",
      "collecting",
    ]);
    // The evicted instance's timers are gone with it: nothing fires for "b".
    expect(engine.step(s, { time: 5000 }).outputs.filter((o) => o.key === "b")).toEqual([]);
  });

  it("drops the oldest buffered item beyond maxBuffer and reports it", () => {
    const engine = new Engine<Hit, string>({ rules: [collector] });
    const s = engine.initialState();
    engine.step(s, { time: 0, event: { id: "a", n: 10 } });
    engine.step(s, { time: 1, event: { id: "a", n: 11 } });
    const { outputs } = engine.step(s, { time: 2, event: { id: "a", n: 12 } });
    expect(overflows(outputs)).toEqual([
      expect.objectContaining({ key: "a", data: { reason: "buffer", dropped: { t: 0, v: 10 } } }),
    ]);
    expect(engine.instance(s, "collector", "a")?.buffer.map((b) => b.v)).toEqual([11, 12]);
  });
});

describe("explain traces", () => {
  const guarded = defineRule<Ev, Out, null, undefined, "idle" | "end">({
    name: "guarded",
    key: (e) => (e.kind === "process-failed" ? e.node : undefined),
    local: () => null,
    initial: "idle",
    phases: {
      idle: {
        on: [
          {
            name: "only-p1",
            when: () => true,
            guard: (_ctx, e) => e.kind === "process-failed" && e.process === "p1",
            goto: "end",
          },
          {
            name: "only-p2",
            when: () => true,
            guard: (_ctx, e) => e.kind === "process-failed" && e.process === "p2",
            goto: "end",
          },
        ],
      },
      end: { final: true },
    },
  });
  const engine = new Engine<Ev, Out>({ rules: [nodeSilent, guarded] });

  it("says which alternative fired and where the instance went", () => {
    const s = engine.initialState();
    const { trace } = engine.step(s, { time: 0, event: heartbeat("n1") }, { explain: true });
    expect(trace).toEqual([
      {
        rule: "node-silent",
        key: "n1",
        time: 0,
        cause: "event",
        outcome: "fired",
        alternative: "heartbeat",
        phase: "online",
        nextPhase: "online",
        created: true,
        emitted: 0,
      },
      { rule: "guarded", time: 0, cause: "event", outcome: "no-key" },
    ]);
    const late = engine.step(s, { time: 5000 }, { explain: true }).trace;
    expect(late?.[0]).toMatchObject({
      cause: "timeout",
      outcome: "fired",
      phase: "online",
      nextPhase: "transient",
      emitted: 1,
    });
  });

  it("names the first guard that failed when nothing fired", () => {
    const s = engine.initialState();
    const { trace, outputs } = engine.step(
      s,
      { time: 0, event: { kind: "process-failed", node: "n1", process: "p3" } },
      { explain: true },
    );
    expect(outputs).toEqual([]);
    expect(trace?.find((t) => t.rule === "guarded")).toEqual({
      rule: "guarded",
      key: "n1",
      time: 0,
      cause: "event",
      outcome: "guard-failed",
      alternative: "only-p1",
      phase: "idle",
    });
  });

  it("costs nothing when not asked for", () => {
    const s = engine.initialState();
    expect(engine.step(s, { time: 0, event: heartbeat("n1") }).trace).toBeUndefined();
  });
});
