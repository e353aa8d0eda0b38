import { describe, expect, it } from "vitest";
import { EventOutcome } from "../../src/gen/halon/v1/events.js";
import { EntryType } from "../../src/raft/types.js";
import { encodeRulesVersion, makeEvent, encodeEventBatch } from "../../src/rc/entry.js";
import { RcStateMachine } from "../../src/rc/state-machine.js";
import { AssertionError } from "../../src/util/assert.js";
import { outcomeOf, runningCluster, Scenario, TEST_CONFIG } from "./harness.js";

describe("exactly once", () => {
  it("the same event submitted twice is applied once, in one batch or two", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 1, processesPerNode: 1 });
    const fail = { id: "fail-1", processFailed: { processId: "proc-0-0", instance: 1, reason: "" } };
    const r = s.events([fail, fail]);
    expect(r.events.map((e) => e.outcome)).toEqual([
      EventOutcome.EVENT_OUTCOME_APPLIED,
      EventOutcome.EVENT_OUTCOME_DUPLICATE,
    ]);
    expect(r.commands).toHaveLength(1);
    const again = s.event(fail, s.time + 1_000);
    expect(outcomeOf(again)).toBe(EventOutcome.EVENT_OUTCOME_DUPLICATE);
    expect(again.commands).toEqual([]);
    expect(s.attr("proc-0-0", "instance")).toBe(2);
  });

  it("ids are forgotten after the retention, measured in log time", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 1 });
    s.event({ id: "hb", nodeHeartbeat: { nodeId: "node-0", epoch: 0 } }, 1_000);
    expect(s.sm.dedupSize()).toBeGreaterThan(0);
    expect(
      outcomeOf(
        s.event(
          { id: "hb", nodeHeartbeat: { nodeId: "node-0", epoch: 0 } },
          1_000 + TEST_CONFIG.dedupRetentionMs,
        ),
      ),
    ).toBe(EventOutcome.EVENT_OUTCOME_DUPLICATE);
    s.tick(1_000 + TEST_CONFIG.dedupRetentionMs + 1);
    expect(outcomeOf(s.event({ id: "hb", nodeHeartbeat: { nodeId: "node-0", epoch: 0 } }))).toBe(
      EventOutcome.EVENT_OUTCOME_APPLIED,
    );
  });

  it("unknown but well-formed events are recorded and acknowledged, never retried", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 1 });
    // An event with no body this version knows.
    const withUnknownBody = makeEvent({ id: "future-1", source: "node-0" });
    const encoded = encodeEventBatch(5, [withUnknownBody]);
    const r1 = s.entry(encoded, 5);
    const r2 = s.event({ id: "opaque-1", opaque: { type: "fan-speed", payload: Buffer.from([1, 2]) } });
    expect(outcomeOf(r1)).toBe(EventOutcome.EVENT_OUTCOME_RECORDED_UNKNOWN);
    expect(outcomeOf(r2)).toBe(EventOutcome.EVENT_OUTCOME_RECORDED_UNKNOWN);
    expect(r2.commands).toEqual([]);
    expect(
      outcomeOf(s.event({ id: "opaque-1", opaque: { type: "fan-speed", payload: Buffer.alloc(0) } })),
    ).toBe(EventOutcome.EVENT_OUTCOME_DUPLICATE);
    expect(s.sm.unknownEvents().count).toBe(2);
    expect(s.sm.unknownEvents().recent.map((u) => u[1])).toEqual([
      "(no body this version knows)",
      "fan-speed",
    ]);
    expect(s.tickUntil(s.time + 100_000, 10_000)).toEqual([]);
  });

  it("an event with an unknown field number decodes as unknown, not as an error", () => {
    // Event { id = "x" (field 1), field 99 varint 7 }: a newer sender's body.
    const event = new Uint8Array([0x0a, 0x01, 0x78, 0x98, 0x06, 0x07]);
    const batch = new Uint8Array([0x08, 0x05, 0x12, event.length, ...event]);
    const entry = new Uint8Array([0x0a, batch.length, ...batch]);
    const s = new Scenario();
    const r = s.entry(entry);
    expect(r.error).toBe("");
    expect(r.events.map((e) => [e.eventId, e.outcome])).toEqual([
      ["x", EventOutcome.EVENT_OUTCOME_RECORDED_UNKNOWN],
    ]);
  });
});

