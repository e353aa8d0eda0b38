// The core's messages survive the trip through the wire types and protobuf bytes.
import { describe, expect, it } from "vitest";
import { RaftMessage } from "../../../src/gen/halon/v1/raft.js";
import { MessageType, makeMessage } from "../../../src/raft/core/messages.js";
import {
  fromWire,
  snapshotFromWire,
  snapshotMetaToWire,
  toWire,
} from "../../../src/raft/transport/message-codec.js";
import { EntryType } from "../../../src/raft/types.js";

describe("message codec", () => {
  it("round-trips every field through protobuf bytes", () => {
    const m = makeMessage(MessageType.Append, "rc1", "rc2", {
      term: 5,
      logTerm: 4,
      index: 10,
      commit: 9,
      reject: true,
      rejectHint: 7,
      hintTerm: 3,
      context: new Uint8Array([1, 2, 3]),
      entries: [
        { index: 11, term: 5, type: EntryType.Normal, data: new Uint8Array([9, 9]) },
        { index: 12, term: 5, type: EntryType.Config, data: new TextEncoder().encode("{}") },
      ],
    });
    const bytes = RaftMessage.encode(toWire(m)).finish();
    const back = fromWire(RaftMessage.decode(bytes));
    expect({
      ...back,
      context: [...back.context],
      entries: back.entries.map((e) => ({ ...e, data: [...e.data] })),
    }).toEqual({
      ...m,
      context: [1, 2, 3],
      entries: m.entries.map((e) => ({ ...e, data: [...e.data] })),
    });
  });

  it("carries a snapshot's membership in the meta", () => {
    const snapshot = {
      meta: { index: 40, term: 3, membership: { voters: ["a", "b"], learners: ["c"] } },
      data: new Uint8Array([1]),
    };
    const wire = { ...snapshotMetaToWire(snapshot), size: 1, checksum: 0 };
    expect(snapshotFromWire(wire, snapshot.data)).toEqual(snapshot);
    expect(() => snapshotFromWire({ ...wire, configuration: Buffer.from("[]") }, snapshot.data)).toThrow(
      /membership/,
    );
  });
});
