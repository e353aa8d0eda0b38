// Watchers follow the graph through the changes each applied entry made.
import { describe, expect, it } from "vitest";
import { applyChanges, Graph, graphHash, HALON_SCHEMA, type GraphChange } from "../../src/graph/index.js";
import { EntryType } from "../../src/raft/types.js";
import { encodeEventBatch, encodeRulesVersion } from "../../src/rc/entry.js";
import { RcStateMachine } from "../../src/rc/state-machine.js";
import { declaredHosts, TEST_CONFIG } from "./harness.js";

describe("graph watchers", () => {
  it("a copy fed the changes of every entry stays identical to the state machine's graph", () => {
    const copy = new Graph(HALON_SCHEMA);
    const seen: number[] = [];
    const sm = new RcStateMachine({
      config: TEST_CONFIG,
      onGraphChanges: (index: number, changes: GraphChange[]) => {
        seen.push(index);
        applyChanges(copy, changes);
      },
    });
    const { hosts, pools } = declaredHosts({ hosts: 3, processesPerNode: 1, disksPerHost: 1, pools: 1 });
    const batches = [
      [{ id: "t", source: "", topologyDeclared: { clusterName: "w", hosts, pools } }],
      [{ id: "j", source: "", nodeJoined: { nodeId: "node-1", hostId: "host-1", address: "a:1", epoch: 0 } }],
      [{ id: "s", source: "", stripingError: { poolId: "pool-0", diskId: "disk-2-0" } }],
      [{ id: "x", source: "", nodeHeartbeat: { nodeId: "node-1", epoch: 1 } }],
    ];
    batches.forEach((events, i) =>
      sm.apply({ term: 1, index: i + 1, type: EntryType.Normal, data: encodeEventBatch(1_000 * i, events) }),
    );
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(graphHash(copy)).toBe(graphHash(sm.graph));
    expect(copy.attr("node-1", "ackedEpoch")).toBe(1);
  });
});

describe("rules version", () => {
  it("a change to a known version is applied at its index; an unknown one is refused everywhere alike", () => {
    const a = new RcStateMachine({ config: TEST_CONFIG });
    const b = new RcStateMachine({ config: TEST_CONFIG });
    for (const sm of [a, b]) {
      sm.apply({ term: 1, index: 1, type: EntryType.Normal, data: encodeRulesVersion(1, 5_000) });
      sm.apply({ term: 1, index: 2, type: EntryType.Normal, data: encodeRulesVersion(7, 6_000) });
    }
    expect(a.timeMs).toBe(5_000);
    expect(a.stateHash()).toBe(b.stateHash());
  });
});
