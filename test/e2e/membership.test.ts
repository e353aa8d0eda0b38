// Membership changes under load with real processes: a fourth replica joins as
// a learner, is promoted, and the old leader is removed, all while proposals
// keep flowing; nothing acknowledged is lost.
import { afterAll, describe, expect, it } from "vitest";
import { ReplicaRole } from "../../src/gen/halon/v1/client.js";
import { runCli } from "../helpers/run-cli.js";
import { Cluster } from "./cluster-harness.js";
import { WriteLoad, countOf } from "./write-load.js";

let cluster: Cluster | undefined;
afterAll(async () => {
  await cluster?.destroy();
});

describe("membership changes under load", { timeout: 180_000 }, () => {
  it("adds a learner, promotes it and removes the old leader", async () => {
    cluster = await Cluster.create();
    cluster.startAll();
    const oldLeader = await cluster.waitForLeader();
    const load = new WriteLoad(cluster.client(), 3);

    await cluster.addToConfig("rc4");
    cluster.start("rc4");
    const added = runCli(["members", "add", "rc4", "--config", cluster.configFile]);
    expect(added.stderr).toBe("");
    expect(added.stdout).toMatch(/learners: rc4/);
    await cluster.waitForConvergence(["rc1", "rc2", "rc3", "rc4"]);
    expect((await cluster.statuses(["rc4"])).get("rc4")!.role).toBe(ReplicaRole.REPLICA_ROLE_LEARNER);

    const promoted = runCli(["members", "promote", "rc4", "--config", cluster.configFile]);
    expect(promoted.stdout).toMatch(/voters: .*rc4/);

    // Removing the leader: it hands over (or steps down) once the change commits.
    const removed = runCli(["members", "remove", oldLeader, "--config", cluster.configFile]);
    expect(removed.stderr).toBe("");
    expect(removed.stdout).not.toContain(oldLeader + ",");
    const remaining = ["rc1", "rc2", "rc3", "rc4"].filter((id) => id !== oldLeader);
    const newLeader = await cluster.waitForLeader(remaining);
    expect(remaining).toContain(newLeader);
    const acked = load.acks.length;
    while (load.acks.length < acked + 20) await new Promise((r) => setTimeout(r, 50));
    await load.stop();

    const hash = await cluster.waitForConvergence(remaining);
    expect(load.problems(countOf(hash))).toEqual([]);
    const s = (await cluster.statuses([newLeader])).get(newLeader)!;
    expect([...s.voters].sort()).toEqual(remaining);
    await cluster.kill(oldLeader, "SIGTERM");
  });
});
