// apply() is total: bounded fields, every event and every timer all or
// nothing, stable codes without engine text, a rule that fails on every event
// switched off by a rules-version entry, log time bounded per entry, and a
// dedup window nothing a client sends can cut short.
import { afterEach, describe, expect, it, vi } from "vitest";
import { EventOutcome } from "../../src/gen/halon/v1/events.js";
import { Graph } from "../../src/graph/index.js";
import { encodeRulesVersion, encodeTick } from "../../src/rc/entry.js";
import { Outbox } from "../../src/rc/outbox.js";
import { RuleRunner } from "../../src/rc/rules/runner.js";
import { RcStateMachine } from "../../src/rc/state-machine.js";
import { BOUNDS } from "../../src/rc/validate.js";
import { outcomeOf, runningCluster, Scenario, TEST_CONFIG } from "./harness.js";

/** The state without what every entry changes (applied index) and the fault record. */
function comparable(sm: RcStateMachine): string {
  const d = JSON.parse(Buffer.from(sm.snapshot()).toString("utf8")) as Record<string, unknown>;
  delete d.appliedIndex;
  delete d.faults;
  return JSON.stringify(d);
}

const failed = (processId: string, instance: number) => ({
  processFailed: { processId, instance, reason: "gave up" },
});

describe("bounded fields (issue case 1)", () => {
  it("an instance of 2^53 - 1 is refused with the field named; the bound itself works end to end", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 1, processesPerNode: 2 });
    s.time = 10_000;
    const r = s.event(failed("proc-0-0", Number.MAX_SAFE_INTEGER));
    expect(r.events[0]).toMatchObject({ outcome: EventOutcome.EVENT_OUTCOME_REJECTED, code: "bad-field" });
    expect(r.events[0]!.reason).toContain("process_failed.instance");
    // At the bound: applied, and the respawn (instance + 1) and its timeout work.
    const ok = s.event(failed("proc-0-1", BOUNDS.instance));
    expect(outcomeOf(ok)).toBe(EventOutcome.EVENT_OUTCOME_APPLIED);
    expect(ok.commands[0]?.respawnProcess?.instance).toBe(BOUNDS.instance + 1);
    s.tickUntil(s.time + 5 * 60_000, 5_000);
    expect(s.sm.faultLog().count).toBe(0);
    expect(s.attr("proc-0-1", "instance")).toBeGreaterThan(BOUNDS.instance + 1);
  });

  it("a timer whose work fails (instance + 1 past 2^53) is undone and dropped; the replica goes on", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 1, processesPerNode: 2 });
    s.time = 10_000;
    s.event(failed("proc-0-0", 1));
    s.event(failed("proc-0-1", 1));
    // State written by a build without the bounds: the next respawn overflows.
    s.sm.graph.setAttr("proc-0-0", "instance", Number.MAX_SAFE_INTEGER);
    const hashBefore = s.sm.stateHash();
    expect(() => s.tickUntil(s.time + 60_000, 1_000)).not.toThrow();
    const faults = s.sm.faultLog();
    expect(faults.count).toBe(1);
    expect(faults.byRule["process-recovery"]).toBe(1);
    expect(faults.recent[0]).toMatchObject({ code: "internal", rule: "process-recovery", key: "proc-0-0" });
    expect(faults.recent[0]!.index).toBeGreaterThan(0);
    // Its instance was dropped (no retry storm); the graph is as the failed timer found it.
    expect(s.sm.rulePhase("process-recovery", "proc-0-0")).toBeUndefined();
    expect(s.attr("proc-0-0", "instance")).toBe(Number.MAX_SAFE_INTEGER);
    // The other process's timers went on firing.
    expect(s.attr("proc-0-1", "instance")).toBeGreaterThan(2);
    expect(s.sm.stateHash()).not.toBe(hashBefore);
    // And the replica keeps applying.
    expect(outcomeOf(s.event({ nodeHeartbeat: { nodeId: "node-0", epoch: 0 } }))).toBe(
      EventOutcome.EVENT_OUTCOME_APPLIED,
    );
  });
});

/**
 * node-1 is down with one process under recovery; another of its processes
 * has an instance from an unbounded build. Its join changes the graph (node,
 * host online), the rules (node recovery ends, the process recovery respawns)
 * and the outbox (a respawn command) before starting the other process at
 * instance + 1 fails.
 */
