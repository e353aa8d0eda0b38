// The recovery coordinator end to end: three replica processes running the
// RC state machine, three NodeService test servers, events in through the
// client API, commands out to the node servers and their results back
// through the log; a leader SIGKILLed in the middle of an epoch transition.
import { spawn } from "node:child_process";
import { status as grpcStatus, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterClient } from "../../src/api/cluster-client.js";
import { GraphChangeOp, type GetGraphResponse, type GraphUpdate } from "../../src/gen/halon/v1/client.js";
import { EventOutcome, type Event } from "../../src/gen/halon/v1/events.js";
import { runCli } from "../helpers/run-cli.js";
import { Cluster, freePort, until } from "./cluster-harness.js";
import { NodeServiceStub } from "./node-service-stub.js";

const ALL = ["rc1", "rc2", "rc3"];
const NODES = ["node1", "node2", "node3"];

function attr(g: GetGraphResponse, id: string, key: string): unknown {
  const v = g.graph?.resources.find((r) => r.id === id)?.attributes[key];
  return v === undefined ? undefined : JSON.parse(v);
}

describe("the recovery coordinator on a 3-replica cluster with node services", { timeout: 180_000 }, () => {
  let cluster: Cluster;
  const stubs = new Map<string, NodeServiceStub>();
  const client = () => cluster.client();

  beforeAll(async () => {
    const ports = new Map<string, number>();
    for (const id of NODES) ports.set(id, await freePort());
    const nodes = NODES.map((id, i) =>
      [
        `  - id: ${id}`,
        `    host: host${i + 1}`,
        `    grpcAddress: 127.0.0.1:${ports.get(id)}`,
        `    disks: [disk-${i + 1}a]`,
        "    processes:",
        `      - name: ios-${i + 1}`,
        "        command: sleep",
        '        args: ["600"]',
        "        services: [ios]",
      ].join("\n"),
    );
    cluster = await Cluster.create({
      stateMachine: "rc",
      // Nodes do not heartbeat in this test: no node is declared silent.
      rcArgs: ["--node-silent-ms", "600000"],
      extraConfig: [
        // Read by every replica into the coordinator's tunables.
        "recovery:",
        "  processRespawnBudget: 2",
        "nodes:",
        ...nodes,
        "pools:",
        "  - id: pool-main",
        "    disks: [disk-1a, disk-2a, disk-3a]",
      ].join("\n"),
    });
    // Each stub serves with its node's certificate: the leader delivers only to that node service.
    for (const id of NODES) {
      const stub = new NodeServiceStub(id, client);
      await stub.start(ports.get(id), cluster.identity("node", id));
      stubs.set(id, stub);
    }
    cluster.startAll();
    await cluster.waitForLeader();
  }, 90_000);

  afterAll(async () => {
    await cluster?.destroy();
    await Promise.all([...stubs.values()].map((s) => s.stop()));
  });

  it("declares the config's topology; joined nodes get their processes started", async () => {
    await until(
      async () => (await client().getGraph()).graph!.resources.some((r) => r.id === "pool-main"),
      "topology",
    );
    const joins: Event[] = NODES.map((nodeId, i) => ({
      id: `join-${nodeId}`,
      source: nodeId,
      nodeJoined: { nodeId, hostId: `host${i + 1}`, address: stubs.get(nodeId)!.address, epoch: 0 },
    }));
    const res = await client().submitEvents(joins);
    expect(res.results.map((r) => r.outcome)).toEqual(NODES.map(() => EventOutcome.EVENT_OUTCOME_APPLIED));
    // StartProcesses reaches each node server, which reports ProcessStarted back.
    await until(async () => {
      const g = await client().getGraph();
      return [1, 2, 3].every((i) => attr(g, `ios-${i}`, "state") === "online");
    }, "every process online");
    for (const id of NODES) expect(stubs.get(id)!.executed.some((c) => c.startProcesses)).toBe(true);
    const tree = runCli(["graph", "--config", cluster.configFile]);
    expect(tree.code).toBe(0);
    expect(tree.stdout).toMatch(/node1 \(Node\)\s+online/);
    expect(tree.stdout).toMatch(/ios-1 \(Process\)\s+online/);
    expect(tree.stdout).toContain("pool-main  epoch=0  disks: disk-1a, disk-2a, disk-3a");
  });

  it("respawns a process that failed beyond its local budget; its start acknowledges the command; a resubmission applies once", async () => {
    const before = await client().getGraph("ios-1");
    const instance = attr(before, "ios-1", "instance") as number;
    const failed: Event = {
      id: "ios-1-gave-up",
      source: "node1",
      processFailed: { processId: "ios-1", instance, reason: "local restart budget spent" },
    };
    const first = await client().submitEvents([failed]);
    expect(first.results[0]!.outcome).toBe(EventOutcome.EVENT_OUTCOME_APPLIED);
    const respawn = first.commands.find((c) => c.respawnProcess?.processId === "ios-1");
    expect(respawn?.target).toBe("node1");
    await until(
      () => stubs.get("node1")!.executed.some((c) => c.id === respawn!.id),
      "the respawn to reach node1",
    );
    await until(async () => {
      const g = await client().getGraph("ios-1");
      const outbox = await client().getOutbox();
      return (
        attr(g, "ios-1", "state") === "online" &&
        attr(g, "ios-1", "instance") === instance + 1 &&
        !outbox.pending.some((c) => c.id === respawn!.id)
      );
    }, "the respawned process online and its command acknowledged");
    const g = await client().getGraph("ios-1");
    expect(attr(g, "ios-1", "respawns")).toBe(1);
    const again = await client().submitEvents([failed]);
    expect(again.results[0]!.outcome).toBe(EventOutcome.EVENT_OUTCOME_DUPLICATE);
    expect(again.commands).toEqual([]);
    expect(attr(await client().getGraph("ios-1"), "ios-1", "respawns")).toBe(1);
  });

  it("answers bad input with a clear status and keeps running", async () => {
    const leader = await cluster.waitForLeader();
    const follower = ALL.find((id) => id !== leader)!;
    const direct = new ClusterClient({
      addresses: [cluster.address(follower)],
      leaderTimeoutMs: 1,
      tls: cluster.identity("operator", "admin"),
    });
    try {
      const ev: Event = { id: "x1", source: "t", diskFailed: { diskId: "disk-2a" } };
      const notLeader = (await direct.submitEvents([ev]).catch((e: unknown) => e)) as ServiceError;
      expect(notLeader.code).toBe(grpcStatus.FAILED_PRECONDITION);
      expect(notLeader.details).toContain(cluster.address(leader));
    } finally {
      direct.close();
    }
    const noId = (await client()
      .submitEvents([{ id: "", source: "t" }])
      .catch((e: unknown) => e)) as ServiceError;
    expect(noId.code).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(noId.details).toContain("events[0].id");
    const many = Array.from({ length: 1001 }, (_, i) => ({ id: `m${i}`, source: "t" }));
    const tooMany = (await client()
      .submitEvents(many)
      .catch((e: unknown) => e)) as ServiceError;
    expect(tooMany.code).toBe(grpcStatus.RESOURCE_EXHAUSTED);
    const unknown = await client().submitEvents([
      { id: "u1", source: "t", diskFailed: { diskId: "no-such-disk" } },
    ]);
    expect(unknown.results[0]).toMatchObject({
      outcome: EventOutcome.EVENT_OUTCOME_REJECTED,
      code: "unknown-resource",
    });
    const cli = runCli([
      "events",
      "submit",
      "--config",
      cluster.configFile,
      "--json",
      '{"id":"cli-1","diskFailed":{"diskId":"no-such-disk"}}',
    ]);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain("cli-1: rejected (unknown-resource)");
    const missing = (await client()
      .getGraph("no-such-thing")
      .catch((e: unknown) => e)) as ServiceError;
    expect(missing.code).toBe(grpcStatus.NOT_FOUND);
    expect((await cluster.statuses()).size).toBe(3);
  });

  it("streams graph changes to a watcher, and `halon watch` prints them", async () => {
    const start = await client().getGraph();
    const updates: GraphUpdate[] = [];
    const stream = client().watchGraph(cluster.address(start.replicaId), start.appliedIndex);
    stream.on("data", (u: GraphUpdate) => updates.push(u));
    stream.on("error", () => undefined);
    const watcher = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "src/cli/main.ts",
        "watch",
        "--config",
        cluster.configFile,
        "--from",
        `${start.appliedIndex}`,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const killWatcher = () => watcher.kill("SIGKILL");
    process.once("exit", killWatcher); // even if this test dies half way
    let printed = "";
    watcher.stdout.on("data", (b: Buffer) => (printed += b.toString()));
    try {
      // Whenever the CLI connects, it is sent every change after --from: no race with the events below.
      await client().submitEvents([
        { id: "hb-node2", source: "node2", nodeHeartbeat: { nodeId: "node2", epoch: 0 } },
      ]);
      await client().submitEvents([
        { id: "drain-none", source: "operator", diskReplaced: { diskId: "disk-2a", serial: "SN-2A-NEW" } },
      ]);
      await until(
        () =>
          updates.some((u) =>
            u.changes.some(
              (c) => c.op === GraphChangeOp.GRAPH_CHANGE_OP_SET && c.id === "disk-2a" && c.key === "serial",
            ),
          ),
        "the serial change in the stream",
      );
      expect(updates.every((u) => u.index > start.appliedIndex)).toBe(true);
      await until(
        () => printed.includes('set disk-2a.serial = "SN-2A-NEW"'),
        "`halon watch` to print the change",
      );
    } finally {
      stream.cancel();
      killWatcher();
      process.off("exit", killWatcher);
    }
  });

  it("completes an epoch transition after the leader is SIGKILLed half way: every node gets it once", async () => {
    const { epoch } = await client().getEpoch();
    stubs.get("node3")!.holdEpochAnswers();
    const res = await client().submitEvents([
      { id: "stripe-1", source: "client-7", stripingError: { poolId: "pool-main", diskId: "disk-1a" } },
    ]);
    expect(res.results[0]!.outcome).toBe(EventOutcome.EVENT_OUTCOME_APPLIED);
    const broadcast = res.commands.find((c) => c.epochTransition);
    expect(broadcast?.target).toBe("*");
    expect(broadcast?.epochTransition?.epoch).toBe(epoch + 1);
    // node1 and node2 have answered and their answers are applied; node3's answer is held.
    await until(async () => {
      const o = await client().getOutbox();
      return o.nodesAwaitingEpoch.length === 1 && o.nodesAwaitingEpoch[0] === "node3";
    }, "node1 and node2 to acknowledge the epoch");
    expect(stubs.get("node3")!.deliveries.some((d) => d.command.id === broadcast!.id)).toBe(true);

    const leader = await cluster.waitForLeader();
    await cluster.kill(leader, "SIGKILL");
    const survivors = ALL.filter((id) => id !== leader);
    const next = await cluster.waitForLeader(survivors);
    expect(next).not.toBe(leader);
    stubs.get("node3")!.release();

    await until(async () => {
      const o = await client().getOutbox();
      return o.nodesAwaitingEpoch.length === 0 && !o.pending.some((c) => c.epochTransition);
    }, "the new leader to complete the transition");
    const g = await client().getGraph();
    for (const id of NODES) {
      expect(attr(g, id, "ackedEpoch")).toBe(epoch + 1);
      // Delivered (at least once), carried out exactly once.
      expect(stubs.get(id)!.epochsApplied()).toEqual([epoch + 1]);
    }
    // node3 had the command from both leaders.
    const terms = new Set(
      stubs
        .get("node3")!
        .deliveries.filter((d) => d.command.epochTransition)
        .map((d) => d.term),
    );
    expect(terms.size).toBeGreaterThanOrEqual(2);
    expect(attr(g, "pool-main", "failureVector")).toEqual(["disk-1a"]);

    // The killed replica comes back; every replica has the same state hash at the same index.
    // waitForConvergence checks exactly that, on one round of statuses: a second round could
    // catch one replica a tick ahead of the others.
    cluster.start(leader);
    const hash = await cluster.waitForConvergence(ALL);
    expect(hash).not.toBe("");
  });
});
