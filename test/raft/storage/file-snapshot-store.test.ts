// The file snapshot store against real files: durability by rename, torn and
// corrupt files skipped and reported, older snapshots pruned.
import { readdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FileSnapshotStore, snapshotFileName } from "../../../src/raft/storage/file-snapshot-store.js";
import type { Snapshot } from "../../../src/raft/storage.js";
import { makeTempDir } from "../../helpers/temp-dir.js";

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function tempDir(): string {
  const t = makeTempDir("halon-snap-");
  cleanups.push(t.remove);
  return t.dir;
}

function snapshot(index: number, term: number, size: number): Snapshot {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + index) & 0xff;
  return { meta: { index, term, membership: { voters: ["a", "b", "c"], learners: ["d"] } }, data };
}

describe("FileSnapshotStore", () => {
  it("has no snapshot at first, and round-trips one across a reopen", async () => {
    const dir = tempDir();
    const a = new FileSnapshotStore({ dir });
    expect(await a.latest()).toBeNull();
    const snap = snapshot(42, 3, 3 * 1024 * 1024 + 17); // several write chunks
    await a.save(snap);
    await a.close();
    const loaded = await new FileSnapshotStore({ dir }).latest();
    expect(loaded?.meta).toEqual(snap.meta);
    expect(Buffer.from(loaded!.data).equals(Buffer.from(snap.data))).toBe(true);
  });

  it("returns the newest and keeps only the configured number", async () => {
    const dir = tempDir();
    const store = new FileSnapshotStore({ dir, retain: 2 });
    for (const index of [10, 20, 30]) await store.save(snapshot(index, 1, 100));
    expect((await store.latest())?.meta.index).toBe(30);
    expect(readdirSync(dir).sort()).toEqual([snapshotFileName(20, 1), snapshotFileName(30, 1)]);
  });

  it("removes a temporary file left by a crash in the middle of a save", async () => {
    const dir = tempDir();
    const store = new FileSnapshotStore({ dir });
    await store.save(snapshot(5, 1, 100));
    writeFileSync(join(dir, snapshotFileName(9, 1) + ".tmp"), "half a snapshot");
    const warnings: string[] = [];
    const reopened = new FileSnapshotStore({ dir, onWarning: (m) => warnings.push(m) });
    expect((await reopened.latest())?.meta.index).toBe(5);
    expect(readdirSync(dir)).toEqual([snapshotFileName(5, 1)]);
    expect(warnings).toHaveLength(1);
  });

  it("skips a torn newest snapshot and falls back to the previous one", async () => {
    const dir = tempDir();
    const store = new FileSnapshotStore({ dir });
    await store.save(snapshot(5, 1, 1000));
    await store.save(snapshot(9, 2, 1000));
    truncateSync(join(dir, snapshotFileName(9, 2)), 500);
    const reports: Record<string, unknown>[] = [];
    const reopened = new FileSnapshotStore({ dir, onWarning: (_m, d) => reports.push(d) });
    expect((await reopened.latest())?.meta.index).toBe(5);
    expect(reports[0]).toMatchObject({ file: join(dir, snapshotFileName(9, 2)) });
    expect(String(reports[0]!.reason)).toMatch(/torn payload/);
  });

  it("skips a snapshot whose payload or header was changed", async () => {
    const dir = tempDir();
    const store = new FileSnapshotStore({ dir, retain: 3 });
    await store.save(snapshot(5, 1, 1000));
    await store.save(snapshot(6, 1, 1000));
    await store.save(snapshot(7, 1, 1000));
    const flip = (name: string, at: number) => {
      const path = join(dir, name);
      const bytes = readFileSync(path);
      bytes[at < 0 ? bytes.length + at : at]! ^= 0x01;
      writeFileSync(path, bytes);
    };
    flip(snapshotFileName(7, 1), -10); // payload
    flip(snapshotFileName(6, 1), 20); // header
    const reasons: string[] = [];
    const reopened = new FileSnapshotStore({ dir, onWarning: (_m, d) => reasons.push(String(d.reason)) });
    expect((await reopened.latest())?.meta.index).toBe(5);
    expect(reasons).toHaveLength(2);
    expect(reasons[0]).toMatch(/payload checksum mismatch/);
    expect(reasons[1]).toMatch(/header checksum mismatch/);
  });
});
