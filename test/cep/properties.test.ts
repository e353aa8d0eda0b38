import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  Engine,
  counting,
  defineFlow,
  defineRule,
  sequence,
  type EngineState,
  type Input,
  type Output,
  type RuleState,
} from "../../src/cep/index.js";
import { nodeSilent, type Ev, type Out } from "./fixtures.js";

// A mix of rules that exercises every mechanism: phase timeouts, named timers, buffers, both
// bounds, patterns and a flow.
const restarts = defineRule<Ev, Out, { tries: number }, { restarts: number }, "failed" | "waiting" | "done">({
  name: "restarts",
  key: (e) => (e.kind === "process-failed" || e.kind === "process-up" ? `${e.node}:${e.process}` : undefined),
  local: () => ({ tries: 0 }),
  global: () => ({ restarts: 0 }),
  bounds: { maxInstances: 3, maxBuffer: 1 },
  initial: "failed",
  phases: {
    failed: {
      on: [
        {
          when: (e) => e.kind === "process-failed",
          goto: "waiting",
          then: (ctx, e) => {
            ctx.push(ctx.time);
            ctx.startTimer("retry", 700);
            if (e.kind === "process-failed")
              ctx.emit({ command: "restart", node: e.node, process: e.process });
          },
        },
      ],
    },
    waiting: {
      on: [
        { when: (e) => e.kind === "process-up", goto: "done" },
        { when: (e) => e.kind === "process-failed", then: (ctx) => ctx.push(ctx.time) },
      ],
      timers: [
        {
          timer: "retry",
          goto: ["waiting", "done"],
          then: (ctx) => {
            ctx.global = { restarts: ctx.global.restarts + 1 };
            if (ctx.local.tries >= 2) return ctx.goto("done");
            ctx.local = { tries: ctx.local.tries + 1 };
            ctx.startTimer("retry", 700);
            ctx.emit({ command: "restart", node: ctx.key, process: "again" });
          },
        },
      ],
      timeout: { after: 4000, goto: "done" },
    },
    done: { final: true },
  },
});
const failedThenUp = sequence<Ev, Out>({
  name: "failed-then-up",
  key: (e) => (e.kind === "heartbeat" ? undefined : e.node),
  first: (e) => e.kind === "process-failed",
  then: (e) => e.kind === "process-up",
  within: 1500,
  bounds: { maxInstances: 2 },
  emit: (_a, _b, node) => ({ command: "mark-down", node }),
});
const flapping = counting<Ev, Out>({
  name: "flapping",
  key: (e) => (e.kind === "process-failed" ? e.node : undefined),
  match: () => true,
  count: 3,
  within: 2500,
  emit: (_t, node) => ({ command: "mark-down", node }),
});
const beats = defineFlow<Ev, Out>("beats", (f) =>
  f.input
    .filter((e) => e.kind === "heartbeat")
    .accum(0, (n) => n + 1)
    .changes.filter((n) => n % 7 === 0)
    .map((n) => ({ command: "respawn-node", node: "all", attempt: n })),
);
const rules = [nodeSilent, restarts, failedThenUp, flapping, beats];
const engine = new Engine<Ev, Out>({ rules });

const node = fc.constantFrom("n1", "n2", "n3", "n4");
const proc = fc.constantFrom("p1", "p2");
const event: fc.Arbitrary<Ev | undefined> = fc.oneof(
  fc.constant(undefined), // a tick
  node.map((n) => ({ kind: "heartbeat" as const, node: n })),
  fc.tuple(node, proc).map(([n, p]) => ({ kind: "process-failed" as const, node: n, process: p })),
  fc.tuple(node, proc).map(([n, p]) => ({ kind: "process-up" as const, node: n, process: p })),
);
const inputs: fc.Arbitrary<Input<Ev>[]> = fc
  .array(fc.tuple(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3000 })), event), { maxLength: 120 })
  .map((steps) => {
    let time = 1_000;
    return steps.map(([dt, e]) => {
      time += dt;
      return e === undefined ? { time } : { time, event: e };
    });
  });

function runAll(state: EngineState, list: readonly Input<Ev>[], explain = false): Output<Out>[] {
  const out: Output<Out>[] = [];
  for (const input of list) out.push(...engine.step(state, input, { explain }).outputs);
  return out;
}

