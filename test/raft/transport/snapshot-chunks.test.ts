// InstallSnapshot's receiving side: the announced size is checked before
// anything is kept, and memory follows the bytes that arrived, not the size a
// sender announces.
import { describe, expect, it } from "vitest";
import { RaftMessage } from "../../../src/gen/halon/v1/raft.js";
import {
  SnapshotAssembler,
  SnapshotTransferError,
  chunkSnapshot,
} from "../../../src/raft/transport/snapshot-chunks.js";

const header = RaftMessage.fromPartial({ from: "rc2", to: "rc1", term: 1 });
const meta = (size: number) => ({ index: 1, term: 1, configuration: Buffer.alloc(0), size, checksum: 0 });

describe("SnapshotAssembler", () => {
  it("refuses an announced size over the limit at the first chunk", () => {
    const a = new SnapshotAssembler(1024);
    expect(() => a.add({ header, meta: meta(1025), offset: 0, data: Buffer.alloc(10), last: false })).toThrow(
      SnapshotTransferError,
    );
    expect(a.bytesHeld).toBe(0);
  });

  it("holds what arrived, not what was announced", () => {
    const announced = 256 * 1024 * 1024;
    const a = new SnapshotAssembler(announced);
    const before = process.memoryUsage().arrayBuffers;
    a.add({ header, meta: meta(announced), offset: 0, data: Buffer.alloc(4096, 1), last: false });
    expect(a.bytesHeld).toBe(4096);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(announced / 8);
  });

  it("reassembles and verifies a snapshot sent in chunks", () => {
    const data = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i % 251));
    const a = new SnapshotAssembler(1 << 20);
    let done = false;
    for (const chunk of chunkSnapshot(
      header,
      { index: 1, term: 1, configuration: Buffer.alloc(0) },
      data,
      999,
    ))
      done = a.add(chunk);
    expect(done).toBe(true);
    expect(Buffer.from(a.result().data).equals(data)).toBe(true);
  });

  it("refuses a corrupted chunk by checksum", () => {
    const data = Buffer.alloc(3000, 5);
    const a = new SnapshotAssembler(1 << 20);
    const chunks = [
      ...chunkSnapshot(header, { index: 1, term: 1, configuration: Buffer.alloc(0) }, data, 1000),
    ];
    chunks[1] = { ...chunks[1]!, data: Buffer.alloc(1000, 6) };
    expect(() => chunks.forEach((c) => a.add(c))).toThrow(/checksum/);
  });
});
