// `halon up` as the local infrastructure provider: it serves InfraService on
// 127.0.0.1 (mutual TLS, its own infra certificate); after a node service was
// killed with SIGKILL, a replica's RespawnNode starts it again, the new node
// service stops the orphaned child of the old one (one copy), and the node
// joins again. A repeat of the command does not restart it twice; a node's
// certificate may not ask.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ClusterClient } from "../../src/api/cluster-client.js";
import { createInfraProvider } from "../../src/api/infra/index.js";
import { identityFiles } from "../../src/api/identity.js";
import { loadClusterConfig } from "../../src/config/index.js";
import type { TlsMaterial } from "../../src/raft/transport/tls.js";
import { freePort, until } from "../e2e/cluster-harness.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { alive } from "../node/node-process.js";

describe("halon up serves InfraService and respawns its node services", { timeout: 120_000 }, () => {
  const tmp = makeTempDir("halon-up-infra-");
  let up: ChildProcess | null = null;
  const pids: number[] = [];

  afterAll(async () => {
    if (up && up.exitCode === null) {
      const exited = new Promise((r) => up!.once("exit", r));
      up.kill("SIGINT");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
      if (up.exitCode === null) up.kill("SIGKILL");
    }
    for (const pid of [...pids, ...sleepPids()]) if (alive(pid)) process.kill(pid, "SIGKILL");
    tmp.remove();
  });

  const nodeLog = () => join(tmp.dir, "data", "logs", "node1.log");
  /** The pids of the `sleep` runs the node services logged, in order. */
  const sleepPids = () => {
    try {
      return readFileSync(nodeLog(), "utf8")
        .split("\n")
        .filter((l) => l.includes('"process started"'))
        .map((l) => (JSON.parse(l) as { pid: number }).pid);
    } catch {
      return [];
    }
  };

  it("a killed node service is started again on RespawnNode, with exactly one copy of its process", async () => {
    const ports = await Promise.all(Array.from({ length: 8 }, () => freePort()));
    const infraAddress = `127.0.0.1:${ports[7]}`;
    const file = join(tmp.dir, "cluster.yaml");
    writeFileSync(
      file,
      [
        "cluster: {name: up-infra}",
        "replicas:",
        ...[0, 1, 2].map(
          (i) =>
            `  - {id: rc${i + 1}, grpcAddress: "127.0.0.1:${ports[i]}", peerAddress: "127.0.0.1:${ports[i + 3]}", dataDir: data/rc${i + 1}}`,
        ),
        "nodes:",
        "  - id: node1",
        "    host: host1",
        `    grpcAddress: "127.0.0.1:${ports[6]}"`,
        "    dataDir: data/node1",
        '    processes: [{name: worker-1, command: sleep, args: ["3600"]}]',
        "infrastructure:",
        `  default: {provider: grpc, address: "${infraAddress}", name: local}`,
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
    expect(out).toContain(`Serving InfraService "local" on ${infraAddress}`);
    for (const m of out.matchAll(/pid (\d+)/g)) pids.push(Number(m[1]));
    const nodePid = Number(/node\s+node1\s+gRPC \S+\s+pid (\d+)/.exec(out)![1]);
    await until(() => sleepPids().length === 1, "the node's sleep to start");
    const orphan = sleepPids()[0]!;

    const config = loadClusterConfig(file);
    const material = (role: "replica" | "node", name: string): TlsMaterial => {
      const f = identityFiles(config, role, name);
      return { ca: readFileSync(f.ca), cert: readFileSync(f.cert), key: readFileSync(f.key) };
    };
    const client = new ClusterClient({
      addresses: config.replicas.map((r) => r.grpcAddress),
      tls: (() => {
        const f = identityFiles(config, "operator", "admin");
        return { ca: readFileSync(f.ca), cert: readFileSync(f.cert), key: readFileSync(f.key) };
      })(),
    });
    try {
      process.kill(nodePid, "SIGKILL");
      await until(async () => /node node1 exited \(SIGKILL\)/.test(out), "halon up to see the node exit");
      expect(alive(orphan)).toBe(true);

      const asNode = createInfraProvider(config, "host1", { tls: material("node", "node1") });
      const denied = await asNode.respawnNode(respawn("c1", 1));
      expect(denied.ok).toBe(false);
      expect(denied.detail).toContain("may not respawn nodes");
      asNode.close();

      const provider = createInfraProvider(config, "host1", { tls: material("replica", "rc1") });
      const answer = await provider.respawnNode(respawn("c2", 2));
      expect(answer.ok).toBe(true);
      expect(answer.detail).toMatch(/^node service node1 started again as pid \d+$/);
      const newPid = Number(/pid (\d+)/.exec(answer.detail)![1]);
      pids.push(newPid);
      await until(() => sleepPids().length === 2, "the new node service's sleep to start", 60_000);
      const all = sleepPids();
      expect(all.filter(alive)).toEqual([all[1]]);
      expect(alive(orphan)).toBe(false);
      await until(async () => {
        const g = await client.getGraph("node1").catch(() => null);
        const v = g?.graph?.resources.find((r) => r.id === "node1")?.attributes.state;
        return v === JSON.stringify("online");
      }, "node1 online again");

      // A fresh client (as a new leader would be) repeating the command: the server answers, no restart.
      const again = createInfraProvider(config, "host1", { tls: material("replica", "rc1") });
      expect(await again.respawnNode(respawn("c2", 2))).toEqual({
        ok: true,
        detail: `${answer.detail} (already done)`,
      });
      expect(alive(newPid)).toBe(true);
      // A request from an older term than the server has seen is fenced.
      expect((await again.respawnNode(respawn("c3", 1))).detail).toContain("older than term 2");
      expect(alive(newPid)).toBe(true);
      provider.close();
      again.close();
    } finally {
      client.close();
    }
  });
});

function respawn(commandId: string, term: number) {
  return {
    commandId,
    issuedIndex: 10,
    issuedTerm: term,
    nodeId: "node1",
    hostId: "host1",
    leaderId: "rc1",
    leaderTerm: term,
    attempt: 1,
  };
}
