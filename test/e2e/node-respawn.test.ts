// Node recovery end to end, with real processes under `halon up` (mutual TLS):
// the coordinator's own loop finds a SIGKILLed node service silent, marks the
// node transient (its processes unknown), and delivers RespawnNode through the
// host's infrastructure provider:
//   - `halon up`'s InfraService (provider grpc) starts the node service again:
//     the node comes back online with exactly one copy of its process;
//   - an `exec` provider that fails is run with the node's and host's names
//     and the leader's term, tried again with backoff, and the node ends down.
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ClusterClient } from "../../src/api/cluster-client.js";
import { identityFiles } from "../../src/api/identity.js";
import { loadClusterConfig } from "../../src/config/index.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { alive } from "../node/node-process.js";
import { freePort, until } from "./cluster-harness.js";

interface Up {
  proc: ChildProcess;
  out: () => string;
  client: ClusterClient;
  nodePid: number;
  dir: string;
}

const running: {
  up: ChildProcess;
  client: ClusterClient;
  extra: number[];
  dir: string;
  remove: () => void;
}[] = [];

afterEach(async () => {
  for (const r of running.splice(0)) {
    r.client.close();
    if (r.up.exitCode === null) {
      const exited = new Promise((res) => r.up.once("exit", res));
      r.up.kill("SIGINT");
      await Promise.race([exited, new Promise((res) => setTimeout(res, 30_000))]);
      if (r.up.exitCode === null) r.up.kill("SIGKILL");
    }
    // The node services' children too: a SIGKILLed node service that no provider restarts leaves its child.
    for (const pid of [...r.extra, ...sleepPids(r.dir)]) if (alive(pid)) process.kill(pid, "SIGKILL");
    r.remove();
  }
});

/** Starts `halon up` on a one-node cluster whose config ends with `infrastructure`. */
async function startUp(prefix: string, infrastructure: (dir: string, port: number) => string[]): Promise<Up> {
  const tmp = makeTempDir(prefix);
  const ports = await Promise.all(Array.from({ length: 8 }, () => freePort()));
  const file = join(tmp.dir, "cluster.yaml");
  writeFileSync(
    file,
    [
      `cluster: {name: ${prefix.replace(/[^a-z]/g, "")}}`,
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
      // Quick liveness, and a quick respawn plan, so that the test takes seconds.
      "liveness: {heartbeatMs: 400, silentAfterMs: 2000, graceAfterElectionMs: 1200}",
      "recovery: {nodeRespawnBudget: 2, nodeRespawnBackoff: {baseMs: 500, factor: 2, maxMs: 1000}}",
      ...infrastructure(tmp.dir, ports[7]!),
    ].join("\n") + "\n",
  );
  const proc = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "up", "--config", file], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  proc.stderr!.on("data", (c: Buffer) => (out += c.toString()));
  const config = loadClusterConfig(file);
  const f = identityFiles(config, "operator", "admin");
  const extra: number[] = [];
  const remove = () => tmp.remove();
  const deadline = Date.now() + 90_000;
  while (!/Ctrl-C stops the cluster/.test(out)) {
    if (Date.now() > deadline || proc.exitCode !== null) {
      remove();
      throw new Error(`halon up did not come up:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const client = new ClusterClient({
    addresses: config.replicas.map((r) => r.grpcAddress),
    tls: { ca: readFileSync(f.ca), cert: readFileSync(f.cert), key: readFileSync(f.key) },
  });
  running.push({ up: proc, client, extra, dir: tmp.dir, remove });
  for (const m of out.matchAll(/pid (\d+)/g)) extra.push(Number(m[1]));
  const nodePid = Number(/node\s+node1\s+gRPC \S+\s+pid (\d+)/.exec(out)![1]);
  return { proc, out: () => out, client, nodePid, dir: tmp.dir };
}

async function stateOf(client: ClusterClient, id: string): Promise<string | null> {
  const g = await client.getGraph(id).catch(() => null);
  const v = g?.graph?.resources.find((r) => r.id === id)?.attributes.state;
  return v === undefined ? null : (JSON.parse(v) as string);
}

/** The pids of the `sleep` runs node1's services logged, in order. */
function sleepPids(dir: string): number[] {
  const log = join(dir, "data", "logs", "node1.log");
  if (!existsSync(log)) return [];
  return readFileSync(log, "utf8")
    .split("\n")
    .filter((l) => l.includes('"process started"'))
    .map((l) => (JSON.parse(l) as { pid: number }).pid);
}

describe("node recovery through an infrastructure provider", { timeout: 240_000 }, () => {
  it("kill -9 of a node service under halon up: transient, respawned by the coordinator, online, one copy", async () => {
    const up = await startUp("halon-respawn-up-", (_dir, port) => [
      "infrastructure:",
      `  default: {provider: grpc, address: "127.0.0.1:${port}", name: local}`,
    ]);
    await until(async () => (await stateOf(up.client, "node1")) === "online", "node1 online", 90_000);
    await until(() => sleepPids(up.dir).length === 1, "the node's sleep to start");

    process.kill(up.nodePid, "SIGKILL");
    const seen = new Set<string>();
    await until(
      async () => {
        const s = await stateOf(up.client, "node1");
        if (s !== null) seen.add(s);
        return seen.has("transient") && s === "online";
      },
      "node1 transient, then online again",
      120_000,
    );
    await until(() => sleepPids(up.dir).length === 2, "the new node service's sleep to start", 60_000);
    const all = sleepPids(up.dir);
    // Never two copies: the first run's child was stopped by the new node service.
    expect(all.filter(alive)).toEqual([all[1]]);
    await until(async () => (await stateOf(up.client, "worker-1")) === "online", "worker-1 online again");
  });

  it("a failing exec provider is run with the node's arguments, tried again with backoff, then the node is down", async () => {
    const up = await startUp("halon-respawn-exec-", (dir) => {
      const script = join(dir, "fence-agent.sh");
      writeFileSync(
        script,
        `#!/bin/sh\necho "$@" >> "${join(dir, "calls.txt")}"\necho "power on failed" >&2\nexit 7\n`,
      );
      chmodSync(script, 0o755);
      return [
        "infrastructure:",
        "  default:",
        "    provider: exec",
        `    command: ${script}`,
        '    args: ["--node", "{node}", "--host", "{host}", "--term", "{term}", "--attempt", "{attempt}"]',
        "    timeoutMs: 5000",
      ];
    });
    await until(async () => (await stateOf(up.client, "node1")) === "online", "node1 online", 90_000);
    process.kill(up.nodePid, "SIGKILL");
    await until(async () => (await stateOf(up.client, "node1")) === "down", "node1 down", 120_000);
    const calls = readFileSync(join(up.dir, "calls.txt"), "utf8").trim().split("\n");
    // One call per attempt of the budget (2), each with the node, its host and a real term.
    expect(calls.length).toBeGreaterThanOrEqual(2);
    for (const [i, c] of calls.slice(0, 2).entries())
      expect(c).toMatch(new RegExp(`^--node node1 --host host1 --term [1-9]\\d* --attempt ${i + 1}$`));
    // The graph tells the truth about a down node's process.
    expect(await stateOf(up.client, "worker-1")).toBe("offline");
  });
});
