// Unit tests of the core's parts: log, inflights, progress, quorum, membership, config.
import { describe, expect, it } from "vitest";
import { RaftLog } from "../../../src/raft/core/log.js";
import { Inflights } from "../../../src/raft/core/inflights.js";
import { Progress, ProgressState } from "../../../src/raft/core/progress.js";
import {
  VoteResult,
  jointCommitted,
  jointVoteResult,
  majorityCommitted,
  majorityVoteResult,
} from "../../../src/raft/core/quorum.js";
import { applyChanges, leaveJoint, validateChanges } from "../../../src/raft/core/membership.js";
import { resolveCoreConfig } from "../../../src/raft/core/config.js";
import { RaftConfigError } from "../../../src/raft/core/errors.js";
import { validateMessage, makeMessage, MessageType } from "../../../src/raft/core/messages.js";
import type { Entry } from "../../../src/raft/types.js";
import { EntryType } from "../../../src/raft/types.js";

const ent = (index: number, term: number): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: new Uint8Array(10),
});
const logOf = (terms: number[]) =>
  new RaftLog({
    compactedIndex: 0,
    compactedTerm: 0,
    entries: terms.map((t, i) => ent(i + 1, t)),
    commit: 0,
    snapshot: null,
  });

describe("RaftLog", () => {
  it("appends, truncates a conflicting suffix and keeps the unstable tail", () => {
    const log = logOf([1, 1, 2, 2]);
    expect(log.lastIndex()).toBe(4);
    expect(log.unstableEntries()).toEqual([]);
    // Entries 3..5 from a leader of term 3: 3 conflicts.
    expect(log.maybeAppend(2, 1, 0, [ent(3, 3), ent(4, 3), ent(5, 3)])).toBe(5);
    expect(log.term(3)).toBe(3);
    expect(log.stabled).toBe(2);
    expect(log.unstableEntries().map((e) => e.index)).toEqual([3, 4, 5]);
    log.stableTo(5, 3);
    expect(log.unstableEntries()).toEqual([]);
  });

  it("refuses an append whose previous entry does not match", () => {
    const log = logOf([1, 1, 2]);
    expect(log.maybeAppend(3, 3, 0, [ent(4, 3)])).toBeNull();
    expect(log.lastIndex()).toBe(3);
  });

  it("never truncates a committed entry", () => {
    const log = logOf([1, 1, 2]);
    log.commitTo(3);
    expect(() => log.maybeAppend(2, 1, 3, [ent(3, 5)])).toThrow(/committed/);
  });

  it("finds the fast-backtracking hint: the last index with a term at most the given one", () => {
    const log = logOf([1, 1, 2, 2, 4, 4, 4]);
    expect(log.findConflictByTerm(7, 3)).toEqual([4, 2]);
    expect(log.findConflictByTerm(7, 1)).toEqual([2, 1]);
    expect(log.findConflictByTerm(7, 5)).toEqual([7, 4]);
    expect(log.findConflictByTerm(10, 4)).toEqual([7, 4]);
  });

  it("slices within a byte and count budget but always returns one entry", () => {
    const log = logOf([1, 1, 1, 1, 1, 1]);
    expect(log.slice(1, 7, 1_000_000, 4)?.length).toBe(4);
    expect(log.slice(1, 7, 70, 100)?.length).toBe(2); // 34 bytes per entry
    expect(log.slice(1, 7, 1, 100)?.length).toBe(1);
  });

  it("compacts applied entries and reports them as unavailable", () => {
    const log = logOf([1, 1, 2, 2]);
    log.commitTo(4);
    log.appliedTo(3);
    expect(() => log.compact(4)).toThrow(/applied/);
    log.compact(2);
    expect(log.firstIndex()).toBe(3);
    expect(log.term(2)).toBe(1);
    expect(log.term(1)).toBeUndefined();
    expect(log.slice(2, 5, 1e6, 10)).toBeNull();
    expect(log.slice(3, 5, 1e6, 10)?.map((e) => e.index)).toEqual([3, 4]);
  });

  it("drops stale entries at start when they do not continue the snapshot", () => {
    const snapshot = {
      meta: { index: 3, term: 5, membership: { voters: ["a"], learners: [] } },
      data: new Uint8Array(),
    };
    const log = new RaftLog({
      compactedIndex: 0,
      compactedTerm: 0,
      entries: [ent(1, 1), ent(2, 1), ent(3, 2), ent(4, 2)],
      commit: 2,
      snapshot,
    });
    expect(log.lastIndex()).toBe(3);
    expect(log.term(3)).toBe(5);
    expect(log.applied).toBe(3);
  });
});

describe("Inflights", () => {
  it("limits by count and bytes and frees in order", () => {
    const f = new Inflights(3, 100);
    f.add(1, 10);
    f.add(2, 10);
    expect(f.full()).toBe(false);
    f.add(3, 10);
    expect(f.full()).toBe(true);
    f.freeLE(2);
    expect(f.size).toBe(1);
    f.add(4, 95);
    expect(f.full()).toBe(true); // bytes
    f.freeFirstOne();
    expect(f.size).toBe(1);
    expect(f.sizeBytes).toBe(95);
    f.freeLE(10);
    expect(f.size).toBe(0);
    expect(() => {
      const g = new Inflights(1, 0);
      g.add(1, 1);
      g.add(2, 1);
    }).toThrow(/full/);
  });
});

