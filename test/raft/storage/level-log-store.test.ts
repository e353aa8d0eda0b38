// The LevelDB log store against real LevelDB files in a temp directory.
import { ClassicLevel } from "classic-level";
import { afterEach, describe, expect, it } from "vitest";
import { LevelLogStore } from "../../../src/raft/storage/level-log-store.js";
import { entryKey } from "../../../src/raft/storage/log-records.js";
import { StorageCorruptionError } from "../../../src/raft/storage.js";
import { EntryType, type Entry } from "../../../src/raft/types.js";
import { makeTempDir } from "../../helpers/temp-dir.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const t = makeTempDir("halon-log-");
  cleanups.push(t.remove);
  return t.dir;
}

function open(
  dir: string,
  options: Partial<ConstructorParameters<typeof LevelLogStore>[0]> = {},
): LevelLogStore {
  const store = new LevelLogStore({ dir, ...options });
  cleanups.push(() => store.close());
  return store;
}

function entries(from: number, to: number, term: number, tag = "x"): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) {
    out.push({ index: i, term, type: EntryType.Normal, data: new TextEncoder().encode(`${tag}${i}`) });
  }
  return out;
}

function text(e: Entry): string {
  return new TextDecoder().decode(e.data);
}

async function flipByteInValue(dir: string, index: number, at: number): Promise<void> {
  const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: "buffer", valueEncoding: "buffer" });
  await db.open();
  const key = entryKey(index);
  const value = await db.get(key);
  if (!value) throw new Error(`no entry ${index}`);
  value[at % value.length]! ^= 0x40;
  await db.put(key, value, { sync: true });
  await db.close();
}

