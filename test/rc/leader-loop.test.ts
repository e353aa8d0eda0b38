// The leader loop as pure code, input by input, against a real RcStateMachine:
// what it delivers and proposes, and when it asks to be woken. The whole loop
// under faults is test/sim-rc; this file pins its single steps.
import { describe, expect, it } from "vitest";
import { RcEntry } from "../../src/gen/halon/v1/events.js";
import { DEFAULT_LEADER_LOOP, LeaderLoop, type LoopEffect } from "../../src/rc/index.js";
import { runningCluster, Scenario } from "./harness.js";

function setup(overrides: Partial<typeof DEFAULT_LEADER_LOOP> = {}) {
  const s = new Scenario();
  runningCluster(s, { hosts: 3, processesPerNode: 1, disksPerHost: 1, pools: 1 });
  const clock = { t: s.time, now: () => clock.t };
  const loop = new LeaderLoop({
    selfId: "rc1",
    view: s.sm,
    clock,
    config: {
      ...DEFAULT_LEADER_LOOP,
      redeliverMs: 1_000,
      backoffBaseMs: 200,
      nodeSilentMs: 600_000,
      idleTickMs: 600_000,
      ...overrides,
    },
  });
  return { s, loop, clock };
}

const of = <K extends LoopEffect["kind"]>(effects: LoopEffect[], kind: K) =>
  effects.filter((e): e is Extract<LoopEffect, { kind: K }> => e.kind === kind);
const deliveries = (effects: LoopEffect[]) =>
  of(effects, "deliver").map((d) => `${d.command.target}>${d.to}`);

/** Leads in `term`, past its barrier; returns what it did then. */
function lead(loop: LeaderLoop, term = 2): LoopEffect[] {
  const barrier = of(loop.leadership({ leader: true, term }), "barrier");
  expect(barrier).toHaveLength(1);
  return loop.caughtUp(barrier[0]!.token, true);
}

describe("the leader loop", () => {
  it("acts only once its barrier has passed, then delivers everything pending (a broadcast to each node)", () => {
    const { s, loop, clock } = setup();
    s.event({ stripingError: { poolId: "pool-0", diskId: "disk-0-0" } });
    const first = loop.leadership({ leader: true, term: 2 });
    expect(first.map((e) => e.kind)).toEqual(["barrier"]);
    // A failed barrier is tried again after retryMs, on a wake-up.
    const again = loop.caughtUp(of(first, "barrier")[0]!.token, false);
    expect(again).toEqual([{ kind: "wake", at: s.time + DEFAULT_LEADER_LOOP.retryMs }]);
    expect(of(loop.wake(), "barrier")).toEqual([]);
    clock.t += DEFAULT_LEADER_LOOP.retryMs;
    const [barrier] = of(loop.wake(), "barrier");
    expect(deliveries(loop.caughtUp(barrier!.token, true))).toEqual(["*>node-0", "*>node-1", "*>node-2"]);
  });

  it("delivers a command when the entry that issued it is applied, with the term and its own id", () => {
    const { s, loop } = setup();
    expect(deliveries(lead(loop))).toEqual([]);
    const effects = loop.applied(s.event({ epochRequest: { nodeId: "node-2" } }));
    const [d] = of(effects, "deliver");
    expect(d).toMatchObject({ to: "node-2", term: 2, leaderId: "rc1" });
    expect(d!.command.epochTransition).toBeDefined();
  });

  it("delivers again after redeliverMs, not before; a failed delivery backs its target off", () => {
    const { s, loop, clock } = setup();
    lead(loop);
    const [d] = of(loop.applied(s.event({ epochRequest: { nodeId: "node-2" } })), "deliver");
    // Unreachable: no answer, and the target is backed off (200 ms) under the redelivery delay.
    expect(deliveries(loop.answered(d!.id, { ok: false, error: "unavailable" }))).toEqual([]);
    clock.t += 999;
    expect(deliveries(loop.wake())).toEqual([]);
    clock.t += 1;
    const again = of(loop.wake(), "deliver").filter((x) => x.to === "node-2");
    expect(again.map((x) => x.command)).toEqual([d!.command]);
    // An answer to the first delivery, now out of date, changes nothing.
    expect(loop.answered(d!.id, { ok: true, answer: { ok: true, detail: "" } })).toEqual([]);
  });

  it("turns an answer into one CommandResult; an ok RespawnProcess is reported by the node's ProcessStarted", () => {
    const { s, loop } = setup();
    lead(loop);
    const [epoch] = of(loop.applied(s.event({ epochRequest: { nodeId: "node-1" } })), "deliver");
    const proposed = of(
      loop.answered(epoch!.id, { ok: true, answer: { ok: true, detail: "done" } }),
      "propose",
    );
    expect(proposed).toHaveLength(1);
    const batch = RcEntry.decode(proposed[0]!.payload).events!.events;
    expect(batch.map((e) => [e.id, e.commandResult?.commandId, e.commandResult?.ok])).toEqual([
      [`result-${epoch!.command.id}-node-1`, epoch!.command.id, true],
    ]);
    const instance = s.attr("proc-0-0", "instance") as number;
    const failed = s.event({ processFailed: { processId: "proc-0-0", instance, reason: "exit 1" } });
    const [d] = of(loop.applied(failed), "deliver");
    expect(d?.command.respawnProcess?.processId).toBe("proc-0-0");
    expect(
      of(loop.answered(d!.id, { ok: true, answer: { ok: true, detail: "started" } }), "propose"),
    ).toEqual([]);
    // A failed respawn is reported by its answer: no ProcessStarted will come.
  });

  it("drops everything of a term it no longer leads: answers, proposals, deliveries", () => {
    const { s, loop } = setup();
    lead(loop, 2);
    const [d] = of(loop.applied(s.event({ epochRequest: { nodeId: "node-0" } })), "deliver");
    expect(loop.leadership({ leader: false, term: 3 })).toEqual([]);
    expect(loop.answered(d!.id, { ok: true, answer: { ok: true, detail: "" } })).toEqual([]);
    expect(loop.applied(s.event({ epochRequest: { nodeId: "node-1" } }))).toEqual([]);
    // Leading again in a later term: everything pending is delivered again, with that term.
    const effects = lead(loop, 4);
    expect(of(effects, "deliver").map((x) => [x.to, x.term])).toEqual([
      ["node-0", 4],
      ["node-1", 4],
    ]);
  });

  it("proposes a Tick when log time stands still; a failed Tick waits retryMs (sim-rc seed 10: no tight loop)", () => {
    const { s, loop, clock } = setup({ idleTickMs: 5_000 });
    lead(loop);
    clock.t = s.time + 5_000;
    const [tick] = of(loop.wake(), "propose");
    expect(RcEntry.decode(tick!.payload).tick?.timeMs).toBe(clock.t);
    const after = loop.proposed(tick!.token, { ok: false, error: "ProposalDroppedError" });
    expect(of(after, "propose")).toEqual([]);
    expect(of(after, "wake").map((w) => w.at)).toEqual([clock.t + DEFAULT_LEADER_LOOP.retryMs]);
    clock.t += DEFAULT_LEADER_LOOP.retryMs;
    expect(of(loop.wake(), "propose")).toHaveLength(1);
  });
});
