// The trace (history and explain) and the watch stream next to issue 10's
// transactions: an event or a timer that is undone leaves none of its graph
// changes, rule steps or commands in them, and tracing changes no result and
// no state hash.
import { describe, expect, it } from "vitest";
import { EventOutcome } from "../../src/gen/halon/v1/events.js";
import { applyChanges, Graph, graphHash, HALON_SCHEMA } from "../../src/graph/index.js";
import type { GraphChange } from "../../src/graph/index.js";
import { RcStateMachine } from "../../src/rc/state-machine.js";
import type { EntryTrace } from "../../src/rc/trace.js";
import { runningCluster, Scenario, TEST_CONFIG } from "./harness.js";

/** A traced machine, its traces, and a watcher graph fed by the changes it reports. */
function traced(config = TEST_CONFIG) {
  const traces: EntryTrace[] = [];
  const watched = new Graph(HALON_SCHEMA);
  const reported: GraphChange[][] = [];
  const s = new Scenario(config);
  s.sm = new RcStateMachine({
    config,
    onTrace: (t) => traces.push(t),
    onGraphChanges: (_index, changes) => {
      reported.push(changes);
      applyChanges(watched, changes);
    },
  });
  return { s, traces, watched, reported };
}

/** Tracing is not state: the same log applied untraced gives the same results and hash. */
function expectSameUntraced(s: Scenario): void {
  const plain = new RcStateMachine({ config: s.config });
  const traced = new RcStateMachine({ config: s.config, onTrace: () => undefined });
  for (const e of s.log) expect(Buffer.from(traced.apply(e))).toEqual(Buffer.from(plain.apply(e)));
  expect(traced.stateHash()).toBe(s.sm.stateHash());
  expect(plain.stateHash()).toBe(s.sm.stateHash());
}

describe("the trace of undone transactions", () => {
  it("an event undone by a failing rule: its cause is kept as rejected, with no change, step or command", () => {
    // node-recovery throws when a node goes silent (NaN backoff): the event is undone.
    const broken = { ...TEST_CONFIG, nodeRespawnBackoff: { baseMs: Number.NaN, factor: 2, maxMs: 20_000 } };
    const { s, traces, watched, reported } = traced(broken);
    runningCluster(s, { hosts: 3, processesPerNode: 1 });
    s.tick(10_000);
    const count = reported.length;
    const r = s.event({ nodeSilent: { nodeId: "node-0" } });
    expect(r.events[0]).toMatchObject({ outcome: EventOutcome.EVENT_OUTCOME_REJECTED, code: "rule-failed" });
    expect(reported.length).toBe(count); // nothing for watchers
    const last = traces[traces.length - 1]!;
    expect(last.index).toBe(s.index);
    const causes = last.causes.filter((c) => c.cause.kind === "event");
    expect(causes).toHaveLength(1);
    expect(causes[0]!.cause).toMatchObject({ outcome: "rejected", code: "rule-failed" });
    expect(causes[0]!.changes).toEqual([]);
    expect(causes[0]!.rules).toEqual([]);
    expect(causes[0]!.commands).toEqual([]);
    expect(graphHash(watched)).toBe(graphHash(s.sm.graph));
    // What follows still traces normally.
    s.event({ processFailed: { processId: "proc-2-0", instance: 1, reason: "gave up" } });
    const next = traces[traces.length - 1]!.causes.find((c) => c.cause.kind === "event")!;
    expect(next.rules.length).toBeGreaterThan(0);
    expect(next.commands.some((c) => c.respawnProcess?.processId === "proc-2-0")).toBe(true);
    expect(graphHash(watched)).toBe(graphHash(s.sm.graph));
    expectSameUntraced(s);
  });

  it("a timer whose work fails is undone: the watchers' graph and the trace show none of it", () => {
    const { s, traces, watched } = traced();
    runningCluster(s, { hosts: 1, processesPerNode: 2 });
    s.time = 10_000;
    s.event({ processFailed: { processId: "proc-0-0", instance: 1, reason: "gave up" } });
    s.event({ processFailed: { processId: "proc-0-1", instance: 1, reason: "gave up" } });
    // State written by a build without the bounds: proc-0-0's next respawn overflows.
    s.sm.graph.setAttr("proc-0-0", "instance", Number.MAX_SAFE_INTEGER);
    applyChanges(watched, s.sm.graph.takeChanges());
    const from = traces.length;
    s.tickUntil(s.time + 60_000, 1_000);
    expect(s.sm.faultLog().count).toBe(1);
    expect(graphHash(watched)).toBe(graphHash(s.sm.graph));
    const later = traces.slice(from).flatMap((t) => t.causes);
    // proc-0-1's timers are traced; proc-0-0's failing one left no step, change or command.
    expect(later.some((c) => c.rules.some((r) => r.intents.some((i) => i.key === "proc-0-1")))).toBe(true);
    for (const c of later) {
      expect(c.rules.flatMap((r) => r.intents).filter((i) => i.key === "proc-0-0")).toEqual([]);
      expect(c.commands.filter((x) => x.respawnProcess?.processId === "proc-0-0")).toEqual([]);
    }
  });
});
