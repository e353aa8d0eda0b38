// Liveness off the log, with real processes: a `halon node` keeps a session
// with the leader of three real `halon rc` replicas (liveness timings from the
// cluster config). At idle its renewals add no log entries while the leader's
// failure detector still hears it (it stays online well past silentAfterMs);
// stopped (SIGSTOP), it is declared silent; resumed, it says it is back with
// one event; after the leader is SIGKILLed it renews with the new leader
// within the grace period and is never suspected.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReplicaRole } from "../../src/gen/halon/v1/client.js";
import { Cluster, freePort, until } from "../e2e/cluster-harness.js";
import { startNode, type NodeProcess } from "./node-process.js";

const HEARTBEAT_MS = 300;
const SILENT_MS = 1_500;

describe("node sessions: liveness off the log", { timeout: 90_000 }, () => {
  let cluster: Cluster;
  let node: NodeProcess;
  const client = () => cluster.client();
  const nodeState = async () => {
    const g = await client()
      .getGraph("node1")
      .catch(() => null); // not joined yet, or no leader for a moment
    const v = g?.graph?.resources.find((r) => r.id === "node1")?.attributes.state;
    return v === undefined ? undefined : (JSON.parse(v) as string);
  };
  const leaderStatus = async () =>
    [...(await cluster.statuses()).values()].find((s) => s.role === ReplicaRole.REPLICA_ROLE_LEADER)!;

  beforeAll(async () => {
    const nodeAddress = `127.0.0.1:${await freePort()}`;
    cluster = await Cluster.create({
      stateMachine: "rc",
      extraConfig: [
        `liveness: {heartbeatMs: ${HEARTBEAT_MS}, silentAfterMs: ${SILENT_MS}, graceAfterElectionMs: 2000}`,
        "nodes:",
        `  - {id: node1, host: host1, grpcAddress: "${nodeAddress}"}`,
      ].join("\n"),
    });
    cluster.startAll();
    node = startNode(cluster.configFile, "node1", `${cluster.dir}/node1.log`);
    await cluster.waitForLeader();
    await until(async () => (await nodeState()) === "online", "node1 online");
  }, 60_000);

  afterAll(async () => {
    if (node?.child.exitCode === null) node.child.kill("SIGCONT");
    await node?.stop("SIGKILL");
    await cluster?.destroy();
  });

  it("at idle, renewals add no log entries, and keep the node online past silentAfterMs", async () => {
    const before = await leaderStatus();
    const started = Date.now();
    await new Promise((r) => setTimeout(r, 3 * SILENT_MS));
    const after = await leaderStatus();
    const seconds = (Date.now() - started) / 1000;
    // Heartbeats in the log would be ~15 entries here (one per 300 ms); a tick or two may happen.
    expect(after.leaderId).toBe(before.leaderId);
    expect(after.lastLogIndex - before.lastLogIndex, `entries in ${seconds} s`).toBeLessThanOrEqual(2);
    expect(await nodeState()).toBe("online");
    const renewals = readFileSync(node.logFile, "utf8").match(/"session with the leader"/g) ?? [];
    expect(renewals.length).toBeGreaterThanOrEqual(1);
  });

  it("a stopped node is declared silent; resumed, it tells the coordinator once and is online again", async () => {
    const before = await leaderStatus();
    node.child.kill("SIGSTOP");
    const stoppedAt = Date.now();
    await until(async () => (await nodeState()) !== "online", "node1 declared silent", 30_000);
    const silentAfter = Date.now() - stoppedAt;
    expect(silentAfter).toBeGreaterThanOrEqual(SILENT_MS - HEARTBEAT_MS);
    node.child.kill("SIGCONT");
    await until(async () => (await nodeState()) === "online", "node1 online again", 30_000);
    const log = readFileSync(node.logFile, "utf8");
    expect(log).toContain("the coordinator's graph is behind: telling it");
    const after = await leaderStatus();
    // The silence, the transition's ticks and the one catch-up heartbeat: a handful, not a stream.
    expect(after.lastLogIndex - before.lastLogIndex).toBeLessThanOrEqual(12);
  });

  it("after the leader is SIGKILLed, the node renews with the new leader and is not suspected", async () => {
    const old = (await leaderStatus()).id;
    const transitionsBefore = (
      readFileSync(node.logFile, "utf8").match(/"the coordinator's graph is behind/g) ?? []
    ).length;
    await cluster.kill(old, "SIGKILL");
    const killedAt = Date.now();
    const survivors = cluster.specs.map((s) => s.id).filter((id) => id !== old);
    const next = await cluster.waitForLeader(survivors);
    expect(next).not.toBe(old);
    await until(
      () => readFileSync(node.logFile, "utf8").includes(`"leader":"${next}"`),
      "the node's session with the new leader",
      30_000,
    );
    const foundAfter = Date.now() - killedAt;
    expect(foundAfter).toBeLessThan(30_000);
    // Well past the grace period and silentAfterMs: still online, and never told it was behind.
    await new Promise((r) => setTimeout(r, 2 * SILENT_MS));
    expect(await nodeState()).toBe("online");
    const transitionsAfter = (
      readFileSync(node.logFile, "utf8").match(/"the coordinator's graph is behind/g) ?? []
    ).length;
    expect(transitionsAfter).toBe(transitionsBefore);
  });
});