function failingJoin(): {
  s: Scenario;
  before: string;
  pendingBefore: unknown;
  r: ReturnType<Scenario["event"]>;
} {
  const s = new Scenario();
  runningCluster(s, { hosts: 2, processesPerNode: 2, disksPerHost: 1, pools: 1 });
  s.tick(10_000);
  s.event({ nodeSilent: { nodeId: "node-1" } });
  s.tickUntil(s.time + 200_000, 5_000);
  s.event(failed("proc-1-0", 1));
  s.sm.graph.setAttr("proc-1-1", "instance", Number.MAX_SAFE_INTEGER);
  s.tick(s.time + 1_000);
  const before = comparable(s.sm);
  const pendingBefore = s.pending();
  const r = s.event({ nodeJoined: { nodeId: "node-1", hostId: "host-1", address: "", epoch: 0 } });
  return { s, before, pendingBefore, r };
}

describe("all or nothing (issue case 4)", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("an event that fails half way is undone exactly: graph, rules, outbox", () => {
    const { s, before, pendingBefore, r } = failingJoin();
    expect(s.attr("node-1", "state")).toBe("down");
    expect(s.sm.rulePhase("process-recovery", "proc-1-0")).toBe("waiting-node");
    expect(r.events[0]).toMatchObject({ outcome: EventOutcome.EVENT_OUTCOME_REJECTED, code: "internal" });
    expect(r.commands).toEqual([]);
    expect(s.pending()).toEqual(pendingBefore);
    // Everything but the fault record and the applied index is as before the event.
    expect(comparable(s.sm)).toBe(before);
    // The fault names the rule it happened in: the join's rule, starting the node's processes.
    expect(s.sm.faultLog().recent.at(-1)).toMatchObject({
      code: "internal",
      eventId: r.events[0]!.eventId,
      rule: "node-liveness",
    });
    // The same event after a repair applies: the failed attempt did not remember its id.
    s.sm.graph.setAttr("proc-1-1", "instance", 5);
    const again = s.events([
      { id: r.events[0]!.eventId, nodeJoined: { nodeId: "node-1", hostId: "host-1", address: "", epoch: 0 } },
    ]);
    expect(outcomeOf(again)).toBe(EventOutcome.EVENT_OUTCOME_APPLIED);
    expect(s.attr("node-1", "state")).toBe("online");
    expect(again.commands.some((c) => c.respawnProcess?.processId === "proc-1-0")).toBe(true);
  });

  // Planted bugs: without any one part's undo, the same scenario shows the change.
  for (const [name, plant] of [
    ["the graph", () => vi.spyOn(Graph.prototype, "undo").mockImplementation(() => {})],
    ["the rules", () => vi.spyOn(RuleRunner.prototype, "undo").mockImplementation(() => {})],
    ["the outbox", () => vi.spyOn(Outbox.prototype, "undo").mockImplementation(() => {})],
  ] as const)
    it(`catches a planted bug: ${name} not undone`, () => {
      plant();
      const { s, before } = failingJoin();
      expect(comparable(s.sm)).not.toBe(before);
    });
});

describe("a rule that fails on every event", () => {
  // A broken rule: its backoff gives NaN, so the node-recovery rule throws
  // whenever a node goes silent (the engine refuses the timeout).
  const broken = { ...TEST_CONFIG, nodeRespawnBackoff: { baseMs: Number.NaN, factor: 2, maxMs: 20_000 } };

  it("is rejected with its name, undone, logged with the rule and index, and a rules-version entry switches it off", () => {
    const faults: { index: number; rule: string; code: string; error: unknown }[] = [];
    const s = new Scenario(broken);
    s.sm = new RcStateMachine({ config: broken, onFault: (f) => faults.push(f) });
    runningCluster(s, { hosts: 3, processesPerNode: 1 });
    s.tick(10_000);
    for (const n of ["node-0", "node-1"]) {
      const before = comparable(s.sm);
      const r = s.event({ nodeSilent: { nodeId: n } });
      expect(r.events[0]).toMatchObject({
        outcome: EventOutcome.EVENT_OUTCOME_REJECTED,
        code: "rule-failed",
      });
      expect(r.events[0]!.reason).toContain('rule "node-recovery"');
      expect(s.attr(n, "state")).toBe("online");
      expect(comparable(s.sm)).toBe(before);
    }
    // Loudly: the state counts it by rule, with the index; the log gets the engine's text.
    expect(s.sm.faultLog().byRule["node-recovery"]).toBe(2);
    expect(s.sm.faultLog().recent.map((f) => f.index)).toEqual([s.index - 1, s.index]);
    expect(faults.some((f) => f.rule === "node-recovery" && String(f.error).length > 0)).toBe(true);
    // No engine text in replicated state: only stable codes.
    const text = Buffer.from(s.sm.snapshot()).toString("utf8");
    expect(text).not.toContain("positive number");
    expect(text).not.toContain("NaN");
    // Everything else keeps working.
    expect(outcomeOf(s.event(failed("proc-2-0", 1)))).toBe(EventOutcome.EVENT_OUTCOME_APPLIED);
    // The fix: switch the rule off; the events apply (without that rule's recovery).
    const switched = s.entry(encodeRulesVersion(1, s.time, ["node-recovery"]));
    expect(switched.error).toBe("");
    expect(s.sm.rules()).toEqual({ version: 1, disabled: ["node-recovery"] });
    expect(outcomeOf(s.event({ nodeSilent: { nodeId: "node-0" } }))).toBe(EventOutcome.EVENT_OUTCOME_APPLIED);
    // It survives snapshot and restore, and replays the same.
    const copy = new RcStateMachine({ config: broken });
    copy.restore(s.sm.snapshot());
    expect(copy.stateHash()).toBe(s.sm.stateHash());
    expect(copy.rules().disabled).toEqual(["node-recovery"]);
    const replay = new RcStateMachine({ config: broken });
    for (const e of s.log) replay.apply(e);
    expect(replay.stateHash()).toBe(s.sm.stateHash());
    // A rule this build does not have is refused as a whole entry.
    expect(s.entry(encodeRulesVersion(1, s.time, ["no-such-rule"])).error).toContain("disabled_rules");
    // Enabled again: the rule runs (and fails) again.
    s.entry(encodeRulesVersion(1, s.time, []));
    expect(s.event({ nodeSilent: { nodeId: "node-1" } }).events[0]!.code).toBe("rule-failed");
  });
});

