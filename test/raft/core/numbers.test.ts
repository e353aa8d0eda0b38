// Terms and indexes at the edge of what a JavaScript number holds: a member
// that sends a huge term must not leave the cluster unable to elect.
import { describe, expect, it } from "vitest";
import { RaftMessage } from "../../../src/gen/halon/v1/raft.js";
import {
  MAX_TERM_JUMP,
  MessageType,
  TERM_CEILING,
  makeMessage,
  validateMessage,
} from "../../../src/raft/core/messages.js";
import { Role } from "../../../src/raft/core/ready.js";
import { fromWire, toWire } from "../../../src/raft/transport/message-codec.js";
import { CoreNet } from "./harness.js";

function electsAfter(term: number): CoreNet {
  const net = new CoreNet(["a", "b", "c"]);
  net.elect("a");
  // A member (b) sends one message with a huge term to everyone.
  for (const to of ["a", "c"])
    net.core(to).step(makeMessage(MessageType.Heartbeat, "b", to, { term, commit: 0 }));
  net.stabilize();
  net.tickAll(80);
  return net;
}

describe("terms at the edge", () => {
  for (const term of [
    Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER - 1,
    TERM_CEILING + MAX_TERM_JUMP + 1,
  ]) {
    it(`a jump to ${term} is dropped and the cluster keeps a leader`, () => {
      const net = electsAfter(term);
      const leaders = [...net.cores.values()].filter((c) => c.role === Role.Leader);
      expect(leaders.length).toBe(1);
      expect(leaders[0]!.term).toBeLessThan(100);
      expect(net.dropped.some((d) => d.includes("past the term ceiling"))).toBe(true);
    });
  }

  it("a jump to the ceiling itself is taken, and the cluster still elects above it", () => {
    const net = electsAfter(TERM_CEILING);
    const leaders = [...net.cores.values()].filter((c) => c.role === Role.Leader);
    expect(leaders.length).toBe(1);
    expect(leaders[0]!.term).toBeGreaterThan(TERM_CEILING);
    expect(Number.isSafeInteger(leaders[0]!.term + 1)).toBe(true);
  });

  it("refuses unsafe numbers and entries from a future term at validation", () => {
    expect(validateMessage(makeMessage(MessageType.Append, "a", "b", { term: 2 ** 53 }))).toMatch(/term/);
    expect(validateMessage(makeMessage(MessageType.Append, "a", "b", { term: 1, index: -1 }))).toMatch(
      /index/,
    );
    const future = makeMessage(MessageType.Append, "a", "b", {
      term: 3,
      index: 0,
      entries: [{ index: 1, term: 4, type: 0, data: new Uint8Array() }],
    });
    expect(validateMessage(future)).toMatch(/beyond the message's/);
  });

  it("carries the largest safe integer over the wire and refuses anything larger at decode", () => {
    const m = makeMessage(MessageType.Heartbeat, "a", "b", { term: Number.MAX_SAFE_INTEGER, storage: "d1" });
    const back = fromWire(RaftMessage.decode(RaftMessage.encode(toWire(m)).finish()));
    expect(back.term).toBe(Number.MAX_SAFE_INTEGER);
    expect(back.storage).toBe("d1");
    // 2^64 - 1 as a varint: ten bytes.
    const bytes = RaftMessage.encode({ ...toWire(m), term: 0 }).finish();
    const huge = Buffer.concat([
      Buffer.from(bytes),
      Buffer.from([0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
    ]);
    expect(() => RaftMessage.decode(huge)).toThrow(/MAX_SAFE_INTEGER/);
  });
});
