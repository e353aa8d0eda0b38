// The core's behaviour on a synchronous network of cores: elections, PreVote,
// CheckQuorum, replication and its commit rule, fast backtracking, snapshots,
// transfer and reads.
import { describe, expect, it } from "vitest";
import { MessageType } from "../../../src/raft/core/messages.js";
import { NotLeaderError, ProposalDroppedError } from "../../../src/raft/core/errors.js";
import { Role } from "../../../src/raft/core/ready.js";
import { CoreNet, bytes } from "./harness.js";

describe("RaftCore elections", () => {
  it("elects exactly one leader and every replica learns it", () => {
    const net = new CoreNet(["a", "b", "c"]);
    net.tickAll(40);
    const leaders = [...net.cores.values()].filter((c) => c.isLeader());
    expect(leaders.length).toBe(1);
    const leader = leaders[0]?.id;
    for (const c of net.cores.values()) expect(c.lead).toBe(leader);
  });

  it("does not let a partitioned replica raise the term with PreVote", () => {
    const net = new CoreNet(["a", "b", "c"], { preVote: true });
    net.elect("a");
    const term = net.core("a").term;
    net.isolate("c");
    net.tickAll(100);
    expect(net.core("c").term).toBe(term); // pre-votes failed, the term stayed
    net.recover();
    net.tickAll(5);
    expect(net.core("a").isLeader()).toBe(true);
    expect(net.core("a").term).toBe(term);
  });

  it("without PreVote a rejoining replica forces a new term", () => {
    const net = new CoreNet(["a", "b", "c"], { preVote: false, checkQuorum: false });
    net.elect("a");
    const term = net.core("a").term;
    net.isolate("c");
    net.tickAll(100);
    expect(net.core("c").term).toBeGreaterThan(term);
  });

  it("steps a leader down when it cannot hear from a majority (CheckQuorum)", () => {
    const net = new CoreNet(["a", "b", "c"], { checkQuorum: true });
    net.elect("a");
    net.isolate("a");
    net.tickAll(25);
    expect(net.core("a").role).not.toBe(Role.Leader);
  });

  it("grants a vote only to a candidate whose log is at least as up to date", () => {
    const net = new CoreNet(["a", "b", "c"]);
    net.elect("a");
    net.isolate("c");
    net.core("a").propose(bytes("x"));
    net.stabilize();
    net.recover();
    // c lacks "x": a and b refuse it; it cannot lead.
    for (let i = 0; i < 5; i++) {
      net.core("c").campaignNow();
      net.stabilize();
    }
    expect(net.core("c").isLeader()).toBe(false);
  });
});

