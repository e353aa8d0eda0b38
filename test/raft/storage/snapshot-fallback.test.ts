// The promise of docs/operations.md about snapshots, with the real stores: a
// torn newest snapshot makes the replica fall back to the previous one, which
// works only because compaction never passes that previous snapshot; if no
// snapshot that verifies covers the compacted log, the replica refuses with
// StorageCorruptionError instead of starting with a hole in its state.
import { readdirSync, rmSync, statSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryNetwork, RaftNode } from "../../../src/raft/index.js";
import { StorageCorruptionError } from "../../../src/raft/storage.js";
import { FileSnapshotStore } from "../../../src/raft/storage/file-snapshot-store.js";
import { LevelLogStore } from "../../../src/raft/storage/level-log-store.js";
import { makeTempDir } from "../../helpers/temp-dir.js";
import { ListMachine, text, waitFor } from "../helpers.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Running {
  node: RaftNode;
  machine: ListMachine;
  stop: () => Promise<void>;
}

async function startReplica(dir: string, warnings: string[] = []): Promise<Running> {
  const logStore = new LevelLogStore({ dir: join(dir, "log") });
  const snapshotStore = new FileSnapshotStore({
    dir: join(dir, "snapshots"),
    onWarning: (m) => warnings.push(m),
  });
  const machine = new ListMachine();
  const stop = async () => {
    node?.stop();
    await logStore.close();
    await snapshotStore.close();
  };
  let node: RaftNode | undefined;
  try {
    node = await RaftNode.start({
      id: "solo",
      logStore,
      snapshotStore,
      stateMachine: machine,
      transport: new MemoryNetwork().transport("solo"),
      bootstrap: { voters: ["solo"], learners: [] },
      config: { heartbeatIntervalMs: 10, electionTimeoutMs: 100, snapshotThreshold: 20, trailingEntries: 5 },
    });
  } catch (err) {
    await stop();
    throw err;
  }
  cleanups.push(stop);
  return { node, machine, stop };
}

async function writeHundred(dir: string): Promise<void> {
  const r = await startReplica(dir);
  await waitFor(() => r.node.isLeader, 10_000, "the single voter to lead");
  for (let i = 0; i < 100; i++) await r.node.propose(text(`v${i}`));
  // Let the last background snapshot finish.
  await new Promise((res) => setTimeout(res, 200));
  await r.stop();
}

function snapshotFiles(dir: string): string[] {
  return readdirSync(join(dir, "snapshots"))
    .filter((n) => n.endsWith(".snap"))
    .sort();
}

describe("snapshot fallback with real files", { timeout: 60_000 }, () => {
  it("uses the previous snapshot when the newest is torn, and loses nothing", async () => {
    const t = makeTempDir("halon-snapfall-");
    cleanups.push(t.remove);
    await writeHundred(t.dir);
    const files = snapshotFiles(t.dir);
    expect(files).toHaveLength(2);
    const newest = join(t.dir, "snapshots", files[1]!);
    truncateSync(newest, Math.floor(statSync(newest).size / 2));
    const warnings: string[] = [];
    const r = await startReplica(t.dir, warnings);
    expect(warnings).toContain("skipping a snapshot that does not verify");
    await waitFor(
      () => r.machine.items.length === 100,
      10_000,
      "the log after the older snapshot to be applied",
    );
    expect(r.machine.items).toEqual(Array.from({ length: 100 }, (_, i) => `v${i}`));
  });

  it("refuses with corrupt storage when no snapshot that verifies covers the compacted log", async () => {
    const t = makeTempDir("halon-snapfall-");
    cleanups.push(t.remove);
    await writeHundred(t.dir);
    for (const f of snapshotFiles(t.dir)) truncateSync(join(t.dir, "snapshots", f), 10);
    const err = await startReplica(t.dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageCorruptionError);
    expect(String(err)).toMatch(
      /log is compacted to index \d+ but the newest snapshot that verifies does not exist/,
    );
    rmSync(join(t.dir, "snapshots"), { recursive: true });
  });
});
