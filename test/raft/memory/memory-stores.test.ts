// The in-memory stores model a disk: writes are pending until synced, and a
// crash loses what was pending. The simulator relies on exactly this.
import { describe, expect, it } from "vitest";
import { MemoryLogStore, MemorySnapshotStore } from "../../../src/raft/index.js";
import type { Entry } from "../../../src/raft/index.js";
import { EntryType } from "../../../src/raft/index.js";

const ent = (index: number, term: number): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: new Uint8Array([index]),
});

/** A scheduler whose syncs run only when the test says so. */
function manualDisk() {
  const queue: (() => void)[] = [];
  return {
    schedule: (done: () => void) => queue.push(done),
    syncAll: () => queue.splice(0).forEach((f) => f()),
  };
}

describe("MemoryLogStore", () => {
  it("makes a write durable only when it is synced, and loses unsynced writes in a crash", async () => {
    const disk = manualDisk();
    const store = new MemoryLogStore(disk.schedule);
    let synced = false;
    void store
      .persist({ hardState: { term: 1, vote: "a", commit: 0 }, entries: [ent(1, 1), ent(2, 1)] })
      .then(() => (synced = true));
    expect((await store.load()).entries).toEqual([]);
    disk.syncAll();
    await Promise.resolve();
    expect(synced).toBe(true);
    expect((await store.load()).entries.map((e) => e.index)).toEqual([1, 2]);
    void store.persist({ entries: [ent(3, 1)] });
    store.crash();
    disk.syncAll();
    const after = await store.load();
    expect(after.entries.map((e) => e.index)).toEqual([1, 2]);
    expect(after.hardState).toEqual({ term: 1, vote: "a", commit: 0 });
  });

  it("replaces a conflicting suffix, compacts, and resets after a snapshot", async () => {
    const store = new MemoryLogStore();
    await store.persist({ entries: [ent(1, 1), ent(2, 1), ent(3, 1)] });
    await store.persist({ entries: [ent(2, 2)] });
    expect((await store.load()).entries.map((e) => `${e.index}:${e.term}`)).toEqual(["1:1", "2:2"]);
    await store.compact(1, 1);
    const c = await store.load();
    expect([c.compactedIndex, c.compactedTerm, c.entries.length]).toEqual([1, 1, 1]);
    await store.resetTo(10, 3);
    const r = await store.load();
    expect([r.compactedIndex, r.compactedTerm, r.entries.length]).toEqual([10, 3, 0]);
    await expect(store.persist({ entries: [ent(13, 3)] })).rejects.toThrow(/gap/);
  });
});

describe("MemorySnapshotStore", () => {
  it("keeps the newest durable snapshot and loses one whose save had not completed", async () => {
    const disk = manualDisk();
    const store = new MemorySnapshotStore(disk.schedule);
    const snap = (index: number) => ({
      meta: { index, term: 1, membership: { voters: ["a"], learners: [] } },
      data: new Uint8Array([index]),
    });
    void store.save(snap(5));
    disk.syncAll();
    void store.save(snap(9));
    store.crash();
    disk.syncAll();
    expect((await store.latest())?.meta.index).toBe(5);
  });
});