describe("bad input gets a typed refusal, never a crash", () => {
  it("refuses malformed events field by field", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 1, processesPerNode: 1 });
    const cases: [Parameters<Scenario["event"]>[0], string, RegExp][] = [
      [{ id: "", nodeSilent: { nodeId: "node-0" } }, "bad-field", /^id /],
      [{ id: "has space", nodeSilent: { nodeId: "node-0" } }, "bad-field", /^id /],
      [{ nodeSilent: { nodeId: "" } }, "bad-field", /node_silent\.node_id/],
      [{ processFailed: { processId: "proc-0-0", instance: 0, reason: "" } }, "bad-field", /instance/],
      [{ processFailed: { processId: "nope", instance: 1, reason: "" } }, "unknown-resource", /nope/],
      [{ nodeSilent: { nodeId: "proc-0-0" } }, "unknown-resource", /not a Node/],
      [{ nodeSilent: { nodeId: "node-0" }, diskFailed: { diskId: "d" } }, "several-bodies", /several/],
      [{ opaque: { type: "", payload: Buffer.alloc(0) } }, "bad-field", /opaque\.type/],
      [
        {
          topologyDeclared: {
            clusterName: "",
            hosts: [],
            pools: [{ id: "p", diskIds: ["ghost"] }],
          },
        },
        "unknown-resource",
        /ghost/,
      ],
      [
        {
          topologyDeclared: {
            clusterName: "",
            hosts: [
              {
                id: "h",
                rackId: "r",
                enclosureId: "h",
                address: "",
                infraEndpoint: "",
                nodeId: "",
                disks: [],
                processes: [],
              },
            ],
            pools: [],
          },
        },
        "conflict",
        /both as host and as enclosure/,
      ],
    ];
    for (const [body, code, reason] of cases) {
      const before = s.sm.snapshot();
      const r = s.event(body);
      expect(r.events[0]?.outcome, JSON.stringify(body)).toBe(EventOutcome.EVENT_OUTCOME_REJECTED);
      expect(r.events[0]?.code, JSON.stringify(body)).toBe(code);
      expect(r.events[0]?.reason).toMatch(reason);
      // A refused event changes nothing but the applied index.
      expect(withoutIndex(s.sm.snapshot())).toEqual(withoutIndex(before));
    }
  });

  it("refuses undecodable entries, empty entries and unknown rules versions", () => {
    const s = new Scenario();
    expect(s.entry(new Uint8Array([0xff, 0xff, 0xff])).error).toMatch(/undecodable/);
    expect(s.entry(new Uint8Array([])).error).toMatch(/empty entry/);
    expect(s.entry(encodeRulesVersion(99, 0)).error).toMatch(/unknown rules version 99/);
    expect(s.entry(encodeRulesVersion(1, 0)).error).toBe("");
  });

  it("ignores Noop and Config entries but counts their index", () => {
    const sm = new RcStateMachine({ config: TEST_CONFIG });
    sm.apply({ term: 1, index: 1, type: EntryType.Noop, data: new Uint8Array() });
    expect(sm.lastApplied).toBe(1);
  });

  it("a result for an unknown command is acknowledged as stale", () => {
    const s = new Scenario();
    expect(outcomeOf(s.ack("c999"))).toBe(EventOutcome.EVENT_OUTCOME_IGNORED_STALE);
  });

  it("refuses a corrupt snapshot and keeps its state", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 2 });
    const hash = s.sm.stateHash();
    expect(() => s.sm.restore(Buffer.from("{not json"))).toThrow(/not JSON/);
    const data = JSON.parse(Buffer.from(s.sm.snapshot()).toString()) as { graph: { edges: string[][] } };
    data.graph.edges.push(["host-0", "runs", "node-1"]);
    expect(() => s.sm.restore(Buffer.from(JSON.stringify(data)))).toThrow(/refused/);
    expect(s.sm.stateHash()).toBe(hash);
  });
});

function withoutIndex(bytes: Uint8Array): unknown {
  const d = JSON.parse(Buffer.from(bytes).toString()) as Record<string, unknown>;
  delete d.appliedIndex;
  return d;
}

describe("entries", () => {
  it("an index applied twice stops the replica (an assertion) and changes nothing", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 1, processesPerNode: 1 });
    const last = s.log[s.log.length - 1] as NonNullable<(typeof s.log)[number]>;
    const hash = s.sm.stateHash();
    expect(() => s.sm.apply(last)).toThrow(AssertionError);
    expect(s.sm.stateHash()).toBe(hash);
  });

  it("a node service that restarts (joins again) gets all its processes started, even those starting", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 1, processesPerNode: 2 });
    s.event({ processLocalRestart: { processId: "proc-0-0", instance: 5, reason: "" } });
    const r = s.event({ nodeJoined: { nodeId: "node-0", hostId: "host-0", address: "", epoch: 0 } });
    expect(r.commands[0]?.startProcesses?.processes.map((p) => [p.processId, p.instance])).toEqual([
      ["proc-0-0", 6],
      ["proc-0-1", 2],
    ]);
    const again = s.event({ nodeJoined: { nodeId: "node-0", hostId: "host-0", address: "", epoch: 0 } });
    expect(again.commands[0]?.startProcesses?.processes.map((p) => p.instance)).toEqual([7, 3]);
    // The older start command was superseded: one pending start for the node.
    expect(s.pending().filter((c) => c.startProcesses)).toHaveLength(1);
  });
});
