import { describe, expect, it } from "vitest";
import { Engine, defineRule, scenario } from "../../src/cep/index.js";
import { heartbeat, nodeSilent, type Ev, type Out } from "./fixtures.js";

type E = { id: string; op: "start" | "stop" | "boom" | "bad-goto" | "poke" };
const ev = (id: string, op: E["op"]): E => ({ id, op });

// A job that retries with a named timer and exponential backoff, and misbehaves on request.
const job = defineRule<E, string, { tries: number }, undefined, "idle" | "running" | "stopped">({
  name: "job",
  key: (e) => e.id,
  local: () => ({ tries: 0 }),
  bounds: { maxBuffer: 10 },
  initial: "idle",
  phases: {
    idle: {
      on: [
        {
          name: "start",
          when: (e) => e.op === "start",
          goto: "running",
          then: (ctx) => ctx.startTimer("retry", 100),
        },
      ],
    },
    running: {
      on: [
        { name: "stop", when: (e) => e.op === "stop", goto: "stopped" },
        {
          name: "boom",
          when: (e) => e.op === "boom",
          goto: "stopped",
          then: (ctx) => {
            ctx.push("half-done");
            ctx.emit("should not appear");
            ctx.cancelTimer("retry");
            ctx.local = { tries: 99 };
            throw new Error("handler failed");
          },
        },
        {
          name: "bad-goto",
          when: (e) => e.op === "bad-goto",
          goto: "running",
          then: (ctx) => ctx.goto("idle"),
        },
        {
          name: "poke",
          when: (e) => e.op === "poke",
          then: (ctx) => ctx.emit(ctx.hasTimer("retry") ? "armed" : "idle"),
        },
      ],
      timers: [
        {
          name: "retry",
          timer: "retry",
          then: (ctx) => {
            const tries = ctx.local.tries + 1;
            ctx.local = { tries };
            ctx.emit(`retry ${tries}`);
            ctx.startTimer("retry", 100 * 2 ** tries); // backoff
          },
        },
      ],
      timeout: {
        after: (ctx) => 1000 + ctx.local.tries,
        goto: "stopped",
        then: (ctx) => ctx.emit("gave up"),
      },
    },
    stopped: { final: true },
  },
});

describe("rule semantics", () => {
  const engine = new Engine<E, string>({ rules: [job] });

  it("named timers re-arm themselves with backoff; the phase timeout still runs", () => {
    scenario(engine)
      .at(0, ev("j", "start"))
      .at(100)
      .expectEmitted("retry 1")
      .at(300)
      .expectEmitted("retry 2")
      .at(700)
      .expectEmitted("retry 3")
      .at(1000)
      .expectEmitted("gave up")
      .expectPhase("job", "j", undefined);
  });

  it("a throwing handler changes nothing: no emit, buffer, timer, local or phase change", () => {
    const s = scenario(engine).at(0, ev("j", "start"));
    const before = engine.hash(s.state);
    s.at(50, ev("j", "boom")).expectOutputs({ kind: "error", key: "j" });
    const inst = engine.instance(s.state, "job", "j");
    expect(inst).toMatchObject({ phase: "running", local: { tries: 0 }, buffer: [] });
    s.at(60, ev("j", "poke")).expectEmitted("armed");
    // Only time and sequence numbers moved.
    expect(engine.hash(s.state)).not.toBe(before);
    s.at(100).expectEmitted("retry 1");
  });

  it("goto outside the declared targets is an error output, not a transition", () => {
    const { outputs } = engine.step(engine.initialState(), { time: 0, event: ev("j", "start") });
    expect(outputs).toEqual([]);
    const s = scenario(engine).at(0, ev("j", "start")).at(1, ev("j", "bad-goto"));
    const [out] = s.take();
    expect(out).toMatchObject({ kind: "error", data: { during: "handler" } });
    expect(out?.kind === "error" && out.data.message).toMatch(/goto\("idle"\) is not allowed here/);
    s.expectPhase("job", "j", "running");
  });

  it("events for a key without an instance create one only when the initial phase accepts them", () => {
    scenario(engine)
      .at(0, ev("x", "stop"), ev("x", "poke"))
      .expectNothing()
      .expectPhase("job", "x", undefined);
  });

  it("nextDue follows timers that were moved later", () => {
    const e = new Engine<Ev, Out>({ rules: [nodeSilent] });
    const s = e.initialState();
    expect(e.nextDue(s)).toBeUndefined();
    e.step(s, { time: 0, event: heartbeat("a") });
    e.step(s, { time: 3000, event: heartbeat("a") });
    e.step(s, { time: 4000, event: heartbeat("b") });
    expect(e.nextDue(s)).toBe(8000);
    expect(e.step(s, { time: 7999 }).outputs).toEqual([]);
    expect(e.step(s, { time: 8000 }).outputs.map((o) => o.key)).toEqual(["a"]);
    expect(e.nextDue(s)).toBe(9000);
  });
});