describe("LevelLogStore", () => {
  it("starts empty and round-trips hard state and entries across a restart", async () => {
    const dir = tempDir();
    const a = open(dir);
    expect(await a.load()).toEqual({ hardState: null, entries: [], compactedIndex: 0, compactedTerm: 0 });
    await a.persist({ hardState: { term: 2, vote: "rc2", commit: 0 }, entries: entries(1, 5, 2) });
    await a.persist({ hardState: { term: 2, vote: "rc2", commit: 4 } });
    await a.persist({ entries: [{ index: 6, term: 2, type: EntryType.Noop, data: new Uint8Array() }] });
    await a.close();

    const b = open(dir);
    const loaded = await b.load();
    expect(loaded.hardState).toEqual({ term: 2, vote: "rc2", commit: 4 });
    expect(loaded.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(loaded.entries.map(text).slice(0, 2)).toEqual(["x1", "x2"]);
    expect(loaded.entries[5]).toMatchObject({ index: 6, term: 2, type: EntryType.Noop });
  });

  it("keeps a null vote as null", async () => {
    const dir = tempDir();
    const a = open(dir);
    await a.load();
    await a.persist({ hardState: { term: 7, vote: null, commit: 0 } });
    await a.close();
    expect((await open(dir).load()).hardState).toEqual({ term: 7, vote: null, commit: 0 });
  });

  it("replaces a conflicting suffix in the same write", async () => {
    const dir = tempDir();
    const a = open(dir);
    await a.load();
    await a.persist({ entries: entries(1, 10, 1) });
    await a.persist({ entries: entries(4, 6, 2, "y") });
    await a.close();
    const loaded = await open(dir).load();
    expect(loaded.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(loaded.entries.map(text)).toEqual(["x1", "x2", "x3", "y4", "y5", "y6"]);
    expect(loaded.entries.map((e) => e.term)).toEqual([1, 1, 1, 2, 2, 2]);
  });

  it("refuses an append that leaves a gap or overwrites compacted entries", async () => {
    const a = open(tempDir());
    await a.load();
    await a.persist({ entries: entries(1, 3, 1) });
    await expect(a.persist({ entries: entries(5, 6, 1) })).rejects.toThrow(/gap/);
    await a.compact(2, 1);
    expect(() => a.persist({ entries: entries(2, 3, 1) })).toThrow(/compacted/);
  });

  it("compacts a prefix and remembers the compaction point", async () => {
    const dir = tempDir();
    const a = open(dir);
    await a.load();
    await a.persist({ entries: entries(1, 20, 3) });
    await a.compact(12, 3);
    await a.persist({ entries: entries(21, 22, 4) });
    await a.close();
    const loaded = await open(dir).load();
    expect(loaded.compactedIndex).toBe(12);
    expect(loaded.compactedTerm).toBe(3);
    expect(loaded.entries.map((e) => e.index)).toEqual([13, 14, 15, 16, 17, 18, 19, 20, 21, 22]);
  });

  it("drops the whole log when compacting past its end (a snapshot from the leader)", async () => {
    const dir = tempDir();
    const a = open(dir);
    await a.load();
    await a.persist({ entries: entries(1, 5, 1) });
    await a.compact(100, 7);
    await a.persist({ entries: entries(101, 102, 7) });
    await a.close();
    const loaded = await open(dir).load();
    expect(loaded).toMatchObject({ compactedIndex: 100, compactedTerm: 7 });
    expect(loaded.entries.map((e) => e.index)).toEqual([101, 102]);
  });

  it("resets to a snapshot point, dropping entries on both sides of it", async () => {
    const dir = tempDir();
    const a = open(dir);
    await a.load();
    await a.persist({ entries: entries(1, 30, 1) });
    await a.resetTo(20, 5);
    await a.persist({ entries: entries(21, 22, 5, "n") });
    await a.close();
    const loaded = await open(dir).load();
    expect(loaded).toMatchObject({ compactedIndex: 20, compactedTerm: 5 });
    expect(loaded.entries.map(text)).toEqual(["n21", "n22"]);
  });

  it("serialises concurrent persists in call order", async () => {
    const dir = tempDir();
    const a = open(dir);
    await a.load();
    const writes: Promise<void>[] = [];
    for (let i = 1; i <= 50; i++) writes.push(a.persist({ entries: entries(i, i, 1) }));
    await Promise.all(writes);
    await a.close();
    expect((await open(dir).load()).entries.map((e) => e.index)).toEqual(
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
  });

  it("detects a flipped byte in an entry and names the directory and index", async () => {
    const dir = tempDir();
    const a = open(dir);
    await a.load();
    await a.persist({ entries: entries(1, 10, 1) });
    await a.close();
    await flipByteInValue(dir, 7, 14);
    const err = await open(dir)
      .load()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageCorruptionError);
    expect((err as StorageCorruptionError).index).toBe(7);
    expect((err as StorageCorruptionError).file).toBe(dir);
    expect((err as Error).message).toMatch(/at index 7: checksum mismatch/);
  });

  it("detects a flipped term byte (the checksum covers the whole value)", async () => {
    const dir = tempDir();
    const a = open(dir);
    await a.load();
    await a.persist({ entries: entries(1, 3, 1) });
    await a.close();
    await flipByteInValue(dir, 2, 6);
    await expect(open(dir).load()).rejects.toThrow(StorageCorruptionError);
  });

  it("detects a missing entry in the middle of the log", async () => {
    const dir = tempDir();
    const a = open(dir);
    await a.load();
    await a.persist({ entries: entries(1, 5, 1) });
    await a.close();
    const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: "buffer", valueEncoding: "buffer" });
    await db.del(entryKey(3), { sync: true });
    await db.close();
    await expect(open(dir).load()).rejects.toThrow(/at index 3: entry 3 is missing/);
  });

  it("detects a corrupt hard state", async () => {
    const dir = tempDir();
    const a = open(dir);
    await a.load();
    await a.persist({ hardState: { term: 3, vote: "rc1", commit: 0 } });
    await a.close();
    const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: "buffer", valueEncoding: "buffer" });
    const value = (await db.get(Buffer.from("h")))!;
    value[value.length - 1]! ^= 1;
    await db.put(Buffer.from("h"), value, { sync: true });
    await db.close();
    await expect(open(dir).load()).rejects.toThrow(/hard state: checksum mismatch/);
  });

  it("drops an unreadable tail only when told to, and says so", async () => {
    const dir = tempDir();
    const a = open(dir);
    await a.load();
    await a.persist({ hardState: { term: 1, vote: null, commit: 10 }, entries: entries(1, 10, 1) });
    await a.close();
    await flipByteInValue(dir, 8, 15);
    await expect(open(dir).load()).rejects.toThrow(StorageCorruptionError);

    const warnings: string[] = [];
    const b = open(dir, { truncateCorruptTail: true, onWarning: (m) => warnings.push(m) });
    const loaded = await b.load();
    expect(loaded.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(loaded.hardState?.commit).toBe(7);
    expect(warnings).toContain("dropped an unreadable tail of the log");
    // The log continues where the readable part ended.
    await b.persist({ entries: entries(8, 9, 2, "z") });
    await b.close();
    const c = await open(dir).load();
    expect(c.entries.map(text).slice(-3)).toEqual(["x7", "z8", "z9"]);
  });
});

describe("LevelLogStore hard state hints", () => {
  it("keeps a commit-only update (written without fsync) across a clean restart", async () => {
    const dir = tempDir();
    const a = open(dir);
    await a.load();
    await a.persist({ hardState: { term: 3, vote: "rc1", commit: 0 }, entries: entries(1, 4, 3) });
    await a.persist({ hardState: { term: 3, vote: "rc1", commit: 4 } });
    await a.persist({ hardState: { term: 4, vote: null, commit: 4 } });
    await a.close();
    expect((await open(dir).load()).hardState).toEqual({ term: 4, vote: null, commit: 4 });
  });
});

describe("opening", () => {
  it("leaves LevelDB closed until load() has verified the tables (its own open may delete table files)", async () => {
    const dir = tempDir();
    const first = open(dir);
    await first.load();
    await first.persist({ hardState: { term: 1, vote: null, commit: 0 }, entries: entries(1, 50, 1) });
    await first.close();
    const { readFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const logBefore = readFileSync(join(dir, "LOG"), "utf8");
    const second = open(dir);
    // Turns of the event loop during which ClassicLevel would open by itself if it had been made.
    for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 10));
    expect(readFileSync(join(dir, "LOG"), "utf8")).toBe(logBefore); // LevelDB rewrites LOG when it opens
    expect((await second.load()).entries).toHaveLength(50);
    expect(readFileSync(join(dir, "LOG"), "utf8")).not.toBe(logBefore);
  });

  it("closes cleanly when it was never loaded", async () => {
    const store = new LevelLogStore({ dir: tempDir() });
    await store.close();
  });
});
