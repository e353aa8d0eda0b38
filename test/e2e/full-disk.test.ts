// A full disk is a state, not a crash, with real processes and a real full
// filesystem: each replica's data directory is a small tmpfs of its own (the
// test mounts them, so it needs root), and the leader's is filled to the last
// page under a write load. The leader must hand over, stay up with the NOSPACE
// alarm in its status, and run again by itself once space is freed, with no
// acknowledged write lost.
import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ReplicaRole } from "../../src/gen/halon/v1/client.js";
import { runCli } from "../helpers/run-cli.js";
import { Cluster, until } from "./cluster-harness.js";
import { WriteLoad, countOf } from "./write-load.js";

const ALL = ["rc1", "rc2", "rc3"];
const mounts: string[] = [];
let cluster: Cluster | undefined;
let load: WriteLoad | undefined;

/** Mounting needs root (CI runs as root); anywhere else the test says why it does not run. */
function canMount(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = spawnSync("mount", ["--version"]);
  return probe.status === 0;
}
const ROOT = canMount();
if (!ROOT) console.warn("full-disk.test.ts: skipped: mounting a size-limited tmpfs needs root and mount(8)");

function mountTmpfs(dir: string, size: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
  mounts.push(dir);
}

/** Writes `file` until the filesystem refuses, down to single bytes; returns the bytes written. */
function fill(file: string): number {
  const fd = openSync(file, "w");
  let written = 0;
  try {
    for (const chunk of [1 << 20, 64 << 10, 4096, 512, 1]) {
      const buf = Buffer.alloc(chunk, 0x55);
      for (;;) {
        try {
          written += writeSync(fd, buf);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

afterEach(async () => {
  await load?.stop();
  load = undefined;
  if (cluster) for (const id of ALL) await cluster.kill(id, "SIGKILL");
  for (const dir of mounts.splice(0)) spawnSync("umount", ["-l", dir]);
  await cluster?.destroy();
  cluster = undefined;
});

describe.skipIf(!ROOT)("a full disk with real processes", { timeout: 240_000 }, () => {
  it("the leader hands over, stays up with the NOSPACE alarm, and resumes once space is freed", async () => {
    cluster = await Cluster.create({ raft: { snapshotThreshold: 500, trailingEntries: 100 } });
    for (const id of ALL) mountTmpfs(cluster.dataDir(id), "24m");
    cluster.startAll();
    const victim = await cluster.waitForLeader();
    const pid = cluster.processes.get(victim)!.pid;
    load = new WriteLoad(cluster.client(), 8);
    await until(() => load!.acks.length >= 200, "200 acknowledged writes before the disk fills");

    const filler = join(cluster.dataDir(victim), "filler");
    fill(filler);
    const filledAt = Date.now();
    let newLeader = "";
    await until(
      async () => {
        const all = await cluster!.statuses();
        const v = all.get(victim);
        const leader = [...all.values()].find(
          (s) => s.role === ReplicaRole.REPLICA_ROLE_LEADER && s.id !== victim,
        );
        newLeader = leader?.id ?? "";
        return v !== undefined && v.alarms.includes("NOSPACE") && leader !== undefined;
      },
      "the NOSPACE alarm on the full replica and another leader",
      60_000,
    );
    const handOverMs = Date.now() - filledAt;
    console.log(`full-disk: alarm raised and ${newLeader} leads ${handOverMs} ms after the disk filled`);

    // Still up, still the same process, serving status; the alarm shows in `halon status`.
    expect(cluster.processes.get(victim)!.exitCode).toBeNull();
    expect(cluster.processes.get(victim)!.pid).toBe(pid);
    const shown = runCli(["status", "--config", cluster.configFile]);
    expect(shown.stdout).toMatch(new RegExp(`${victim}\\s.*NOSPACE`));
    const json = JSON.parse(runCli(["status", "--config", cluster.configFile, "--json"]).stdout) as {
      replicas: { id: string; alarms: string[]; alarmDetails: string[] }[];
    };
    const row = json.replicas.find((r) => r.id === victim)!;
    expect(row.alarms).toEqual(["NOSPACE"]);
    expect(row.alarmDetails[0]).toMatch(/No space left on device|ENOSPC/);
    // It asked the most up-to-date voter to take over at once (TimeoutNow), and that one leads.
    const raised = cluster
      .logOf(victim)
      .split("\n")
      .find((l) => l.includes("alarm NOSPACE raised"));
    expect(raised, "the alarm is logged").toBeDefined();
    expect((JSON.parse(raised!) as { handedTo: string }).handedTo).toBe(newLeader);

    // The others go on: writes are acknowledged while the disk stays full.
    const before = load.acks.length;
    await until(() => load!.acks.length >= before + 200, "200 more writes while the disk is full", 60_000);
    const v = (await cluster.statuses([victim])).get(victim)!;
    expect(v.alarms).toEqual(["NOSPACE"]);

    rmSync(filler);
    await until(
      async () => (await cluster!.statuses([victim])).get(victim)?.alarms.length === 0,
      "the alarm to clear once space is freed",
      30_000,
    );
    expect(cluster.logOf(victim)).toContain("alarm NOSPACE cleared");
    await load.stop();
    const hash = await cluster.waitForConvergence(ALL, 90_000);
    expect(load.problems(countOf(hash))).toEqual([]);
    expect(countOf(hash)).toBeGreaterThanOrEqual(load.acks.length);
    expect(cluster.processes.get(victim)!.pid).toBe(pid);
    expect(cluster.logOf(victim)).not.toContain("unrecoverable");
  });

  it("a follower restarted on a full disk waits instead of crash-looping, and catches up once space is freed", async () => {
    cluster = await Cluster.create();
    for (const id of ALL) mountTmpfs(cluster.dataDir(id), "24m");
    cluster.startAll();
    const leader = await cluster.waitForLeader();
    const victim = ALL.find((id) => id !== leader)!;
    load = new WriteLoad(cluster.client(), 4);
    await until(() => load!.acks.length >= 100, "100 acknowledged writes");
    expect(await cluster.kill(victim, "SIGTERM")).toBe(0);
    const filler = join(cluster.dataDir(victim), "filler");
    fill(filler);
    cluster.start(victim);
    await until(() => cluster!.logOf(victim).includes("NOSPACE"), "the NOSPACE alarm in the log", 30_000);
    const before = load.acks.length;
    await until(() => load!.acks.length >= before + 100, "100 more writes without it", 60_000);
    expect(cluster.processes.get(victim)!.exitCode, "still running").toBeNull();
    rmSync(filler);
    await load.stop();
    const hash = await cluster.waitForConvergence(ALL, 90_000);
    expect(load.problems(countOf(hash))).toEqual([]);
    expect(countOf(hash)).toBeGreaterThanOrEqual(load.acks.length);
  });
});