describe("RaftCore replication", () => {
  it("commits proposals on a majority and applies them everywhere in order", () => {
    const net = new CoreNet(["a", "b", "c"]);
    net.elect("a");
    for (let i = 0; i < 10; i++) net.core("a").propose(bytes(`v${i}`));
    net.stabilize();
    net.tickAll(2);
    for (const id of ["a", "b", "c"])
      expect(net.appliedData(id)).toEqual(Array.from({ length: 10 }, (_, i) => `v${i}`));
  });

  it("does not commit without a majority and rejects proposals on followers", () => {
    const net = new CoreNet(["a", "b", "c"]);
    net.elect("a");
    net.isolate("b");
    net.isolate("c");
    const before = net.core("a").log.committed;
    net.core("a").propose(bytes("lonely"));
    net.stabilize();
    expect(net.core("a").log.committed).toBe(before);
    expect(() => net.core("b").propose(bytes("x"))).toThrow(NotLeaderError);
  });

  it("a new leader commits earlier-term entries only through an entry of its own term", () => {
    const net = new CoreNet(["a", "b", "c"]);
    net.elect("a");
    // "old" reaches b only.
    net.filter = (m) => !(m.type === MessageType.Append && m.to === "c");
    net.core("a").propose(bytes("old"));
    net.stabilize();
    net.filter = () => true;
    net.isolate("a");
    net.elect("b");
    const b = net.core("b");
    // b's no-op of its term commits "old" with it.
    expect(b.log.term(b.log.committed)).toBe(b.term);
    expect(net.appliedData("b")).toContain("old");
  });

  it("backtracks over a long divergent log in a few round trips (fast backtracking)", () => {
    const net = new CoreNet(["a", "b", "c"], { maxEntriesPerMessage: 1000 });
    net.elect("a");
    net.isolate("b");
    net.isolate("c");
    for (let i = 0; i < 200; i++) net.core("a").propose(bytes(`lost${i}`)); // never committed
    net.stabilize();
    net.recover();
    net.isolate("a");
    net.elect("b");
    for (let i = 0; i < 50; i++) net.core("b").propose(bytes(`kept${i}`));
    net.stabilize();
    net.recover();
    const before = net.sent.length;
    net.tickAll(3);
    const appends = net.sent
      .slice(before)
      .filter((m) => m.type === MessageType.Append && m.to === "a").length;
    expect(appends).toBeLessThan(10);
    expect(net.appliedData("a").filter((s) => s.startsWith("lost"))).toEqual([]);
    expect(net.appliedData("a").filter((s) => s.startsWith("kept")).length).toBe(50);
  });

  it("sends a snapshot to a follower that needs compacted entries", () => {
    const net = new CoreNet(["a", "b", "c"]);
    net.elect("a");
    net.isolate("c");
    for (let i = 0; i < 20; i++) net.core("a").propose(bytes(`v${i}`));
    net.stabilize();
    const a = net.core("a");
    const applied = a.log.applied;
    a.compact(
      {
        meta: { index: applied, term: a.log.term(applied) as number, membership: a.membership },
        data: bytes("state"),
      },
      applied,
    );
    net.recover();
    const before = net.sent.length;
    net.tickAll(3);
    const snaps = net.sent.slice(before).filter((m) => m.type === MessageType.Snapshot);
    expect(snaps.length).toBe(1);
    a.reportSnapshot("c", true);
    net.tickAll(3);
    expect(net.core("c").log.committed).toBe(a.log.committed);
    expect(net.core("c").log.firstIndex()).toBe(applied + 1);
  });
});

describe("RaftCore leadership transfer and reads", () => {
  it("transfers leadership to a named follower with TimeoutNow", () => {
    const net = new CoreNet(["a", "b", "c"]);
    net.elect("a");
    net.core("a").transferLeadership("c");
    net.stabilize();
    expect(net.core("c").isLeader()).toBe(true);
    expect(net.core("a").lead).toBe("c");
  });

  it("refuses proposals while a transfer is under way", () => {
    const net = new CoreNet(["a", "b", "c"]);
    net.elect("a");
    net.isolate("b");
    net.core("a").transferLeadership("b");
    expect(() => net.core("a").propose(bytes("x"))).toThrow(ProposalDroppedError);
    net.tickAll(12); // the transfer times out after an election timeout
    expect(net.core("a").isLeader()).toBe(true);
    expect(() => net.core("a").propose(bytes("x"))).not.toThrow();
  });

  it("answers ReadIndex on the leader after a heartbeat round, and forwards from followers", () => {
    const net = new CoreNet(["a", "b", "c"]);
    net.elect("a");
    net.core("a").propose(bytes("x"));
    net.stabilize();
    /** Runs the network by hand to see the read states that stabilize() would swallow. */
    const read = (id: string, ctx: string): number | null => {
      let got: number | null = null;
      net.core(id).readIndex(bytes(ctx));
      for (let round = 0; round < 10 && got === null; round++) {
        for (const core of net.cores.values()) {
          while (core.hasReady()) {
            const rd = core.ready();
            for (const rs of rd.readStates) if (new TextDecoder().decode(rs.context) === ctx) got = rs.index;
            core.advance(rd);
            for (const m of [...rd.messages, ...rd.messagesAfterPersist]) net.core(m.to).step(m);
          }
        }
      }
      return got;
    };
    const committed = net.core("a").log.committed;
    expect(read("a", "r1")).toBe(committed);
    expect(read("b", "r2")).toBe(committed);
  });

  it("does not serve a read from a leader cut off from the majority", () => {
    const net = new CoreNet(["a", "b", "c"]);
    net.elect("a");
    net.isolate("a");
    const a = net.core("a");
    a.readIndex(bytes("r"));
    const rd = a.ready();
    expect(rd.readStates).toEqual([]);
    a.advance(rd);
  });
});
