// History and explain, fed by the production path's trace: what they keep,
// what they leave out, and that explain follows a rule episode back to where
// it began.
import { afterEach, describe, expect, it, vi } from "vitest";
import { Coordinator } from "../../src/rc/coordinator.js";
import { backoffDelay } from "../../src/rc/config.js";
import { causeLine, History, stepLines } from "../../src/rc/history.js";
import type { CauseTrace } from "../../src/rc/trace.js";
import { runningCluster, Scenario, TEST_CONFIG } from "./harness.js";

function traced(maxItems?: number): { s: Scenario; history: History } {
  const history = new History(maxItems);
  const s = new Scenario(TEST_CONFIG, (t) => history.record(t));
  runningCluster(s, { hosts: 2, processesPerNode: 1, disksPerHost: 2, pools: 1 });
  return { s, history };
}

describe("history", () => {
  it("keeps causes that did something, and leaves out a heartbeat of an online node", () => {
    const { s, history } = traced();
    const before = history.recent(1_000).length;
    s.event({ nodeHeartbeat: { nodeId: "node-0", epoch: 0 } });
    expect(history.recent(1_000)).toHaveLength(before);
    // A refused event is kept: it did nothing, but an operator wants to see why.
    s.event({ id: "ghost-1", processFailed: { processId: "ghost", instance: 1, reason: "" } });
    const last = history.recent(1)[0]!;
    expect(last.cause).toMatchObject({ kind: "event", eventId: "ghost-1", outcome: "rejected" });
    expect(last.cause.kind === "event" && last.cause.code).toBe("unknown-resource");
    expect(last.resources).toEqual(["ghost"]);
  });

  it("files a command result under what its command was about", () => {
    const { s, history } = traced();
    const cmd = s.event({ processFailed: { processId: "proc-0-0", instance: 1, reason: "exit 1" } })
      .commands[0]!;
    s.ack(cmd.id, false);
    const items = history.recent(2, "proc-0-0");
    expect(items.map((i) => i.cause.kind === "event" && i.cause.name)).toEqual([
      "processFailed",
      "commandResult",
    ]);
    // The failed answer fed the rule: respawning → backoff.
    expect(items[1]!.rules.flatMap((r) => r.phases)).toContainEqual({
      rule: "process-recovery",
      key: "proc-0-0",
      before: "respawning",
      after: "backoff",
    });
  });

  it("is bounded, and says from which index it is complete", () => {
    const { s, history } = traced(5);
    for (let i = 0; i < 10; i++) s.event({ diskFailed: { diskId: `disk-${i % 2}-${i % 2}` } });
    expect(history.recent(100)).toHaveLength(5);
    expect(history.keptFromIndex).toBeGreaterThan(0);
    history.reset(42);
    expect(history.recent(100)).toEqual([]);
    expect(history.keptFromIndex).toBe(42);
  });
});

