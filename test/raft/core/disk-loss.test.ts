// Disk loss as a fault of its own: a replica that comes back without the
// state it promised (a lost or rebuilt data directory) must not vote or count
// towards commit until it holds the log again; the leader then registers its
// new disk by itself. The planted bug (unsafe.ignoreStorageIdentity) shows
// that the scenario loses a committed entry without the guard.
import { describe, expect, it } from "vitest";
import { Role } from "../../../src/raft/core/ready.js";
import { CoreNet, bytes, type TestCoreConfig } from "./harness.js";

function settled(config: TestCoreConfig = {}): CoreNet {
  const net = new CoreNet(["a", "b", "c"], config);
  net.elect("a");
  net.core("a").propose(bytes("x0"));
  net.stabilize();
  net.tickAll(3); // the leader registers every member's disk
  expect(net.core("a").membership.storage).toEqual({ a: "a-disk1", b: "b-disk1", c: "c-disk1" });
  return net;
}

/**
 * The case: b falls behind, entries commit on a and c, c loses its
 * disk and comes back empty, then the leader a dies. Only b and the wiped c
 * are left: b must not win with c's vote, or the committed entries are gone.
 */
function lostDiskThenLeaderDies(config: TestCoreConfig): { net: CoreNet; committed: string[] } {
  const net = settled(config);
  net.isolate("b");
  for (let i = 0; i < 5; i++) net.core("a").propose(bytes(`w${i}`));
  net.stabilize();
  const committed = net.appliedData("a");
  expect(committed).toContain("w4");
  net.isolate("a");
  net.wipe("c", config);
  net.recover();
  net.isolate("a");
  net.tickAll(60);
  return { net, committed };
}

describe("a replica that lost its disk", () => {
  it("does not vote a stale replica into office: no leader until the log is whole again", () => {
    const { net, committed } = lostDiskThenLeaderDies({});
    expect(net.core("b").role).not.toBe(Role.Leader);
    expect(net.core("c").role).not.toBe(Role.Leader);
    // The old leader returns: the cluster elects a leader with every committed entry.
    net.recover();
    net.tickAll(60);
    const leader = [...net.cores.values()].find((c) => c.isLeader());
    expect(leader).toBeDefined();
    leader?.propose(bytes("after"));
    net.stabilize();
    net.tickAll(5);
    for (const id of ["a", "b", "c"]) {
      const log = net
        .core(id)
        .log.allEntries()
        .map((e) => new TextDecoder().decode(e.data));
      for (const w of committed.filter((d) => d.startsWith("w"))) expect(log, `${id} lost ${w}`).toContain(w);
    }
  });

  it("planted bug: counting the wiped replica's vote elects the stale one and loses committed entries", () => {
    const { net, committed } = lostDiskThenLeaderDies({ unsafe: { ignoreStorageIdentity: true } });
    expect(net.core("b").role).toBe(Role.Leader);
    const log = net
      .core("b")
      .log.allEntries()
      .map((e) => new TextDecoder().decode(e.data));
    expect(committed.filter((d) => d.startsWith("w")).some((w) => !log.includes(w))).toBe(true);
  });

  it("is caught up, then registered again by the leader by itself, and counts again", () => {
    const net = settled();
    const a = net.core("a");
    const term = a.term;
    net.wipe("c");
    net.tickAll(6);
    expect(a.role).toBe(Role.Leader);
    expect(a.term).toBe(term);
    expect(net.core("c").log.lastIndex()).toBe(a.log.lastIndex());
    expect(a.membership.storage?.c).toBe("c-disk2");
    expect(net.dropped.some((d) => d.includes("its disk changed"))).toBe(true);
    // c counts again: with b gone, a and c still commit.
    net.isolate("b");
    a.propose(bytes("with c"));
    net.stabilize();
    expect(net.appliedData("a")).toContain("with c");
  });

  for (const planted of [false, true]) {
    it(`${planted ? "planted bug: counts" : "counts for nothing"} while its new disk is not registered: its acknowledgement ${planted ? "commits" : "does not commit"}`, () => {
      const config: TestCoreConfig = planted ? { unsafe: { ignoreStorageIdentity: true } } : {};
      const net = settled(config);
      const a = net.core("a");
      net.isolate("b");
      // c comes back empty and receives everything, but a majority that counts is
      // needed to revoke and re-register its disk, and b is away.
      net.wipe("c", config);
      net.tickAll(3);
      const before = a.log.committed;
      a.propose(bytes("needs a majority"));
      net.stabilize();
      net.tickAll(3);
      expect(net.core("c").log.lastIndex()).toBe(a.log.lastIndex());
      if (planted) expect(a.log.committed).toBeGreaterThan(before);
      else {
        expect(a.log.committed).toBe(before);
        // b returns: the revocation and the new registration commit, then the entry.
        net.recover();
        net.tickAll(6);
        expect(a.membership.storage?.c).toBe("c-disk2");
        expect(net.appliedData("a")).toContain("needs a majority");
      }
    });
  }
});
