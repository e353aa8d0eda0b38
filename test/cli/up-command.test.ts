// `halon up` (what `make run` starts): real replica processes from one config,
// with the certificates it creates on first run and mutual TLS everywhere; a
// leader, every CLI command against them (as the operator, and refused where a
// reader or a plain-TCP client may not), and a clean stop on SIGINT.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ClusterClient } from "../../src/api/cluster-client.js";
import { ReloadableCertificates } from "../../src/raft/transport/reloadable-certificates.js";
import { freePort, until } from "../e2e/cluster-harness.js";
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
    const peerPorts = [await freePort(), await freePort(), await freePort()];
    const nodePort = await freePort();
    const dashboardPort = await freePort();
    const file = join(tmp.dir, "cluster.yaml");
    writeFileSync(
      file,
      [
        "cluster: {name: up-test}",
        "replicas:",
        ...ports.map(
          (p, i) =>
            `  - {id: rc${i + 1}, grpcAddress: "127.0.0.1:${p}", peerAddress: "127.0.0.1:${peerPorts[i]}", dataDir: data/rc${i + 1}${i === 0 ? `, dashboardAddress: "127.0.0.1:${dashboardPort}"` : ""}}`,
        ),
        "nodes:",
        "  - id: node1",
        "    host: host1",
        `    grpcAddress: "127.0.0.1:${nodePort}"`,
        "    disks: [disk-1a]",
        '    processes: [{name: worker-1, command: sleep, args: ["3600"]}]',
        "pools:",
        "  - {id: pool-main, disks: [disk-1a]}",
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
    // The coordinator's newest state hash, at an index the replica applied (hashed in the background).
    for (const r of rows) {
      expect(r.stateHash).toMatch(/^\d+:[0-9a-f]{64}$/);
      expect(Number(r.stateHash.split(":")[0])).toBeLessThanOrEqual(r.applied);
      expect(Number(r.stateHash.split(":")[0])).toBeGreaterThan(0);
    }
    expect(rows.filter((r) => r.role === "follower")).toHaveLength(2);

    // Mutual TLS with the certificates made on first run.
    expect(out).toMatch(/Created \d+ certificates in /);
    expect(out).toContain("mutual TLS (certificates in");
    for (const f of [
      "ca.pem",
      "replica-rc1.pem",
      "node-node1.pem",
      "operator-admin.pem",
      "reader-viewer.pem",
    ])
      expect(existsSync(join(tmp.dir, "certs", f)), f).toBe(true);

    // The dashboard's URL is printed, HTTPS; a reader's certificate opens /metrics, a node's does not.
    expect(out).toContain(`rc1      https://127.0.0.1:${dashboardPort}/`);
    const pem = (name: string) => readFileSync(join(tmp.dir, "certs", name));
    const getMetrics = (who: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpsRequest(
          `https://127.0.0.1:${dashboardPort}/metrics`,
          { ca: pem("ca.pem"), cert: pem(`${who}.pem`), key: pem(`${who}-key.pem`) },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on("error", reject);
        req.end();
      });
    expect(await getMetrics("reader-viewer")).toBe(200);
    expect(await getMetrics("node-node1")).toBe(403);

    // Every CLI command, as the operator (the default identity).
    const one = runCli(["graph", "--config", file, "--id", "node1"]);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toContain("node1");
    const submit = runCli([
      "events",
      "submit",
      "--config",
      file,
      "--json",
      '{"id":"up-se-1","stripingError":{"poolId":"pool-main","diskId":"disk-1a"}}',
    ]);
    expect(submit.code, submit.stderr).toBe(0);
    expect(submit.stdout).toContain("up-se-1: applied");
    // The epoch transition reaches the node service over mutual TLS and is acknowledged.
    const operator = new ClusterClient({
      addresses: ports.map((p) => `127.0.0.1:${p}`),
      tls: new ReloadableCertificates({
        ca: join(tmp.dir, "certs", "ca.pem"),
        cert: join(tmp.dir, "certs", "operator-admin.pem"),
        key: join(tmp.dir, "certs", "operator-admin-key.pem"),
      }),
    });
    try {
      await until(async () => {
        const g = await operator.getGraph("node1");
        return g.graph?.resources.find((r) => r.id === "node1")?.attributes.ackedEpoch === "1";
      }, "node1 to acknowledge epoch 1");
    } finally {
      operator.close();
    }
    const promote = runCli(["members", "promote", "rc1", "--config", file]);
    expect(promote.code, promote.stderr).toBe(0);
    expect(promote.stdout).toContain("voters: rc1, rc2, rc3");
    const moved = runCli(["transfer-leader", "--config", file]);
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stdout).toMatch(/leader: rc\d \(term \d+\)/);
    const watch = spawn(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "watch", "--config", file, "--json"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let watched = "";
    watch.stdout.on("data", (c: Buffer) => (watched += c.toString()));
    const watchDeadline = Date.now() + 30_000;
    while (!watched.includes('"graph"') && Date.now() < watchDeadline)
      await new Promise((r) => setTimeout(r, 100));
    watch.kill("SIGKILL");
    expect(watched).toContain("pool-main");

    // A reader reads but may not submit; a client without a certificate gets no connection.
    const asReader = ["--config", file, "--identity", "reader/viewer"];
    expect(runCli(["status", ...asReader]).code).toBe(0);
    const readerSubmit = runCli([
      "events",
      "submit",
      ...asReader,
      "--json",
      '{"id":"r1","diskFailed":{"diskId":"disk-1a"}}',
    ]);
    expect(readerSubmit.code).toBe(1);
    expect(readerSubmit.stderr).toContain('reader "viewer" may not submit');
    const readerMoves = runCli(["transfer-leader", ...asReader]);
    expect(readerMoves.stderr).toContain("may not operate the cluster");
    const plain = runCli(["status", "--config", file, "--insecure", "--json"]);
    expect(plain.code).toBe(1);
    expect(JSON.parse(plain.stdout).replicas.every((r: { reachable: boolean }) => !r.reachable)).toBe(true);
    expect(readFileSync(join(tmp.dir, "data", "logs", "rc1.log"), "utf8")).toContain('"tls":"mutual TLS"');

    const exited = new Promise<number | null>((resolve) => up!.once("exit", (code) => resolve(code)));
    up.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(out).toContain("cluster stopped");
    expect(childPids.filter(alive)).toEqual([]);
  }, 300_000); // a dozen CLI processes: slow on a loaded machine
});
