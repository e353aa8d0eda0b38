// Storage at the process level: a replica whose data directory is wiped
// rejoins by snapshot, and a corrupt log record stops a replica at start with
// a message that names the file and the index.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { ClassicLevel } from "classic-level";
import { afterEach, describe, expect, it } from "vitest";
import { entryKey } from "../../src/raft/storage/log-records.js";
import { runCli } from "../helpers/run-cli.js";
import { Cluster } from "./cluster-harness.js";
import { countOf } from "./write-load.js";

const ALL = ["rc1", "rc2", "rc3"];
let cluster: Cluster | undefined;

afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

async function proposeMany(c: Cluster, n: number): Promise<void> {
  // A few at a time, so the leader batches them.
  for (let i = 0; i < n; i += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, n - i) }, (_, j) => c.client().propose(Buffer.from(`p${i + j}`))),
    );
  }
}

describe("storage recovery with real processes", { timeout: 180_000 }, () => {
  it("rejoins by snapshot after its data directory is wiped", async () => {
    cluster = await Cluster.create({ raft: { snapshotThreshold: 40, trailingEntries: 5 } });
    cluster.startAll();
    const leader = await cluster.waitForLeader();
    const victim = ALL.find((id) => id !== leader)!;
    await proposeMany(cluster, 30);
    await cluster.kill(victim, "SIGKILL");
    rmSync(cluster.dataDir(victim), { recursive: true, force: true });
    // Enough for the leader to snapshot and compact past everything the victim had.
    await proposeMany(cluster, 120);
    cluster.start(victim, ["--join"]);
    const hash = await cluster.waitForConvergence(ALL);
    expect(countOf(hash)).toBe(150);
    const s = (await cluster.statuses([victim])).get(victim)!;
    expect(s.snapshotIndex).toBeGreaterThan(0);
  });

  it("refuses to start on a corrupt log record, naming the file and index, unless told to drop the tail", async () => {
    cluster = await Cluster.create();
    cluster.startAll();
    const leader = await cluster.waitForLeader();
    const victim = ALL.find((id) => id !== leader)!;
    await proposeMany(cluster, 20);
    await cluster.waitForConvergence(ALL);
    expect(await cluster.kill(victim, "SIGTERM")).toBe(0);

    const logDir = join(cluster.dataDir(victim), "log");
    const db = new ClassicLevel<Buffer, Buffer>(logDir, { keyEncoding: "buffer", valueEncoding: "buffer" });
    const key = entryKey(15);
    const value = (await db.get(key))!;
    value[value.length - 1]! ^= 0xff;
    await db.put(key, value, { sync: true });
    await db.close();

    cluster.start(victim);
    expect(await cluster.waitForExit(victim)).toBe(3);
    const log = cluster.logOf(victim);
    expect(log).toContain(`refusing to start: corrupt storage: ${logDir} at index 15: checksum mismatch`);

    // The operator's explicit choice: drop the unreadable tail. The leader still believes the
    // victim holds what it acknowledged (Raft assumes acknowledged entries stay), so the
    // documented procedure moves leadership: a new leader probes every follower afresh.
    cluster.start(victim, ["--truncate-corrupt-tail"]);
    await cluster.waitForConvergence(ALL.filter((id) => id !== victim));
    const third = ALL.find((id) => id !== leader && id !== victim)!;
    const moved = runCli(["transfer-leader", "--config", cluster.configFile, "--to", third]);
    expect(moved.stdout).toContain(`leader: ${third}`);
    await proposeMany(cluster, 5);
    expect(countOf(await cluster.waitForConvergence(ALL))).toBe(25);
    expect(cluster.logOf(victim)).toContain("dropped an unreadable tail of the log");
  });
});