describe("Progress", () => {
  it("probes one message at a time, then pipelines within the window", () => {
    const p = new Progress(5, false, 2, 0);
    expect(p.state).toBe(ProgressState.Probe);
    p.sentEntries(1, 10, 5);
    expect(p.isPaused()).toBe(true);
    expect(p.maybeUpdate(5)).toBe(true);
    p.becomeReplicate();
    expect(p.next).toBe(6);
    p.sentEntries(2, 20, 7);
    p.sentEntries(1, 10, 8);
    expect(p.next).toBe(9);
    expect(p.isPaused()).toBe(true);
    p.inflights.freeLE(7);
    expect(p.isPaused()).toBe(false);
  });

  it("ignores stale rejections and backs up to the hint on fresh ones", () => {
    const p = new Progress(11, false, 4, 0);
    p.match = 2;
    expect(p.maybeDecrTo(5, 3)).toBe(false); // not what we sent
    expect(p.maybeDecrTo(10, 3)).toBe(true);
    expect(p.next).toBe(4);
    expect(p.maybeDecrTo(3, 0)).toBe(true);
    expect(p.next).toBe(3); // never below match + 1
  });
});

describe("quorum", () => {
  const matches: Record<string, number> = { a: 5, b: 3, c: 9, d: 1, e: 7 };
  const of = (id: string) => matches[id] ?? 0;
  it("commits the index a majority holds", () => {
    expect(majorityCommitted(["a", "b", "c"], of)).toBe(5);
    expect(majorityCommitted(["a", "b", "c", "d", "e"], of)).toBe(5);
    expect(majorityCommitted(["a", "b", "c", "d"], of)).toBe(3);
    expect(majorityCommitted(["c"], of)).toBe(9);
  });
  it("needs both majorities in a joint configuration", () => {
    expect(jointCommitted(["c", "e", "a"], ["a", "b", "d"], of)).toBe(3);
    expect(jointCommitted(["c", "e", "a"], [], of)).toBe(7);
  });
  it("counts votes, pending until decided", () => {
    const v = new Map([
      ["a", true],
      ["b", false],
    ]);
    expect(majorityVoteResult(["a", "b", "c"], v)).toBe(VoteResult.Pending);
    v.set("c", true);
    expect(majorityVoteResult(["a", "b", "c"], v)).toBe(VoteResult.Won);
    expect(jointVoteResult(["a", "b", "c"], ["b", "d", "e"], v)).toBe(VoteResult.Pending);
    v.set("d", false);
    expect(jointVoteResult(["a", "b", "c"], ["b", "d", "e"], v)).toBe(VoteResult.Lost);
  });
});

describe("membership changes", () => {
  const m = { voters: ["a", "b", "c"], learners: ["d"] };
  it("applies a single change directly and several voter changes jointly", () => {
    expect(applyChanges(m, [{ op: "addVoter", id: "d" }])).toEqual({
      voters: ["a", "b", "c", "d"],
      learners: [],
    });
    const joint = applyChanges(m, [
      { op: "addVoter", id: "e" },
      { op: "remove", id: "a" },
    ]);
    expect(joint.outgoing).toEqual(["a", "b", "c"]);
    expect(joint.voters).toEqual(["b", "c", "e"]);
    expect(leaveJoint(joint)).toEqual({ voters: ["b", "c", "e"], learners: ["d"] });
  });
  it("refuses changes that make no sense, with a reason", () => {
    expect(validateChanges(m, [])).toMatch(/no changes/);
    expect(validateChanges(m, [{ op: "addVoter", id: "a" }])).toMatch(/already a voter/);
    expect(validateChanges(m, [{ op: "remove", id: "z" }])).toMatch(/not a member/);
    expect(validateChanges({ voters: ["a"], learners: [] }, [{ op: "remove", id: "a" }])).toMatch(
      /no voters/,
    );
    expect(validateChanges({ ...m, outgoing: ["a"] }, [{ op: "addVoter", id: "z" }])).toMatch(/joint/);
    expect(validateChanges(m, [{ op: "bogus", id: "z" } as never])).toMatch(/unknown/);
  });
});

describe("configuration", () => {
  it("fills defaults and names the bad field", () => {
    const c = resolveCoreConfig({ id: "a" });
    expect(c.electionTick).toBeGreaterThan(c.heartbeatTick);
    expect(() => resolveCoreConfig({ id: "a", electionTick: 1, heartbeatTick: 1 })).toThrow(RaftConfigError);
    expect(() => resolveCoreConfig({ id: "", electionTick: 10 })).toThrow(/id/);
    expect(() => resolveCoreConfig({ id: "a", maxInflightBytes: 10, maxBytesPerMessage: 100 })).toThrow(
      /maxInflightBytes/,
    );
    expect(() => resolveCoreConfig({ id: "a", maxEntriesPerMessage: 1.5 })).toThrow(/maxEntriesPerMessage/);
  });
});

describe("message validation", () => {
  it("accepts a well-formed message and explains a malformed one", () => {
    expect(validateMessage(makeMessage(MessageType.Heartbeat, "a", "b", { term: 1 }))).toBeNull();
    expect(validateMessage(makeMessage(99 as MessageType, "a", "b"))).toMatch(/unknown message type/);
    expect(validateMessage(makeMessage(MessageType.Append, "", "b"))).toMatch(/sender/);
    expect(
      validateMessage(makeMessage(MessageType.Append, "a", "b", { index: 4, entries: [ent(6, 1)] })),
    ).toMatch(/contiguous/);
    expect(validateMessage(makeMessage(MessageType.Snapshot, "a", "b"))).toMatch(/snapshot/);
    expect(validateMessage(makeMessage(MessageType.Vote, "a", "b", { term: -1 }))).toMatch(/term/);
  });
});

describe("RaftLog start-up checks", () => {
  it("refuses a log compacted beyond the latest snapshot, naming both indexes", () => {
    expect(
      () =>
        new RaftLog({ compactedIndex: 5, compactedTerm: 1, entries: [ent(6, 1)], commit: 6, snapshot: null }),
    ).toThrow(/compacted through 5 but the latest snapshot covers only 0/);
  });
});
