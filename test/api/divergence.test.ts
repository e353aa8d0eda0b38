// Divergence is an alarm: three real replicas in this process (LevelDB, gRPC on
// loopback) compare their state hashes every few entries. One follower's state
// is then made to differ on purpose (its graph changed behind the log's back):
// at the next checkpoint it raises DIVERGED, naming the leader and the index,
// in its status, its log and its metrics; the replicas that agree do not.
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterClient } from "../../src/api/cluster-client.js";
import { Replica } from "../../src/api/replica.js";
import { clusterConfigSchema } from "../../src/config/index.js";
import { ReplicaMetrics } from "../../src/dashboard/index.js";
import { createLogger } from "../../src/log/logger.js";
import { freePort, until } from "../e2e/cluster-harness.js";
import { makeTempDir } from "../helpers/temp-dir.js";

const CHECK_EVERY = 4;

describe("state divergence alarm", () => {
  const tmp = makeTempDir("halon-diverge-");
  const replicas: Replica[] = [];
  const metrics = new Map<string, ReplicaMetrics>();
  const errors: { id: string; line: string }[] = [];
  let client: ClusterClient;
  let seq = 0;

  const submit = async (n: number) => {
    for (let i = 0; i < n; i++)
      await client.submitEvents([
        { id: `ev-${++seq}`, source: "n1", nodeHeartbeat: { nodeId: "n1", epoch: 0 } },
      ]);
  };

  beforeAll(async () => {
    const ids = ["rc1", "rc2", "rc3"];
    const config = clusterConfigSchema.parse({
      cluster: { name: "diverge" },
      replicas: await Promise.all(
        ids.map(async (id) => ({
          id,
          grpcAddress: `127.0.0.1:${await freePort()}`,
          peerAddress: `127.0.0.1:${await freePort()}`,
          dataDir: join(tmp.dir, id),
        })),
      ),
      nodes: [{ id: "n1", host: "h1", grpcAddress: "127.0.0.1:1", disks: ["d1"] }],
      pools: [],
    });
    for (const id of ids) {
      const m = new ReplicaMetrics();
      // Error lines only, captured: the alarm's log line is checked below.
      const logger = createLogger({
        name: id,
        level: "error",
        pretty: false,
        destination: new Writable({
          write(chunk: Buffer, _encoding, done) {
            errors.push({ id, line: chunk.toString() });
            done();
          },
        }),
      });
      const r = await Replica.start({
        config,
        id,
        logger,
        instruments: m,
        insecure: true,
        stateCheckEvery: CHECK_EVERY,
        rcDuties: { nodeSilentMs: 600_000 },
      });
      m.attach({ status: () => r.status(), machine: () => r.coordinator?.machine ?? null });
      replicas.push(r);
      metrics.set(id, m);
    }
    client = new ClusterClient({ addresses: config.replicas.map((r) => r.grpcAddress) });
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await Promise.all(replicas.map((r) => r.stop()));
    tmp.remove();
  });

  it("compares at checkpoints and stays quiet while the replicas agree", async () => {
    await submit(3 * CHECK_EVERY);
    await until(
      () => replicas.every((r) => (r.coordinator?.stateChecks.checked ?? 0) >= 1 || r.status().role === 3),
      "followers to compare at a checkpoint",
      30_000,
    );
    for (const r of replicas) {
      expect(r.status().alarms).toEqual([]);
      expect(r.coordinator!.stateChecks.diverged).toBe(0);
    }
  }, 60_000);

  it("raises DIVERGED on the replica whose state was made to differ, naming both replicas and the index", async () => {
    const leader = replicas.find((r) => r.status().role === 3)!;
    const follower = replicas.find((r) => r !== leader)!;
    const other = replicas.find((r) => r !== leader && r !== follower)!;
    // Deliberately different: a change no entry made.
    follower.coordinator!.machine.graph.setAttr("h1", "address", "tampered");
    await submit(2 * CHECK_EVERY);
    await until(() => follower.status().alarms.includes("DIVERGED"), "the DIVERGED alarm", 30_000);
    const d = follower.coordinator!.divergence!;
    expect(d.other).toBe(leader.id);
    expect(d.index % CHECK_EVERY).toBe(0);
    expect(d.mine).not.toBe(d.theirs);
    expect(follower.status().alarmDetails.join("\n")).toContain(`index ${d.index}`);
    const line = errors.find((e) => e.id === follower.id && e.line.includes('"alarm":"DIVERGED"'));
    expect(line?.line).toContain(`replica ${follower.id}`);
    expect(line?.line).toContain(`replica ${leader.id}`);
    const text = await metrics.get(follower.id)!.metrics();
    expect(text).toMatch(/^halon_state_divergences_total [1-9]/m);
    expect(text).toMatch(/^halon_state_diverged 1$/m);
    // The replicas that agree with the leader see nothing wrong.
    for (const r of [leader, other]) {
      expect(r.status().alarms).not.toContain("DIVERGED");
      expect(await metrics.get(r.id)!.metrics()).toMatch(/^halon_state_diverged 0$/m);
    }
    expect(other.coordinator!.stateChecks.checked).toBeGreaterThan(1);
  }, 60_000);
});
