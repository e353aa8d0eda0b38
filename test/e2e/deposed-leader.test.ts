// A deposed leader cannot command: three replica processes and a real
// `halon node`, over mutual TLS. node1 is reached through a TCP proxy that can
// hold what the replicas send it (a slow network). The leader's
// EpochTransition for node1, sent right after a striping error committed, is
// held there; the leader is frozen with SIGSTOP; the other two elect a new
// leader and node1 learns the new term from the answers to its own calls. Then
// the old leader's command arrives, with its old term: the node service refuses
// it, obeys the new leader's copy, and obeys no command of the old term once it
// knows the new one, also after the old leader is resumed with SIGCONT.
//
// (Resuming the old leader and waiting for it to send does not exercise the
// fence reliably: a process resumed from SIGSTOP reads the new leader's
// messages, buffered in its sockets, before its timers fire, and under load CI
// saw it step down without sending in six rounds out of six.)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { alive, startNode, type NodeProcess } from "../node/node-process.js";
import { HoldProxy } from "../helpers/hold-proxy.js";
import { Cluster, freePort, until } from "./cluster-harness.js";

interface LogLine {
  msg?: string;
  command?: string;
  term?: number;
  highestTerm?: number;
  leaderId?: string;
}

const DISKS = ["disk-1a", "disk-1b"];

function lines(file: string): LogLine[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as LogLine);
}

describe("fencing of a deposed leader", { timeout: 240_000 }, () => {
  let cluster: Cluster;
  let node: NodeProcess | undefined;
  let proxy: HoldProxy | undefined;
  let frozen: string | null = null;

  afterAll(async () => {
    if (frozen) cluster.processes.get(frozen)?.kill("SIGCONT");
    const children = node ? node.pids("ios-1") : [];
    await node?.stop("SIGKILL");
    for (const pid of children) if (alive(pid)) process.kill(pid, "SIGKILL");
    await proxy?.stop();
    await cluster?.destroy();
  });

  it("a command the old leader sent before it was deposed is refused by the node service when it arrives", async () => {
    const listenAddress = `127.0.0.1:${await freePort()}`;
    proxy = await HoldProxy.start(`127.0.0.1:${await freePort()}`, listenAddress);
    cluster = await Cluster.create({
      stateMachine: "rc",
      rcArgs: ["--node-silent-ms", "600000"],
      extraConfig: [
        "nodes:",
        "  - id: node1",
        "    host: host1",
        `    grpcAddress: ${proxy.address}`,
        `    listenAddress: ${listenAddress}`,
        `    disks: [${DISKS.join(", ")}]`,
        "    processes: [{name: ios-1, command: sleep, args: ['600'], services: [ios]}]",
        `pools: [{id: pool-main, disks: [${DISKS.join(", ")}]}]`,
      ].join("\n"),
    });
    cluster.startAll();
    const nodeLog = join(cluster.dir, "node1.log");
    const fencing = join(cluster.dir, "data", "e2e", "node1", "fencing.json");
    const storedTerm = () =>
      (JSON.parse(readFileSync(fencing, "utf8")) as { highestTerm: number }).highestTerm;
    const client = cluster.client();
    node = startNode(cluster.configFile, "node1", nodeLog, ["--heartbeat-ms", "300"]);
    await until(async () => {
      const g = await client.getGraph().catch(() => null);
      return g?.graph!.resources.find((r) => r.id === "node1")?.attributes.state === '"online"';
    }, "node1 online");
    await until(() => lines(nodeLog).some((l) => l.msg === "command delivered"), "a first delivery to node1");

    const oldLeader = await cluster.waitForLeader();
    const oldTerm = (await cluster.statuses([oldLeader])).get(oldLeader)!.term;
    // The old leader's delivery leaves it and waits in the network.
    proxy.hold();
    const res = await client.submitEvents([
      { id: "se-1", source: "operator", stripingError: { poolId: "pool-main", diskId: DISKS[0]! } },
    ]);
    const command = res.commands.find((c) => c.epochTransition)?.id;
    expect(command).toBeDefined();
    await until(() => proxy!.heldBytes > 0, "the old leader's delivery to reach the proxy");
    cluster.processes.get(oldLeader)!.kill("SIGSTOP");
    frozen = oldLeader;
    expect(lines(nodeLog).some((l) => l.msg === "command delivered" && l.command === command)).toBe(false);

    const others = ["rc1", "rc2", "rc3"].filter((id) => id !== oldLeader);
    const newLeader = await cluster.waitForLeader(others);
    const newTerm = (await cluster.statuses([newLeader])).get(newLeader)!.term;
    expect(newTerm).toBeGreaterThan(oldTerm);
    // node1 learns the new term from the answers to its own calls (session renewals, events).
    await until(() => storedTerm() >= newTerm, "node1 to record the new term");

    // The network delivers late: first the old leader's command, then the new leader's copies.
    const releasedAt = lines(nodeLog).length;
    proxy.release();
    const refusal = () =>
      lines(nodeLog)
        .slice(releasedAt)
        .find((l) => l.msg === "refused a command from an older term");
    await until(() => refusal() !== undefined, "node1 to refuse the old leader's command", 30_000);
    expect(refusal()!.term).toBe(oldTerm);
    expect(refusal()!.highestTerm).toBeGreaterThanOrEqual(newTerm);
    // The new leader's copy of the same command is carried out.
    await until(
      () =>
        lines(nodeLog)
          .slice(releasedAt)
          .some((l) => l.msg === "command delivered" && l.command === command && (l.term ?? 0) >= newTerm),
      "the new leader's copy of the command to be carried out",
    );

    // Resume the old leader: whatever it sends before it hears of the new term is refused too.
    cluster.processes.get(oldLeader)!.kill("SIGCONT");
    frozen = null;
    await until(async () => {
      const s = (await cluster.statuses([oldLeader])).get(oldLeader);
      return s !== undefined && s.term >= newTerm && s.role !== 3;
    }, "the old leader to step down");
    // A second striping error: only the new term's commands are obeyed.
    await client.submitEvents([
      { id: "se-2", source: "operator", stripingError: { poolId: "pool-main", diskId: DISKS[1]! } },
    ]);
    await until(async () => {
      const epoch = (await client.getEpoch()).epoch;
      const g = await client.getGraph("node1").catch(() => null);
      const acked = g?.graph!.resources.find((r) => r.id === "node1")?.attributes.ackedEpoch;
      return acked !== undefined && Number(acked) >= epoch;
    }, "node1 to acknowledge the newest epoch");

    const after = lines(nodeLog).slice(releasedAt);
    // Not one command of the old term was obeyed once the new term was known.
    expect(after.filter((l) => l.msg === "command delivered" && (l.term ?? 0) < newTerm)).toEqual([]);
    for (const r of after.filter((l) => l.msg === "refused a command from an older term"))
      expect(r.term).toBeLessThan(newTerm);
    expect(storedTerm()).toBeGreaterThanOrEqual(newTerm);
  });
});