describe("log time and the dedup window (issue case 2)", () => {
  it("an entry moves time at most maxTimeStepMs; a resubmission within the retention is still a duplicate", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 1, processesPerNode: 1 });
    s.time = 100_000;
    s.tick(100_000);
    const r = s.event({ id: "once", diskFailed: { diskId: "nothing" } }, 100_000);
    expect(r.events[0]!.outcome).toBe(EventOutcome.EVENT_OUTCOME_REJECTED);
    const applied = s.event({
      id: "once-ok",
      processLocalRestart: { processId: "proc-0-0", instance: 7, reason: "" },
    });
    expect(outcomeOf(applied)).toBe(EventOutcome.EVENT_OUTCOME_APPLIED);
    // A tick stamped an hour ahead moves time by one step only.
    const jump = s.entry(encodeTick(100_000 + 3_600_000));
    expect(jump.timeMs).toBe(100_000 + TEST_CONFIG.maxTimeStepMs);
    const again = s.event({
      id: "once-ok",
      processLocalRestart: { processId: "proc-0-0", instance: 8, reason: "" },
    });
    expect(outcomeOf(again)).toBe(EventOutcome.EVENT_OUTCOME_DUPLICATE);
    expect(s.attr("proc-0-0", "localRestarts")).toBe(1);
    // Time out of range refuses the whole entry.
    expect(s.entry(encodeTick(BOUNDS.timeMs + 1)).error).toContain("outside");
  });

  it("a first stamp far ahead while timers are pending is bounded too (found by the fuzzer: it looped)", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 1, processesPerNode: 1 });
    // Everything so far at log time 0; a recovery with a timer re-arming itself every few seconds.
    s.event({ nodeSilent: { nodeId: "node-0" } }, 0);
    s.event(failed("proc-0-0", 1), 0);
    const started = Date.now();
    const r = s.entry(encodeTick(BOUNDS.timeMs));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(r.timeMs).toBe(TEST_CONFIG.maxTimeStepMs);
  });

  it("a full dedup table refuses new events instead of forgetting ids early", () => {
    const config = { ...TEST_CONFIG, dedupMaxIds: 50 };
    const s = new Scenario(config);
    runningCluster(s, { hosts: 1, processesPerNode: 1 });
    const first = s.event({
      id: "keep-me",
      processLocalRestart: { processId: "proc-0-0", instance: 9, reason: "" },
    });
    expect(outcomeOf(first)).toBe(EventOutcome.EVENT_OUTCOME_APPLIED);
    const flood = s.events(
      Array.from({ length: 100 }, (_, i) => ({
        id: `flood-${i}`,
        opaque: { type: "x", payload: Buffer.alloc(0) },
      })),
    );
    expect(flood.events.some((e) => e.code === "dedup-full")).toBe(true);
    expect(s.sm.dedupSize()).toBe(50);
    const resubmitted = s.event({
      id: "keep-me",
      processLocalRestart: { processId: "proc-0-0", instance: 10, reason: "" },
    });
    expect(outcomeOf(resubmitted)).toBe(EventOutcome.EVENT_OUTCOME_DUPLICATE);
    // After the retention the table has room again.
    s.tickUntil(s.time + config.dedupRetentionMs + 10_000, 5_000);
    const later = s.event({ id: "later", opaque: { type: "x", payload: Buffer.alloc(0) } });
    expect(outcomeOf(later)).toBe(EventOutcome.EVENT_OUTCOME_RECORDED_UNKNOWN);
  });
});
