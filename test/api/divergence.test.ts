// Divergence is an alarm: three real replicas in this process (LevelDB, gRPC on
// loopback) compare their state hashes every few entries. One follower's state
// is then made to differ on purpose (its graph changed behind the log's back):
// at the next checkpoint it raises DIVERGED, naming the leader and the index,
// in its status, its log and its metrics; the replicas that agree do not.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { until } from "../e2e/cluster-harness.js";
import { InProcessCluster } from "./in-process-cluster.js";

const CHECK_EVERY = 4;

describe("state divergence alarm", () => {
  let cluster: InProcessCluster;
  let seq = 0;

  const submit = async (n: number) => {
    for (let i = 0; i < n; i++)
      await cluster.client.submitEvents([
        { id: `ev-${++seq}`, source: "n1", nodeHeartbeat: { nodeId: "n1", epoch: 0 } },
      ]);
  };

  beforeAll(async () => {
    cluster = await InProcessCluster.start({ stateCheckEvery: CHECK_EVERY });
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it("compares at checkpoints and stays quiet while the replicas agree", async () => {
    await submit(3 * CHECK_EVERY);
    await until(
      () =>
        cluster.replicas.every(
          (r) => (r.coordinator?.stateChecks.checked ?? 0) >= 1 || r.status().role === 3,
        ),
      "followers to compare at a checkpoint",
      30_000,
    );
    for (const r of cluster.replicas) {
      expect(r.status().alarms).toEqual([]);
      expect(r.coordinator!.stateChecks.diverged).toBe(0);
    }
  }, 60_000);

  it("raises DIVERGED on the replica whose state was made to differ, naming both replicas and the index", async () => {
    const leader = cluster.replicas.find((r) => r.status().role === 3)!;
    const follower = cluster.replicas.find((r) => r !== leader)!;
    const other = cluster.replicas.find((r) => r !== leader && r !== follower)!;
    // Deliberately different: a change no entry made (once the leader's topology declaration is applied there).
    await until(() => follower.coordinator!.machine.graph.has("h1"), "the topology on the follower", 30_000);
    follower.coordinator!.machine.graph.setAttr("h1", "address", "tampered");
    await submit(2 * CHECK_EVERY);
    await until(() => follower.status().alarms.includes("DIVERGED"), "the DIVERGED alarm", 30_000);
    const d = follower.coordinator!.divergence!;
    expect(d.other).toBe(leader.id);
    expect(d.index % CHECK_EVERY).toBe(0);
    expect(d.mine).not.toBe(d.theirs);
    expect(follower.status().alarmDetails.join("\n")).toContain(`index ${d.index}`);
    const line = cluster.errors.find((e) => e.id === follower.id && e.line.includes('"alarm":"DIVERGED"'));
    expect(line?.line).toContain(`replica ${follower.id}`);
    expect(line?.line).toContain(`replica ${leader.id}`);
    const text = await cluster.metrics.get(follower.id)!.metrics();
    expect(text).toMatch(/^halon_state_divergences_total [1-9]/m);
    expect(text).toMatch(/^halon_state_diverged 1$/m);
    // The replicas that agree with the leader see nothing wrong.
    for (const r of [leader, other]) {
      expect(r.status().alarms).not.toContain("DIVERGED");
      expect(await cluster.metrics.get(r.id)!.metrics()).toMatch(/^halon_state_diverged 0$/m);
    }
    expect(other.coordinator!.stateChecks.checked).toBeGreaterThan(1);
  }, 60_000);
});