describe("explain", () => {
  it("a process given up: from the failure through every respawn to the timer that gave up", () => {
    const { s, history } = traced();
    let instance = 1;
    s.event({ processFailed: { processId: "proc-0-0", instance, reason: "exit 1" } });
    for (let attempt = 1; attempt < TEST_CONFIG.processRespawnBudget; attempt++) {
      instance++;
      s.event({ processFailed: { processId: "proc-0-0", instance, reason: "exit 1" } });
      s.tick(s.time + backoffDelay(TEST_CONFIG.processRespawnBackoff, attempt));
    }
    instance++;
    s.event({ id: "last-failure", processFailed: { processId: "proc-0-0", instance, reason: "exit 1" } });
    expect(s.attr("proc-0-0", "state")).toBe("failed");

    const x = history.explain(s.sm.graph, "proc-0-0")!;
    expect(x.summary).toMatch(
      /^Process proc-0-0 is "failed" since entry \d+: event last-failure processFailed/,
    );
    const last = x.steps.at(-1)!;
    // The production path, rule by rule: the event's rule recorded the failure and fed the
    // recovery rule, which asked to give up; that intent, carried out, ended the recovery.
    expect(stepLines(last, "proc-0-0")).toEqual([
      "rule process-reports[proc-0-0] ← process-failed",
      '  set proc-0-0.state = "failed" (was "starting")',
      "rules ← process-failed proc-0-0: process-recovery[proc-0-0] respawning → (ended); " +
        "process-recovery[proc-0-0] asks process-given-up (processId=proc-0-0)",
      "rule process-recovery[proc-0-0] ← process-given-up",
      "  set proc-0-0.recovering = false (was true)",
    ]);
    // It starts where the episode began (an instance created from nothing) and shows every respawn.
    const first = x.steps[0]!;
    expect(causeLine(first)).toMatch(/^event \S+ processFailed \[proc-0-0\]: applied$/);
    expect(first.rules.flatMap((r) => r.phases)[0]).toMatchObject({ key: "proc-0-0", before: "" });
    // Every respawn command is under the recovery rule's step that issued it.
    for (const step of x.steps.flatMap((i) => i.rules))
      if (step.commands.some((c) => c.respawnProcess))
        expect([step.kind, step.rule, step.on]).toEqual(["graph", "process-recovery", "respawn-process"]);
    const respawns = x.steps
      .flatMap((i) => i.commands)
      .filter((c) => c.respawnProcess?.processId === "proc-0-0");
    expect(respawns.map((c) => c.respawnProcess!.attempt)).toEqual([1, 2, 3]);
  });

  it("a disk failed by a striping error is explained by that event alone", () => {
    const { s, history } = traced();
    s.event({ id: "stripe-1", stripingError: { poolId: "pool-0", diskId: "disk-1-0" } });
    s.event({ nodeHeartbeat: { nodeId: "node-1", epoch: 0 } });
    const x = history.explain(s.sm.graph, "disk-1-0")!;
    expect(x.steps).toHaveLength(1);
    expect(causeLine(x.steps[0]!)).toBe("event stripe-1 stripingError [disk-1-0, pool-0]: applied");
    expect(stepLines(x.steps[0]!, "disk-1-0")).toEqual([
      "rule disk-health[disk-1-0] ← striping-error",
      '  set disk-1-0.state = "failed" (was "online")',
    ]);
    expect(history.explain(s.sm.graph, "no-such")).toBeNull();
  });
});

describe("the rule network's steps", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** Whether every change and command of the cause is in exactly one graph step (replay-property checks it at random). */
  const accounted = (c: CauseTrace): boolean => {
    const steps = c.rules.filter((r) => r.kind === "graph");
    return (
      JSON.stringify(steps.flatMap((r) => r.changes)) === JSON.stringify(c.changes) &&
      JSON.stringify(steps.flatMap((r) => r.commands)) === JSON.stringify(c.commands)
    );
  };

  it("account for every change and command of a silent node's cause", () => {
    const { s, history } = traced();
    s.event({ nodeSilent: { nodeId: "node-1" } });
    const item = history.recent(1)[0]!;
    expect(item.changes.length).toBeGreaterThan(0);
    expect(item.commands.length).toBeGreaterThan(0);
    expect(accounted(item)).toBe(true);
    // The event's rule changed nothing itself: it fed the node-recovery rule, whose intents did.
    expect(
      item.rules
        .filter((r) => r.kind === "graph")
        .map((r) => `${r.rule} ${r.on} ${r.changes.length > 0} ${r.commands.length > 0}`),
    ).toEqual([
      "node-liveness node-silent false false",
      "node-recovery node-transient true false",
      "node-recovery respawn-node true true",
    ]);
  });

  it("catches a planted bug: changes that no step takes", () => {
    // flushStep hands each step its changes and commands; without it they belong to no step.
    vi.spyOn(Coordinator.prototype as unknown as { flushStep(): void }, "flushStep").mockImplementation(
      () => {},
    );
    const { s, history } = traced();
    s.event({ nodeSilent: { nodeId: "node-1" } });
    expect(accounted(history.recent(1)[0]!)).toBe(false);
  });
});
