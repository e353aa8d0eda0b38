// A leader that nothing a follower sends can crash, and that finds and
// repairs a follower that lost entries it had acknowledged, without any
// change of leader.
import { describe, expect, it } from "vitest";
import { MessageType, makeMessage } from "../../../src/raft/core/messages.js";
import { Role } from "../../../src/raft/core/ready.js";
import { CoreNet, bytes } from "./harness.js";

function leaderWithLog(entries: number): CoreNet {
  const net = new CoreNet(["a", "b", "c"]);
  net.elect("a");
  for (let i = 0; i < entries; i++) net.core("a").propose(bytes(`x${i}`));
  net.stabilize();
  return net;
}

describe("a leader facing impossible answers", () => {
  for (const reject of [false, true]) {
    it(`drops an append ${reject ? "rejection" : "acknowledgement"} beyond its log, re-probes, and keeps leading`, () => {
      const net = leaderWithLog(5);
      const a = net.core("a");
      const term = a.term;
      const last = a.log.lastIndex();
      a.step(
        makeMessage(MessageType.AppendResponse, "b", "a", {
          term,
          index: last + 1000,
          reject,
          rejectHint: reject ? last + 999 : 0,
        }),
      );
      net.stabilize();
      expect(a.role).toBe(Role.Leader);
      expect(a.term).toBe(term);
      expect(net.dropped.some((d) => d.startsWith("a: b:") && d.includes("beyond our last index"))).toBe(
        true,
      );
      // The lie did not count towards commit: b's progress is what b really holds.
      expect(a.progress.get("b")?.match).toBe(net.core("b").log.lastIndex());
      a.propose(bytes("after"));
      net.stabilize();
      expect(net.appliedData("b")).toContain("after");
      expect(net.core("b").log.lastIndex()).toBe(a.log.lastIndex());
    });
  }

  it("drops messages from non-members and messages a leader never expects, with a reason", () => {
    const net = leaderWithLog(1);
    const a = net.core("a");
    a.step(makeMessage(MessageType.AppendResponse, "zz", "a", { term: a.term, index: 1 }));
    a.step(makeMessage(MessageType.ReadIndexResponse, "b", "a", { term: a.term, index: 1 }));
    net.stabilize();
    expect(a.role).toBe(Role.Leader);
    expect(net.dropped.some((d) => d.includes("zz is not a member"))).toBe(true);
    expect(net.dropped.some((d) => d.includes("ReadIndexResponse from b"))).toBe(true);
  });
});

describe("a follower that regressed", () => {
  it("is caught up within a few heartbeats after losing its disk, with the same leader and term", () => {
    const net = leaderWithLog(30);
    const a = net.core("a");
    const term = a.term;
    net.wipe("c");
    net.tickAll(3);
    expect(net.core("c").log.lastIndex()).toBe(a.log.lastIndex());
    expect(a.role).toBe(Role.Leader);
    expect(a.term).toBe(term);
  });

  it("is caught up when its answers show that it lost its tail (rejection below its match)", () => {
    const net = leaderWithLog(10);
    const a = net.core("a");
    const term = a.term;
    const b = net.core("b");
    // b restarts having kept only its first 4 entries (but a still believes it holds all).
    net.wipe("b");
    const lost = net.core("b");
    lost.step(
      makeMessage(MessageType.Append, "a", "b", {
        term,
        index: 0,
        logTerm: 0,
        entries: b.log.allEntries().slice(0, 4),
        commit: 0,
      }),
    );
    net.stabilize();
    a.propose(bytes("next"));
    net.stabilize();
    net.tickAll(3);
    expect(lost.log.lastIndex()).toBe(a.log.lastIndex());
    expect(a.term).toBe(term);
    expect(a.role).toBe(Role.Leader);
  });
});
