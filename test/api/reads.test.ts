// Reads are linearizable by default (ReadIndex), stale on request: three real
// replicas in this process. A follower's linearizable read shows every write
// acknowledged before it; an old leader cut off from the majority does not
// answer a linearizable read (a newer leader may have committed writes it has
// not seen), but answers a stale one, which says the index it is at.
import { status, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterClient } from "../../src/api/cluster-client.js";
import { until } from "../e2e/cluster-harness.js";
import { InProcessCluster } from "./in-process-cluster.js";

describe("linearizable and stale reads", () => {
  let cluster: InProcessCluster;
  let seq = 0;
  const diskEvent = (failed: boolean) =>
    failed
      ? { id: `r-${++seq}`, source: "op", diskFailed: { diskId: "d1" } }
      : { id: `r-${++seq}`, source: "op", diskReplaced: { diskId: "d1", serial: `s${seq}` } };

  beforeAll(async () => {
    cluster = await InProcessCluster.start();
    await until(
      () => cluster.leader()?.coordinator?.machine.graph.has("d1") === true,
      "the topology",
      30_000,
    );
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it("a follower's linearizable read shows every write acknowledged before it", async () => {
    const leader = cluster.leader()!;
    const followers = cluster.replicas.filter((r) => r !== leader);
    for (let i = 0; i < 20; i++) {
      const follower = followers[i % 2]!;
      const w = await cluster.client.submitEvents([diskEvent(i % 2 === 0)]);
      const [linear, stale] = await Promise.all([
        cluster.client.getGraphAt(cluster.addressOf(follower.id), "d1"),
        cluster.client.getGraphAt(cluster.addressOf(follower.id), "d1", { stale: true }),
      ]);
      expect(linear.appliedIndex).toBeGreaterThanOrEqual(w.index);
      const state = linear.graph!.resources.find((r) => r.id === "d1")!.attributes.state;
      expect(state).toBe(i % 2 === 0 ? '"failed"' : '"online"');
      // A stale read answers from wherever the follower is: it says where.
      expect(stale.replicaId).toBe(follower.id);
      expect(stale.appliedIndex).toBeGreaterThan(0);
      expect(stale.appliedIndex).toBeLessThanOrEqual(follower.status().appliedIndex);
    }
  }, 60_000);

  it("an old leader cut off from the majority refuses a linearizable read and serves a stale one with its index", async () => {
    const old = cluster.leader()!;
    const before = await cluster.client.getGraphAt(cluster.addressOf(old.id), "d1");
    cluster.partition(old.id);
    const rest = cluster.replicas.filter((r) => r !== old);
    await until(() => cluster.leader(rest) !== undefined, "a new leader among the others", 30_000);
    // A write the old leader cannot see, through a client that knows only the majority's side.
    const majority = new ClusterClient({ addresses: rest.map((r) => cluster.addressOf(r.id)) });
    const w = await majority.submitEvents([diskEvent(true)]).finally(() => majority.close());
    const oldAddress = cluster.addressOf(old.id);
    const refused = await cluster.client.getGraphAt(oldAddress, "d1").then(
      (res) => ({ res }),
      (err: ServiceError) => ({ err }),
    );
    expect("err" in refused, "a linearizable read on the cut-off leader must not be answered").toBe(true);
    if ("err" in refused)
      expect([status.FAILED_PRECONDITION, status.UNAVAILABLE, status.DEADLINE_EXCEEDED]).toContain(
        refused.err.code,
      );
    const stale = await cluster.client.getGraphAt(oldAddress, "d1", { stale: true });
    expect(stale.replicaId).toBe(old.id);
    expect(stale.appliedIndex).toBeGreaterThanOrEqual(before.appliedIndex);
    expect(stale.appliedIndex).toBeLessThan(w.index);
    // Healed: it catches up, and its linearizable reads show the write again.
    cluster.heal();
    await until(
      async () =>
        (await cluster.client.getGraphAt(oldAddress, "d1").catch(() => ({ appliedIndex: 0 }))).appliedIndex >=
        w.index,
      "the old leader to serve linearizable reads again, with the write",
      30_000,
    );
  }, 90_000);
});
