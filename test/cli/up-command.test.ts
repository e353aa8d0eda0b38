// `halon up` (what `make run` starts): real replica processes from one config,
// a leader, the status command against them, and a clean stop on SIGINT.
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../e2e/cluster-harness.js";
import { runCli } from "../helpers/run-cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("halon up", () => {
  const tmp = makeTempDir("halon-up-");
  let up: ChildProcess | null = null;
  const childPids: number[] = [];

  afterAll(() => {
    if (up?.pid && alive(up.pid)) up.kill("SIGKILL");
    for (const pid of childPids) if (alive(pid)) process.kill(pid, "SIGKILL");
    tmp.remove();
  });

  it("starts every replica and node service, elects a leader, and stops them all on SIGINT", async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    const nodePort = await freePort();
    const file = join(tmp.dir, "cluster.yaml");
    writeFileSync(
      file,
      [
        "cluster: {name: up-test}",
        "replicas:",
        ...ports.map(
          (p, i) => `  - {id: rc${i + 1}, grpcAddress: "127.0.0.1:${p}", dataDir: data/rc${i + 1}}`,
        ),
        "nodes:",
        "  - id: node1",
        "    host: host1",
        `    grpcAddress: "127.0.0.1:${nodePort}"`,
        '    processes: [{name: worker-1, command: sleep, args: ["3600"]}]',
      ].join("\n") + "\n",
    );
    up = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "up", "--config", file], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    up.stdout!.on("data", (c: Buffer) => (out += c.toString()));
    up.stderr!.on("data", (c: Buffer) => (out += c.toString()));
    const deadline = Date.now() + 60_000;
    while (!/Ctrl-C stops the cluster/.test(out)) {
      if (Date.now() > deadline || up.exitCode !== null) throw new Error(`halon up did not come up:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(out).toMatch(/Cluster "up-test" is up: leader rc\d, term \d+/);
    expect(out).toContain("All 1 node services joined and are online.");
    for (const m of out.matchAll(/pid (\d+)/g)) childPids.push(Number(m[1]));
    expect(childPids).toHaveLength(4);

    const graph = runCli(["graph", "--config", file, "--json"]);
    expect(graph.code).toBe(0);
    expect(graph.stdout).toContain("worker-1");
    expect(out).toContain(join(tmp.dir, "data", "logs", "rc1.log"));

    const status = runCli(["status", "--config", file, "--json"]);
    expect(status.code).toBe(0);
    const rows = (
      JSON.parse(status.stdout) as { replicas: { role: string; applied: number; stateHash: string }[] }
    ).replicas;
    expect(rows.filter((r) => r.role === "leader")).toHaveLength(1);
    // The coordinator's state hash at the replica's own applied index.
    for (const r of rows) expect(r.stateHash).toMatch(new RegExp(`^${r.applied}:[0-9a-f]{64}$`));
    expect(rows.filter((r) => r.role === "follower")).toHaveLength(2);

    const exited = new Promise<number | null>((resolve) => up!.once("exit", (code) => resolve(code)));
    up.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(out).toContain("cluster stopped");
    expect(childPids.filter(alive)).toEqual([]);
  }, 120_000);
});
