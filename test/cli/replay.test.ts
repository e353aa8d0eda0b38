// `halon replay` on a real replica's data directory (3 `halon rc` processes,
// a snapshot taken on the way): the rebuilt state has the hash the replica
// reported in `halon status --json`, a tampered report is caught, --to stops
// earlier, --resource explains, and the data directory is never changed.
import { createHash } from "node:crypto";
import { cpSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPORTED_HASHES_FILE } from "../../src/api/reported-hashes.js";
import { Cluster, until } from "../e2e/cluster-harness.js";
import { runCli } from "../helpers/run-cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";

/** Every file under dir with its size, mtime and content hash: any write shows. */
function fingerprint(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else
        out.push(
          `${p} ${st.size} ${st.mtimeMs} ${createHash("sha256").update(readFileSync(p)).digest("hex")}`,
        );
    }
  };
  walk(dir);
  return out;
}

interface ReplayJson {
  snapshotIndex: number;
  index: number;
  stateHash: string;
  checks: { index: number; hash: string; replayed: string; ok: boolean }[];
  unchecked: { index: number }[];
  graph?: { resources: { id: string; attributes: Record<string, string> }[] };
}

describe("halon replay", () => {
  let cluster: Cluster;
  let follower = "";
  let reported = { index: 0, hash: "" };
  const tmp = makeTempDir("halon-replay-test-");

  beforeAll(async () => {
    cluster = await Cluster.create({
      stateMachine: "rc",
      raft: { snapshotThreshold: 20, trailingEntries: 4 },
      rcArgs: ["--node-silent-ms", "600000"],
      extraConfig: [
        "nodes:",
        "  - {id: node1, host: host1, grpcAddress: '127.0.0.1:1', disks: [disk-1a]}",
        "  - {id: node2, host: host2, grpcAddress: '127.0.0.1:2', disks: [disk-2a]}",
        "pools:",
        "  - {id: pool-main, disks: [disk-1a, disk-2a]}",
      ].join("\n"),
    });
    cluster.startAll();
    const leader = await cluster.waitForLeader();
    const client = cluster.client();
    await until(
      async () => (await client.getGraph()).graph!.resources.some((r) => r.id === "pool-main"),
      "topology",
    );
    // Enough entries for a snapshot (threshold 20), then a striping error to explain.
    for (let i = 0; i < 30; i++)
      await client.submitEvents([
        i % 2 === 0
          ? { id: `f${i}`, source: "test", diskFailed: { diskId: "disk-1a" } }
          : { id: `r${i}`, source: "test", diskReplaced: { diskId: "disk-1a", serial: `s${i}` } },
      ]);
    await client.submitEvents([
      { id: "stripe-1", source: "test", stripingError: { poolId: "pool-main", diskId: "disk-2a" } },
    ]);
    follower = cluster.specs.map((s) => s.id).find((id) => id !== leader)!;
    await cluster.waitForConvergence(cluster.specs.map((s) => s.id));
    const status = runCli(["status", "--config", cluster.configFile, "--json"]);
    const row = (
      JSON.parse(status.stdout) as { replicas: { id: string; stateHash: string }[] }
    ).replicas.find((r) => r.id === follower)!;
    const [index, hash] = row.stateHash.split(":");
    reported = { index: Number(index), hash: hash! };
    // Stopped cleanly: what it reported is on disk.
    await cluster.kill(follower, "SIGTERM");
  }, 120_000);

  afterAll(async () => {
    await cluster?.destroy();
    tmp.remove();
  });

  it("rebuilds the state from the snapshot and log, with the hash the replica reported", () => {
    const dir = cluster.dataDir(follower);
    const before = fingerprint(dir);
    expect(readFileSync(join(dir, REPORTED_HASHES_FILE), "utf8")).toContain(
      `${reported.index} ${reported.hash}`,
    );
    const res = runCli(["replay", dir, "--config", cluster.configFile, "--json"]);
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout) as ReplayJson;
    expect(out.snapshotIndex).toBeGreaterThan(0);
    expect(out.index).toBeGreaterThanOrEqual(reported.index);
    expect(out.checks).toContainEqual({ ...reported, replayed: reported.hash, ok: true });
    expect(out.checks.every((c) => c.ok)).toBe(true);
    const disk = out.graph!.resources.find((r) => r.id === "disk-2a")!;
    expect(disk.attributes.state).toBe('"failed"');
    const text = runCli(["replay", dir, "--config", cluster.configFile]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/The \d+ reported state hash\(es\) in range match/);
    expect(text.stdout).toContain("pool-main");
    // Nothing in the data directory changed.
    expect(fingerprint(dir)).toEqual(before);
  });

  it("stops at --to, and explains a resource from the replayed history", () => {
    const dir = cluster.dataDir(follower);
    const before = fingerprint(dir);
    const whole = JSON.parse(
      runCli(["replay", dir, "--config", cluster.configFile, "--json"]).stdout,
    ) as ReplayJson;
    const earlier = runCli([
      "replay",
      dir,
      "--config",
      cluster.configFile,
      "--to",
      String(whole.index - 1),
      "--json",
    ]);
    expect(earlier.code, earlier.stderr).toBe(0);
    const e = JSON.parse(earlier.stdout) as ReplayJson;
    expect(e.index).toBe(whole.index - 1);
    expect(e.stateHash).not.toBe(whole.stateHash);
    // The striping error was the last entry: before it, disk-2a was not failed.
    expect(e.graph!.resources.find((r) => r.id === "disk-2a")!.attributes.state).not.toBe('"failed"');
    const why = runCli(["replay", dir, "--config", cluster.configFile, "--resource", "disk-2a"]);
    expect(why.code, why.stderr).toBe(0);
    expect(why.stdout).toMatch(
      /Disk disk-2a is "failed" since entry \d+: event stripe-1 stripingError \[disk-2a, pool-main\] from test: applied/,
    );
    expect(why.stdout).toContain('set disk-2a.state = "failed" (was "online")');
    const past = runCli(["replay", dir, "--to", String(whole.index + 1000)]);
    expect(past.code).toBe(2);
    expect(past.stderr).toMatch(/past the end of the log/);
    expect(fingerprint(dir)).toEqual(before);
  }, 90_000); // four CLI processes, one after the other

  it("fails when the replayed hash differs from what was reported (a tampered report)", () => {
    const copy = join(tmp.dir, "tampered");
    cpSync(cluster.dataDir(follower), copy, { recursive: true });
    const wrong = reported.hash.replace(/^./, (c) => (c === "0" ? "1" : "0"));
    writeFileSync(join(copy, REPORTED_HASHES_FILE), `${reported.index} ${wrong}\n`);
    const res = runCli(["replay", copy, "--config", cluster.configFile]);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(
      `MISMATCH at index ${reported.index}: reported ${wrong}, replayed ${reported.hash}`,
    );
    // --expect checks a hash given on the command line the same way.
    const expectOk = runCli([
      "replay",
      copy,
      "--config",
      cluster.configFile,
      "--expect",
      `${reported.index}:${reported.hash}`,
      "--json",
    ]);
    const checks = (JSON.parse(expectOk.stdout) as ReplayJson).checks;
    expect(checks.filter((c) => c.ok)).toHaveLength(1);
    expect(checks.filter((c) => !c.ok)).toHaveLength(1);
  });
});
