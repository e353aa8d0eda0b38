// The coordinator's state machine turns bad input and failing rules into
// deterministic rejections and fault records; a broken invariant is neither:
// it must stop the replica (the Raft driver stops on the thrown AssertionError).
import { describe, expect, it } from "vitest";
import { EntryType } from "../../src/raft/types.js";
import { encodeEventBatch, makeEvent } from "../../src/rc/entry.js";
import { AssertionError } from "../../src/util/assert.js";
import { runningCluster, Scenario } from "./harness.js";

/** Plants `error` where the coordinator handles an event. */
function plantInHandle(s: Scenario, error: Error): void {
  // The coordinator is private: reaching it is the point of a planted bug.
  const c = (s.sm as unknown as { coordinator: { handle: (...a: unknown[]) => unknown } }).coordinator;
  c.handle = () => {
    throw error;
  };
}

const heartbeat = (s: Scenario, id: string) =>
  s.entry(encodeEventBatch(s.time, [makeEvent({ id, nodeHeartbeat: { nodeId: "node-0", epoch: 0 } })]));

describe("rc state machine assertions", () => {
  it("a plain error in the coordinator is a fault record; the replica goes on", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 1, processesPerNode: 1 });
    plantInHandle(s, new Error("a rule's bug"));
    const r = heartbeat(s, "hb-plain");
    expect(r.events[0]?.code).toBe("internal");
    expect(s.sm.faultLog().count).toBe(1);
  });

  it("an AssertionError in the coordinator is not recorded: it reaches the driver", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 1, processesPerNode: 1 });
    plantInHandle(s, new AssertionError("planted invariant"));
    expect(() => heartbeat(s, "hb-assert")).toThrow(/planted invariant/);
    expect(s.sm.faultLog().count).toBe(0);
  });

  it("an entry from an earlier term than one applied stops the replica", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 1, processesPerNode: 1 });
    const data = encodeEventBatch(s.time, []);
    s.sm.apply({ index: ++s.index, term: 5, type: EntryType.Normal, data });
    const hash = s.sm.stateHash();
    expect(() => s.sm.apply({ index: ++s.index, term: 4, type: EntryType.Normal, data })).toThrow(
      AssertionError,
    );
    expect(s.sm.stateHash()).toBe(hash);
  });
});
