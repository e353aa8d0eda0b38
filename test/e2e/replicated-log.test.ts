// A 3-replica cluster of real processes: commits, follower redirection,
// SIGKILL of the leader under load, restarts from LevelDB, clean SIGTERM,
// and the operator's status command.
import { status as grpcStatus, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterClient } from "../../src/api/cluster-client.js";
import { ReplicaRole } from "../../src/gen/halon/v1/client.js";
import { runCli } from "../helpers/run-cli.js";
import { Cluster } from "./cluster-harness.js";
import { WriteLoad, countOf } from "./write-load.js";

const ALL = ["rc1", "rc2", "rc3"];

describe("a 3-replica cluster of real processes", { timeout: 180_000 }, () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await Cluster.create();
    cluster.startAll();
    await cluster.waitForLeader();
  }, 90_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  it("commits proposals and every replica applies the same sequence", async () => {
    const first = await cluster.client().propose(Buffer.from("one"));
    const second = await cluster.client().propose(Buffer.from("two"));
    expect(second.index).toBeGreaterThan(first.index);
    expect(Number(second.result.readBigUInt64BE(0))).toBe(Number(first.result.readBigUInt64BE(0)) + 1);
    const hash = await cluster.waitForConvergence(ALL);
    expect(countOf(hash)).toBeGreaterThanOrEqual(2);
  });

  it("answers a proposal on a follower with FAILED_PRECONDITION naming the leader's address", async () => {
    const leader = await cluster.waitForLeader();
    const follower = ALL.find((id) => id !== leader)!;
    const direct = new ClusterClient({
      addresses: [cluster.address(follower)],
      leaderTimeoutMs: 1,
      tls: cluster.identity("operator", "admin"),
    });
    try {
      const err = (await direct.propose(Buffer.from("x")).catch((e: unknown) => e)) as ServiceError;
      expect(err.code).toBe(grpcStatus.FAILED_PRECONDITION);
      expect(err.details).toContain(`the leader is ${leader} at ${cluster.address(leader)}`);
      const empty = (await cluster
        .client()
        .propose(new Uint8Array())
        .catch((e: unknown) => e)) as ServiceError;
      expect(empty.code).toBe(grpcStatus.INVALID_ARGUMENT);
    } finally {
      direct.close();
    }
  });

  it("prints status as a table and as JSON", () => {
    const table = runCli(["status", "--config", cluster.configFile]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/ID\s+ADDRESS\s+ROLE\s+TERM\s+COMMIT\s+APPLIED\s+LAG/);
    expect(table.stdout).toMatch(/leader/);
    const json = runCli(["status", "--config", cluster.configFile, "--json"]);
    const parsed = JSON.parse(json.stdout) as { replicas: { id: string; role: string; lag: number }[] };
    expect(parsed.replicas.map((r) => r.id)).toEqual(ALL);
    expect(parsed.replicas.filter((r) => r.role === "leader")).toHaveLength(1);
  });

  it("loses no acknowledged proposal when the leader is SIGKILLed under load, and the replicas converge", async () => {
    const load = new WriteLoad(cluster.client(), 4);
    await waitForAcks(load, 50);
    const leader = await cluster.waitForLeader();
    await cluster.kill(leader, "SIGKILL");
    const survivors = ALL.filter((id) => id !== leader);
    const newLeader = await cluster.waitForLeader(survivors);
    expect(newLeader).not.toBe(leader);
    const before = load.acks.length;
    await waitForAcks(load, before + 50);
    // The old leader comes back from its LevelDB files and catches up.
    cluster.start(leader);
    await waitForAcks(load, load.acks.length + 30);
    await load.stop();
    const hash = await cluster.waitForConvergence(ALL);
    expect(load.problems(countOf(hash))).toEqual([]);
    expect(countOf(hash)).toBeGreaterThanOrEqual(load.acks.length);
  });

  it("recovers the whole cluster from LevelDB after every replica is SIGKILLed", async () => {
    const before = await cluster.waitForConvergence(ALL);
    for (const id of ALL) await cluster.kill(id, "SIGKILL");
    cluster.startAll();
    await cluster.waitForLeader();
    expect(await cluster.waitForConvergence(ALL)).toBe(before);
    const next = await cluster.client().propose(Buffer.from("after restart"));
    expect(Number(next.result.readBigUInt64BE(0))).toBe(countOf(before) + 1);
  });

  it("hands leadership over on SIGTERM and exits 0", async () => {
    const leader = await cluster.waitForLeader();
    const term = (await cluster.statuses([leader])).get(leader)!.term;
    expect(await cluster.kill(leader, "SIGTERM")).toBe(0);
    expect(cluster.logOf(leader)).toContain("handed leadership over before stopping");
    const survivors = ALL.filter((id) => id !== leader);
    const next = await cluster.waitForLeader(survivors);
    const s = (await cluster.statuses([next])).get(next)!;
    expect(s.role).toBe(ReplicaRole.REPLICA_ROLE_LEADER);
    expect(s.term).toBeGreaterThan(term);
    cluster.start(leader);
    await cluster.waitForConvergence(ALL);
  });
});

async function waitForAcks(load: WriteLoad, n: number): Promise<void> {
  const start = Date.now();
  while (load.acks.length < n) {
    if (Date.now() - start > 60_000)
      throw new Error(`only ${load.acks.length} of ${n} proposals acknowledged`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