const jsonRoundTrip = (s: EngineState): EngineState =>
  engine.restore(JSON.parse(JSON.stringify(engine.snapshot(s))) as unknown);

describe("properties (fast-check, fixed seeds)", () => {
  it("determinism: the same inputs give the same outputs and state hash; explain changes nothing", () => {
    fc.assert(
      fc.property(inputs, (list) => {
        const a = engine.initialState();
        const b = engine.initialState();
        const outA = runAll(a, list);
        const outB = runAll(b, list, true);
        expect(outB).toEqual(outA);
        expect(engine.hash(b)).toBe(engine.hash(a));
      }),
      { seed: 101, numRuns: 150 },
    );
  });

  it("snapshot at any point then replay equals replay from the start", () => {
    fc.assert(
      fc.property(inputs, fc.nat(), (list, at) => {
        const k = list.length === 0 ? 0 : at % (list.length + 1);
        const straight = engine.initialState();
        const before = runAll(straight, list.slice(0, k));
        const after = runAll(straight, list.slice(k));
        const resumed = engine.initialState();
        expect(runAll(resumed, list.slice(0, k))).toEqual(before);
        const restored = jsonRoundTrip(resumed);
        expect(engine.hash(restored)).toBe(engine.hash(resumed));
        expect(runAll(restored, list.slice(k))).toEqual(after);
        expect(engine.hash(restored)).toBe(engine.hash(straight));
        expect(engine.nextDue(restored)).toBe(engine.nextDue(straight));
      }),
      { seed: 202, numRuns: 150 },
    );
  });

  it("bounds are respected at every step, and every output id is unique", () => {
    const seen = { instances: 0, buffer: 0, emit: 0, error: 0 };
    fc.assert(
      fc.property(inputs, (list) => {
        const s = engine.initialState();
        const ids = new Set<string>();
        for (const input of list) {
          for (const o of engine.step(s, input).outputs) {
            expect(ids.has(o.id)).toBe(false);
            ids.add(o.id);
            if (o.kind === "overflow") seen[o.data.reason]++;
            else seen[o.kind]++;
          }
          for (const rule of rules) {
            if (rule.kind !== "rule") continue;
            const rs = s.processors[rule.name] as RuleState;
            const instances = Object.values(rs.instances);
            expect(instances.length).toBe(rs.count);
            expect(rs.count).toBeLessThanOrEqual(rule.maxInstances);
            for (const inst of instances) expect(inst.buffer.length).toBeLessThanOrEqual(rule.maxBuffer);
          }
        }
      }),
      { seed: 303, numRuns: 150 },
    );
    // The random inputs did reach the bounds (otherwise this test would prove nothing).
    expect(seen.instances).toBeGreaterThan(0);
    expect(seen.buffer).toBeGreaterThan(0);
    expect(seen.emit).toBeGreaterThan(0);
    expect(seen.error).toBe(0);
  });

  it("timers fire in (due, creation) order however the ticks are spaced", () => {
    fc.assert(
      fc.property(inputs, fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1 }), (list, every) => {
        // The same inputs, with extra ticks inserted at arbitrary times in between.
        const withTicks: Input<Ev>[] = [];
        list.forEach((input, i) => {
          const prev = withTicks.at(-1)?.time ?? input.time;
          const gap = every[i % every.length] as number;
          if (input.time > prev) withTicks.push({ time: prev + (input.time - prev) / gap });
          withTicks.push(input);
        });
        const plain = runAll(engine.initialState(), list).filter((o) => o.kind === "emit");
        const ticked = runAll(engine.initialState(), withTicks).filter((o) => o.kind === "emit");
        const view = (os: Output<Out>[]) => os.map((o) => [o.rule, o.key, o.time, o.data]);
        // Flows see ticks as inputs, so compare the rules' outputs only.
        const rulesOnly = (os: Output<Out>[]) => view(os.filter((o) => o.rule !== "beats"));
        expect(rulesOnly(ticked)).toEqual(rulesOnly(plain));
      }),
      { seed: 404, numRuns: 100 },
    );
  });
});
