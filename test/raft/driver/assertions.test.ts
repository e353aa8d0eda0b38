// A broken invariant stops the node at once, loudly (a fatal error the host
// logs and exits on), instead of letting it go on with a state it cannot trust.
import { afterEach, describe, expect, it } from "vitest";
import { MessageType, RaftStoppedError, makeMessage } from "../../../src/raft/index.js";
import type { Entry } from "../../../src/raft/index.js";
import { AssertionError, assert } from "../../../src/util/assert.js";
import type { LiveReplica, ListMachine } from "../helpers.js";
import { leaderOf, startLiveCluster, text, waitFor } from "../helpers.js";

let running: LiveReplica[] = [];
afterEach(() => {
  for (const r of running) r.node.stop();
  running = [];
});

function watchFatal(r: LiveReplica): Error[] {
  const fatal: Error[] = [];
  r.node.observe({ fatal: (e) => fatal.push(e) });
  return fatal;
}

describe("assertions", () => {
  it("assert throws an AssertionError naming the invariant, and only when it is broken", () => {
    expect(() => assert(1 + 1 === 2, "arithmetic")).not.toThrow();
    expect(() => assert(false, () => "commit 5 is beyond the last index 4")).toThrow(AssertionError);
    expect(() => assert(0, "x")).toThrow(/assertion failed: x/);
  });

  it("a leader whose view of a follower breaks match < next stops at the follower's next answer", async () => {
    const { replicas } = await startLiveCluster(["a", "b", "c"]);
    running = replicas;
    await waitFor(() => leaderOf(replicas) !== undefined, 10_000, "a leader");
    const leader = leaderOf(replicas)!;
    await leader.node.propose(text("v0"));
    const fatal = watchFatal(leader);
    // Planted bug: the leader believes a follower holds more than it will send it next.
    const follower = replicas.find((r) => r !== leader)!;
    const pr = leader.node.core.progress.get(follower.id)!;
    const { term, lastIndex } = leader.node.status();
    pr.match = pr.next + 100;
    // The follower's answer (as the transport would hand it over) meets the broken view.
    leader.node.receive(
      makeMessage(MessageType.AppendResponse, follower.id, leader.id, {
        term,
        index: lastIndex,
        storage: follower.node.status().storageId,
      }),
    );
    expect(leader.node.isStopped).toBe(true);
    expect(fatal.length).toBe(1);
    expect(fatal[0]).toBeInstanceOf(AssertionError);
    expect(fatal[0]!.message).toMatch(/match \d+ is not before next \d+/);
    await expect(leader.node.propose(text("after"))).rejects.toBeInstanceOf(RaftStoppedError);
    expect(leader.machine.items).not.toContain("after");
  });

  it("a state machine that finds its invariant broken stops the node; a plain error does too", async () => {
    const { replicas } = await startLiveCluster(["a"]);
    running = replicas;
    const r = replicas[0]!;
    await waitFor(() => r.node.isLeader, 10_000, "a leader");
    const fatal = watchFatal(r);
    const machine = r.machine as ListMachine & { apply: ListMachine["apply"] };
    const apply = machine.apply.bind(machine);
    machine.apply = (e) => {
      if (new TextDecoder().decode(e.data) === "poison")
        throw new AssertionError("the machine's own invariant");
      return apply(e);
    };
    await r.node.propose(text("fine"));
    const outcome = await r.node.propose(text("poison")).then(
      () => "answered",
      (e: unknown) => e,
    );
    expect(outcome).toBeInstanceOf(RaftStoppedError);
    expect(r.node.isStopped).toBe(true);
    expect(fatal.map((e) => e.name)).toEqual(["AssertionError"]);
    expect(r.machine.items).toEqual(["fine"]);
  });

  it("a broken invariant met by a proposal stops the node, not only the proposal", async () => {
    const { replicas } = await startLiveCluster(["a"]);
    running = replicas;
    const r = replicas[0]!;
    await waitFor(() => r.node.isLeader, 10_000, "a leader");
    const fatal = watchFatal(r);
    // Planted bug: the log refuses the leader's own append as out of order.
    (r.node.core.log as unknown as { appendOne: (e: Entry) => void }).appendOne = (e) =>
      assert(false, `append at ${e.index} out of order`);
    const err = await r.node.propose(text("x")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AssertionError);
    expect(r.node.isStopped).toBe(true);
    expect(fatal.map((e) => e.message)).toEqual([(err as Error).message]);
  });
});
