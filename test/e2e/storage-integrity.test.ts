// Cases 4 and 5 of issue 9 with real processes and real files: a byte flipped
// in LevelDB's own write-ahead log of a stopped follower is detected at start
// (exit 3, naming the directory and the missing range), and a torn newest
// snapshot is handled as docs/operations.md says (the previous one is used).
import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster } from "./cluster-harness.js";
import { countOf } from "./write-load.js";

const ALL = ["rc1", "rc2", "rc3"];
let cluster: Cluster | undefined;

afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

async function proposeMany(c: Cluster, n: number, tag: string): Promise<void> {
  for (let i = 0; i < n; i += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, n - i) }, (_, j) =>
        c.client().propose(Buffer.from(`${tag}${i + j}`)),
      ),
    );
  }
}

describe("storage integrity with real processes", { timeout: 180_000 }, () => {
  it("detects a byte flipped in a stopped follower's write-ahead log, and recovers as documented", async () => {
    cluster = await Cluster.create();
    cluster.startAll();
    const leader = await cluster.waitForLeader();
    const victim = ALL.find((id) => id !== leader)!;
    await proposeMany(cluster, 44, "a");
    await cluster.waitForConvergence(ALL);
    expect(await cluster.kill(victim, "SIGTERM")).toBe(0);

    const logDir = join(cluster.dataDir(victim), "log");
    const wals = readdirSync(logDir).filter((n) => n.endsWith(".log") && statSync(join(logDir, n)).size > 0);
    expect(wals).toHaveLength(1);
    const wal = join(logDir, wals[0]!);
    const bytes = readFileSync(wal);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(wal, bytes);

    cluster.start(victim);
    expect(await cluster.waitForExit(victim)).toBe(3);
    const refused = cluster.logOf(victim);
    expect(refused).toMatch(
      new RegExp(
        `refusing to start: corrupt storage: ${logDir} at index \\d+: entries \\d+\\.\\.\\d+ are missing`,
      ),
    );
    expect(refused).toContain("dropping");

    // The operator's explicit choice: accept the loss on this replica; the leader re-sends it.
    cluster.start(victim, ["--truncate-corrupt-tail"]);
    await proposeMany(cluster, 6, "b");
    expect(countOf(await cluster.waitForConvergence(ALL))).toBe(50);
    expect(cluster.logOf(victim)).toContain("accepted the loss of log entries");
    // Once accepted, a plain restart is clean.
    expect(await cluster.kill(victim, "SIGTERM")).toBe(0);
    cluster.start(victim);
    expect(countOf(await cluster.waitForConvergence(ALL))).toBe(50);
  });

  it("falls back to the previous snapshot when a stopped follower's newest one is torn", async () => {
    cluster = await Cluster.create({ raft: { snapshotThreshold: 20, trailingEntries: 5 } });
    cluster.startAll();
    const leader = await cluster.waitForLeader();
    const victim = ALL.find((id) => id !== leader)!;
    await proposeMany(cluster, 100, "s");
    await cluster.waitForConvergence(ALL);
    expect(await cluster.kill(victim, "SIGTERM")).toBe(0);

    const snapDir = join(cluster.dataDir(victim), "snapshots");
    const snaps = readdirSync(snapDir)
      .filter((n) => n.endsWith(".snap"))
      .sort();
    expect(snaps).toHaveLength(2);
    const newest = join(snapDir, snaps[1]!);
    truncateSync(newest, Math.floor(statSync(newest).size / 2));

    cluster.start(victim);
    await proposeMany(cluster, 10, "t");
    expect(countOf(await cluster.waitForConvergence(ALL))).toBe(110);
    const log = cluster.logOf(victim);
    expect(log).toContain("skipping a snapshot that does not verify");
    expect(log).not.toContain("refusing to start");
    expect(readdirSync(snapDir)).toContain(`${snaps[1]}.corrupt`);
  });
});
