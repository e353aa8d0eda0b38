// nextTimer and step(..., { maxTimers: 1 }): a caller can fire due timers one
// at a time (the coordinator makes each a transaction), with the same outputs,
// in the same order, and the same final state as one step that fires them all.
import { describe, expect, it } from "vitest";
import { Engine, type Output } from "../../src/cep/index.js";
import { heartbeat, nodeSilent, type Ev, type Out } from "./fixtures.js";

const emitted = (outputs: readonly Output<Out>[]) =>
  outputs.filter((o) => o.kind === "emit").map((o) => ({ time: o.time, ...o.data }));

describe("firing timers one at a time", () => {
  it("names the next timer and fires only it; the rest give what one step gives", () => {
    const engine = new Engine<Ev, Out>({ rules: [nodeSilent] });
    const one = engine.initialState();
    const all = engine.initialState();
    for (const s of [one, all]) {
      engine.step(s, { time: 0, event: heartbeat("n1") });
      engine.step(s, { time: 1000, event: heartbeat("n2") });
    }
    expect(engine.nextTimer(one)).toEqual({ rule: "node-silent", key: "n1", due: 5000 });
    const together = emitted(engine.step(all, { time: 20_000 }).outputs);
    const apart: ReturnType<typeof emitted> = [];
    for (let t = engine.nextTimer(one); t !== undefined && t.due <= 20_000; t = engine.nextTimer(one)) {
      const out = engine.step(one, { time: t.due }, { maxTimers: 1 }).outputs;
      expect(out.every((o) => o.key === t!.key)).toBe(true);
      apart.push(...emitted(out));
    }
    engine.step(one, { time: 20_000 });
    expect(apart).toEqual(together);
    expect(together.length).toBeGreaterThan(4);
    expect(engine.hash(one)).toBe(engine.hash(all));
    expect(engine.nextTimer(one)).toBeUndefined();
  });
});
