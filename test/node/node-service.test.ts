// `halon node` as a real process against a real 3-replica coordinator: it
// joins and its process is started; a killed child is restarted locally and
// the coordinator records it; beyond the local budget the coordinator
// respawns it; an epoch transition is acknowledged; bad commands get a clear
// answer; SIGTERM stops the children and exits 0; a restarted node service
// joins again.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { Client, Metadata, credentials, status, type ServiceError } from "@grpc/grpc-js";
import { channelCredentials, type TlsMaterial } from "../../src/raft/transport/tls.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GetGraphResponse } from "../../src/gen/halon/v1/client.js";
import { EventOutcome } from "../../src/gen/halon/v1/events.js";
import {
  NodeServiceClient,
  type ExecuteCommandRequest,
  type ExecuteCommandResponse,
} from "../../src/gen/halon/v1/node.js";
import { Cluster, freePort, until } from "../e2e/cluster-harness.js";
import { alive, startNode, type NodeProcess } from "./node-process.js";
import { makeTempDir } from "../helpers/temp-dir.js";

function attr(g: GetGraphResponse, id: string, key: string): unknown {
  const v = g.graph?.resources.find((r) => r.id === id)?.attributes[key];
  return v === undefined ? undefined : JSON.parse(v);
}

describe("halon node against a 3-replica coordinator", { timeout: 60_000 }, () => {
  let cluster: Cluster;
  let node: NodeProcess;
  let nodeAddress = "";
  const client = () => cluster.client();

  const probes = makeTempDir("halon-probe-");
  const probeDir = probes.dir;

  beforeAll(async () => {
    nodeAddress = `127.0.0.1:${await freePort()}`;
    cluster = await Cluster.create({
      stateMachine: "rc",
      extraConfig: [
        "nodes:",
        "  - id: node1",
        "    host: host1",
        `    grpcAddress: ${nodeAddress}`,
        "    disks: [disk-1a, disk-1b]",
        "    diskProbe:",
        `      file: ${probeDir}/health-{disk}`,
        "      intervalMs: 100",
        "      errors: 3",
        "      withinMs: 60000",
        "    processes:",
        "      - name: ios-1",
        "        command: sleep",
        '        args: ["600"]',
        "        services: [ios]",
        "pools:",
        "  - id: pool-main",
        "    disks: [disk-1a]",
        "  - id: pool-meta",
        "    disks: [disk-1b]",
      ].join("\n"),
    });
    cluster.startAll();
    node = startNode(cluster.configFile, "node1", `${cluster.dir}/node1.log`, [
      "--heartbeat-ms",
      "500",
      "--local-restarts",
      "1",
    ]);
    await cluster.waitForLeader();
  }, 60_000);

  afterAll(async () => {
    const children = node ? node.pids("ios-1") : [];
    await node?.stop("SIGKILL");
    for (const pid of children) if (alive(pid)) process.kill(pid, "SIGKILL");
    await cluster?.destroy();
    probes.remove();
  });

  it("joins; the graph shows the node online and its process online", async () => {
    await until(async () => {
      const g = await client().getGraph();
      // The pid comes from the node service's log, which may be written a moment after the report.
      return (
        attr(g, "node1", "state") === "online" &&
        attr(g, "ios-1", "state") === "online" &&
        node.pids("ios-1").length > 0
      );
    }, "node1 and ios-1 online");
    const g = await client().getGraph();
    expect(attr(g, "node1", "address")).toBe(nodeAddress);
    expect(attr(g, "ios-1", "instance")).toBe(1);
    const [pid] = node.pids("ios-1");
    expect(pid).toBeDefined();
    expect(alive(pid!)).toBe(true);
  });

  it("restarts a killed child locally; the coordinator records the local restart", async () => {
    const [first] = node.pids("ios-1");
    process.kill(first!, "SIGKILL");
    await until(async () => {
      const g = await client().getGraph("ios-1");
      return attr(g, "ios-1", "localRestarts") === 1 && attr(g, "ios-1", "state") === "online";
    }, "the local restart recorded");
    const g = await client().getGraph("ios-1");
    expect(attr(g, "ios-1", "instance")).toBe(2);
    const pids = node.pids("ios-1");
    expect(pids).toHaveLength(2);
    expect(pids[1]).not.toBe(first);
    expect(alive(pids[1]!)).toBe(true);
  });

  it("beyond its local budget reports ProcessFailed; the coordinator's RespawnProcess starts a new run", async () => {
    const before = node.pids("ios-1");
    process.kill(before.at(-1)!, "SIGKILL");
    await until(async () => {
      const g = await client().getGraph("ios-1");
      return attr(g, "ios-1", "respawns") === 1 && attr(g, "ios-1", "state") === "online";
    }, "the coordinator's respawn to run");
    const g = await client().getGraph("ios-1");
    // Failed as instance 2, respawned by the coordinator as instance 3; no local restart this time.
    expect(attr(g, "ios-1", "instance")).toBe(3);
    expect(attr(g, "ios-1", "localRestarts")).toBe(1);
    const pids = node.pids("ios-1");
    expect(pids).toHaveLength(before.length + 1);
    expect(alive(pids.at(-1)!)).toBe(true);
    expect((await client().getOutbox()).pending.some((c) => c.respawnProcess)).toBe(false);
  });

  it("acknowledges an epoch transition", async () => {
    const res = await client().submitEvents([
      { id: "striping-1", source: "test", stripingError: { poolId: "pool-main", diskId: "disk-1a" } },
    ]);
    expect(res.results[0]!.outcome).toBe(EventOutcome.EVENT_OUTCOME_APPLIED);
    expect(res.commands.some((c) => c.epochTransition?.epoch === 1)).toBe(true);
    await until(async () => {
      const g = await client().getGraph("node1");
      const outbox = await client().getOutbox();
      return attr(g, "node1", "ackedEpoch") === 1 && !outbox.pending.some((c) => c.epochTransition);
    }, "node1 to acknowledge epoch 1");
  });

  it("local diagnosis: a disk probe failing 3 times reports DiskFailed, an epoch follows; a replacement is reported", async () => {
    writeFileSync(join(probeDir, "health-disk-1b"), "error medium error\n");
    await until(async () => {
      const g = await client().getGraph("node1");
      const d = await client().getGraph("disk-1b");
      return attr(d, "disk-1b", "state") === "failed" && attr(g, "node1", "ackedEpoch") === 2;
    }, "disk-1b failed by the node's own diagnosis, and epoch 2 acknowledged");
    const history = await client().getHistory("disk-1b", 50);
    expect(JSON.stringify(history)).toContain("node1.");
    writeFileSync(join(probeDir, "health-disk-1b"), "replaced SN-NEW\n");
    await until(async () => {
      const d = await client().getGraph("disk-1b");
      return attr(d, "disk-1b", "state") === "online" && attr(d, "disk-1b", "serial") === "SN-NEW";
    }, "disk-1b replaced, reported by the node");
    await until(async () => attr(await client().getGraph("node1"), "node1", "ackedEpoch") === 3, "epoch 3");
    writeFileSync(join(probeDir, "health-disk-1b"), "ok\n");
  });

  /** ExecuteCommand as `tls`'s holder (none: plain TCP), by default as replica rc1 in the current term. */
  const callAs = async (tls: TlsMaterial | undefined, req: Partial<ExecuteCommandRequest>) => {
    const direct = new NodeServiceClient(
      nodeAddress,
      tls ? channelCredentials(tls) : credentials.createInsecure(),
    );
    const term = Math.max(...[...(await cluster.statuses()).values()].map((s) => s.term));
    try {
      return await new Promise<ExecuteCommandResponse | ServiceError>((resolve) =>
        direct.executeCommand(
          { command: undefined, target: "", leaderId: "rc1", term, ...req },
          new Metadata(),
          { deadline: Date.now() + 10_000 },
          (err, res) => resolve(err ?? res!),
        ),
      );
    } finally {
      direct.close();
    }
  };
  const storedTerm = () =>
    (
      JSON.parse(readFileSync(join(cluster.dir, "data", "e2e", "node1", "fencing.json"), "utf8")) as {
        highestTerm: number;
      }
    ).highestTerm;

  it("obeys only replicas: a node's, an operator's, a reader's or no certificate is refused", async () => {
    const epoch = {
      id: "evil-1",
      target: "node1",
      issuedAtMs: 0,
      issuedIndex: 0,
      issuedTerm: 0,
      epochTransition: { epoch: 2 ** 53 - 1, pools: [] },
    };
    for (const [who, role, name] of [
      ["node", "node", "node1"],
      ["operator", "operator", "admin"],
      ["reader", "reader", "viewer"],
    ] as const) {
      const err = (await callAs(cluster.identity(role, name), {
        target: "node1",
        command: epoch,
      })) as ServiceError;
      expect(err.code, who).toBe(status.PERMISSION_DENIED);
      expect(err.details, who).toContain("only the coordinator's replicas");
    }
    // A replica's certificate, but the delivery claims another leader.
    const claimed = (await callAs(cluster.identity("replica", "rc2"), {
      target: "node1",
      command: epoch,
      leaderId: "rc1",
    })) as ServiceError;
    expect(claimed.code).toBe(status.PERMISSION_DENIED);
    // Plain TCP against a TLS server: no connection at all.
    const plain = (await callAs(undefined, { target: "node1", command: epoch })) as ServiceError;
    expect(plain.code).toBe(status.UNAVAILABLE);
    // The epoch did not move.
    const g = await client().getGraph("node1");
    expect(attr(g, "node1", "ackedEpoch")).not.toBe(2 ** 53 - 1);
    expect(node.child.exitCode).toBeNull();
  });

  it("keeps the highest term on disk and refuses a delivery from an older term", async () => {
    // A new term: the node service learns it from the new leader's answers to its heartbeats.
    await client().transferLeadership(null);
    const current = Math.max(...[...(await cluster.statuses()).values()].map((s) => s.term));
    expect(current).toBeGreaterThanOrEqual(2);
    await until(() => storedTerm() >= current, "the node service to record the new leader's term");
    expect(storedTerm()).toBe(current);
    const rc1 = cluster.identity("replica", "rc1");
    const stop = (id: string, processIds: string[]) => ({
      id,
      target: "node1",
      issuedAtMs: 0,
      issuedIndex: 1,
      issuedTerm: 1,
      stopProcesses: { nodeId: "node1", processIds },
    });
    const ok = (await callAs(rc1, {
      target: "node1",
      term: current,
      command: stop("t1", []),
    })) as ExecuteCommandResponse;
    expect(ok.ok).toBe(true);
    const stale = (await callAs(rc1, {
      target: "node1",
      term: current - 1,
      command: stop("t2", ["ios-1"]),
    })) as ServiceError;
    expect(stale.code).toBe(status.FAILED_PRECONDITION);
    expect(stale.details).toContain(`older than term ${current} already seen`);
    // A command cannot claim to be issued in a term after its delivering leader's.
    const future = (await callAs(rc1, {
      target: "node1",
      term: current,
      command: { ...stop("t3", ["ios-1"]), issuedTerm: current + 1 },
    })) as ServiceError;
    expect(future.code).toBe(status.INVALID_ARGUMENT);
    expect(alive(node.pids("ios-1").at(-1)!)).toBe(true);
  });

  it("answers bad commands with a clear result or status and keeps running", async () => {
    const high = storedTerm();
    const call = (req: Partial<ExecuteCommandRequest>) =>
      callAs(cluster.identity("replica", "rc1"), { term: high, ...req });
    {
      const unknown = (await call({
        target: "node1",
        command: { id: "x1", target: "node1", issuedAtMs: 0, issuedIndex: 0, issuedTerm: 0 },
      })) as ExecuteCommandResponse;
      expect(unknown.ok).toBe(false);
      expect(unknown.detail).toContain("unknown command x1");
      const wrongTarget = (await call({
        target: "node9",
        command: { id: "x2", target: "node9", issuedAtMs: 0, issuedIndex: 0, issuedTerm: 0 },
      })) as ServiceError;
      expect(wrongTarget.code).toBe(status.INVALID_ARGUMENT);
      const none = (await call({ target: "node1" })) as ServiceError;
      expect(none.code).toBe(status.INVALID_ARGUMENT);
      const older = (await call({
        target: "node1",
        command: {
          id: "x3",
          target: "node1",
          issuedAtMs: 0,
          issuedIndex: 0,
          issuedTerm: 0,
          epochTransition: { epoch: 1, pools: [] },
        },
      })) as ExecuteCommandResponse;
      expect(older).toMatchObject({ ok: true, detail: "epoch 3 already applied" });
    }
    {
      // A term past 2^53 - 1 cannot be decoded into a number: INVALID_ARGUMENT naming the field,
      // not grpc-js's INTERNAL "Error deserializing request". Raw bytes, as a forger would send.
      const w = new BinaryWriter();
      w.uint32(18).string("node1"); // target = 2
      w.uint32(26).string("rc1"); // leader_id = 3
      w.uint32(32).uint64(2n ** 60n); // term = 4
      const raw = new Client(nodeAddress, channelCredentials(cluster.identity("replica", "rc1")));
      const err = await new Promise<ServiceError | null>((resolve) =>
        raw.makeUnaryRequest(
          "/halon.v1.NodeService/ExecuteCommand",
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from(w.finish()),
          new Metadata(),
          { deadline: Date.now() + 10_000 },
          (e) => resolve(e),
        ),
      );
      raw.close();
      expect(err?.code).toBe(status.INVALID_ARGUMENT);
      expect(err?.details).toContain("term");
    }
    expect(node.child.exitCode).toBeNull();
  });

  it("stops its children and exits 0 on SIGTERM", async () => {
    const pids = node.pids("ios-1");
    const current = pids.at(-1)!;
    expect(alive(current)).toBe(true);
    expect(await node.stop("SIGTERM")).toBe(0);
    for (const pid of pids) expect(alive(pid)).toBe(false);
  });
  it("started again, joins again (a new incarnation, not a duplicate) and its process is started again", async () => {
    const before = node.pids("ios-1");
    const g0 = await client().getGraph("ios-1");
    const instance = attr(g0, "ios-1", "instance") as number;
    // The same log file: pids() then lists the runs of both node services.
    const term = storedTerm();
    node = startNode(cluster.configFile, "node1", `${cluster.dir}/node1.log`, ["--heartbeat-ms", "500"]);
    await until(async () => {
      const g = await client().getGraph("ios-1");
      // The pid comes from the log, which may be written a moment after the report is applied.
      return (
        attr(g, "ios-1", "state") === "online" &&
        (attr(g, "ios-1", "instance") as number) > instance &&
        node.pids("ios-1").length > before.length
      );
    }, "ios-1 started again by the new node service");
    const pids = node.pids("ios-1");
    expect(pids.length).toBeGreaterThan(before.length);
    expect(alive(pids.at(-1)!)).toBe(true);
    // The restart did not forget the term: an older one is still refused.
    expect(storedTerm()).toBeGreaterThanOrEqual(term);
    const stale = (await callAs(cluster.identity("replica", "rc1"), {
      target: "node1",
      term: term - 1,
      command: {
        id: "t9",
        target: "node1",
        issuedAtMs: 0,
        issuedIndex: 1,
        issuedTerm: 1,
        stopProcesses: { nodeId: "node1", processIds: ["ios-1"] },
      },
    })) as ServiceError;
    expect(stale.code).toBe(status.FAILED_PRECONDITION);
    expect(alive(pids.at(-1)!)).toBe(true);
  });

  it("SIGKILLed and started again: stops the former run's child (one copy), remembers its epoch and term", async () => {
    const orphan = node.pids("ios-1").at(-1)!;
    const term = storedTerm();
    expect(await node.stop("SIGKILL")).toBeNull();
    // The child outlives a SIGKILLed node service: this is what the next run must deal with.
    expect(alive(orphan)).toBe(true);
    const runs = node.pids("ios-1").length;
    node = startNode(cluster.configFile, "node1", `${cluster.dir}/node1.log`, ["--heartbeat-ms", "500"]);
    await until(async () => {
      const g = await client().getGraph("ios-1");
      return attr(g, "ios-1", "state") === "online" && node.pids("ios-1").length > runs;
    }, "ios-1 started again by the third node service");
    const all = node.pids("ios-1");
    expect(all.filter(alive)).toEqual([all.at(-1)]);
    expect(alive(orphan)).toBe(false);
    // What it read at start: the epoch it applied before, the count of its runs, the former child stopped.
    const started = readFileSync(node.logFile, "utf8")
      .split("\n")
      .filter((l) => l.includes('"node service started"'))
      .map((l) => JSON.parse(l) as { epoch: number; incarnation: number; formerChildrenStopped: number });
    expect(started.at(-1)).toMatchObject({ epoch: 3, incarnation: 3, formerChildrenStopped: 1 });
    const stale = (await callAs(cluster.identity("replica", "rc1"), {
      target: "node1",
      term: term - 1,
      command: {
        id: "t10",
        target: "node1",
        issuedAtMs: 0,
        issuedIndex: 1,
        issuedTerm: 1,
        stopProcesses: { nodeId: "node1", processIds: ["ios-1"] },
      },
    })) as ServiceError;
    expect(stale.code).toBe(status.FAILED_PRECONDITION);
    const last = all.at(-1)!;
    expect(await node.stop("SIGTERM")).toBe(0);
    expect(alive(last)).toBe(false);
  });
});
